"""Console pages of the procedures catalogue (démarches en ligne of the citizen portal).

One public catalogue shared by every direction: the model permission is the whole rule.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import urlencode

from chat import procedures
from chat.models import Procedure
from chat.procedure_forms import (
    MatchTestForm,
    ProcedureForm,
    ProcedureImportForm,
    ProcedureSearchForm,
)

MANAGE = "chat.change_procedure"


@permission_required(MANAGE, raise_exception=True)
def procedure_list(request: HttpRequest) -> HttpResponse:
    form = ProcedureSearchForm(request.GET or None)
    qs = Procedure.objects.select_related("direction").order_by("title")
    query = ""
    if form.is_valid():
        q = form.cleaned_data["q"].strip()
        if q:
            qs = qs.filter(
                Q(title__icontains=q)
                | Q(keywords__icontains=q)
                | Q(description__icontains=q)
                | Q(url__icontains=q)
            )
        etat = form.cleaned_data["etat"]
        if etat:
            qs = qs.filter(is_active=etat == "en-ligne")
        query = urlencode({k: v for k, v in form.cleaned_data.items() if v})
    test_form = MatchTestForm(request.GET or None)
    test = None
    if test_form.is_valid() and test_form.cleaned_data["essai"].strip():
        matches = procedures.match_procedures(test_form.cleaned_data["essai"], limit=3)
        test = {"matches": matches, "clarify": procedures.needs_clarification(matches)}
    return render(
        request,
        "chat/procedures/list.html",
        {
            "form": form,
            "test_form": test_form,
            "test": test,
            "page": Paginator(qs, 50).get_page(request.GET.get("page")),
            "query": query,
            "total": Procedure.objects.count(),
        },
    )


@permission_required(MANAGE, raise_exception=True)
def procedure_create(request: HttpRequest) -> HttpResponse:
    form = ProcedureForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        procedure = procedures.save_procedure(form.save(commit=False), user=request.user)
        messages.success(request, f"La démarche « {procedure.title} » est ajoutée.")
        return redirect("chat:procedures")
    return render(request, "chat/procedures/form.html", {"form": form, "procedure": None})


@permission_required(MANAGE, raise_exception=True)
def procedure_edit(request: HttpRequest, pk: int) -> HttpResponse:
    procedure = get_object_or_404(Procedure, pk=pk)
    form = ProcedureForm(request.POST or None, instance=procedure)
    if request.method == "POST" and form.is_valid():
        procedures.save_procedure(form.save(commit=False), user=request.user)
        messages.success(request, f"La démarche « {procedure.title} » est enregistrée.")
        return redirect("chat:procedures")
    return render(request, "chat/procedures/form.html", {"form": form, "procedure": procedure})


@permission_required(MANAGE, raise_exception=True)
def procedure_delete(request: HttpRequest, pk: int) -> HttpResponse:
    procedure = get_object_or_404(Procedure, pk=pk)
    if request.method == "POST":
        title = procedure.title
        procedures.delete_procedure(procedure, user=request.user)
        messages.success(request, f"La démarche « {title} » est supprimée.")
        return redirect("chat:procedures")
    return render(request, "chat/procedures/delete.html", {"procedure": procedure})


@permission_required(MANAGE, raise_exception=True)
def procedure_import(request: HttpRequest) -> HttpResponse:
    form = ProcedureImportForm()
    report, error = None, ""
    if request.method == "POST":
        form = ProcedureImportForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                report = procedures.import_procedures_csv(upload.read(), user=request.user)
            except procedures.ProcedureImportError as exc:
                error = exc.message
            else:
                form = ProcedureImportForm()
    return render(
        request,
        "chat/procedures/import.html",
        {"form": form, "report": report, "error": error},
    )
