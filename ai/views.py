"""Pages of the AI layer: the agents' search, document views, and the administration console."""

from __future__ import annotations

import mimetypes

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_POST
from guardian.shortcuts import get_groups_with_perms, get_users_with_perms

from ai import selectors, services
from ai.forms import (
    CollectionAccessForm,
    CollectionForm,
    SearchForm,
    ShareForm,
    SourceForm,
    UploadForm,
    ViewAsForm,
)
from ai.models import Chunk, Document, IndexOp, Source
from ai.retrieval import AccessRefused, SearchFilters, search
from core import access, audit

MANAGE = "ai.change_collection"


# --- Agents ----------------------------------------------------------------------------------


def search_page(request: HttpRequest) -> HttpResponse:
    collections = list(selectors.visible_collections(request.user).order_by("name"))
    formats = sorted(
        f
        for f in selectors.visible_documents(request.user)
        .exclude(format="")
        .values_list("format", flat=True)
        .distinct()
        .order_by()
    )
    form = SearchForm(request.GET or None, collections=collections, formats=formats)
    results, error = [], ""
    if form.is_bound and form.is_valid() and form.cleaned_data["q"]:
        d = form.cleaned_data
        filters = SearchFilters(
            collection_ids=[int(pk) for pk in d["collection"]],
            formats=list(d["format"]),
            since=d["since"],
            until=d["until"],
        )
        try:
            results = search(request.user, d["q"], filters=filters, limit=20, per_document=True)
        except AccessRefused as exc:
            error = str(exc)
    # Hybrid search always returns its top k; weak matches are set apart, not mixed in.
    relevant = [r for r in results if r.relevant]
    weak = [r for r in results if not r.relevant]
    return render(
        request,
        "ai/search.html",
        {
            "form": form,
            "results": relevant,
            "weak_results": weak,
            "error": error,
            "searched": bool(form.is_bound),
        },
    )


def document_view(request: HttpRequest, pk: int) -> HttpResponse:
    document = selectors.get_document(request.user, pk, request=request)
    page = request.GET.get("page", "")
    chunks = document.chunks.order_by("page", "order")
    pages: dict[int, list[Chunk]] = {}
    for chunk in chunks:
        pages.setdefault(chunk.page, []).append(chunk)
    return render(
        request,
        "ai/document.html",
        {
            "document": document,
            "pages": sorted(pages.items()),
            "page": page,
            "is_pdf": document.format == "pdf" and bool(document.file),
            "is_web": document.source.kind == Source.Kind.WEBSITE,
        },
    )


@xframe_options_sameorigin
def document_download(request: HttpRequest, pk: int) -> FileResponse:
    """The source file, through the same access check as the document itself."""
    document = selectors.get_document(request.user, pk, request=request)
    if not document.file:
        raise Http404("Le fichier d'origine n'est pas conservé pour ce document.")
    inline = request.GET.get("inline") == "1"
    content_type = mimetypes.guess_type(document.filename or document.file.name)[0]
    audit.record(
        "ai.document.download",
        request=request,
        target=document,
        direction_id=document.collection.direction_id,
    )
    return FileResponse(
        document.file.open("rb"),
        as_attachment=not inline,
        filename=document.filename or "document",
        content_type=content_type or "application/octet-stream",
    )


# --- Console ---------------------------------------------------------------------------------


@permission_required(MANAGE, raise_exception=True)
def console(request: HttpRequest) -> HttpResponse:
    collections = selectors.managed_collections(request.user).annotate(
        failed=Count("documents", filter=Q(documents__status=Document.Status.FAILED))
    )
    form = CollectionForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        collection = services.create_collection(user=request.user, **form.cleaned_data)
        messages.success(request, "La base de connaissances est créée.")
        return redirect("ai:collection", pk=collection.pk)
    # Figures of the collections this administrator manages, not of the other directions';
    # pending deletions carry no direction, so only a superuser sees them counted.
    managed = selectors.managed_collections(request.user).values("pk")
    chunks = Chunk.objects.filter(collection__in=managed)
    documents = Document.objects.filter(collection__in=managed)
    stats = {
        "chunks": chunks.count(),
        "pending": chunks.filter(synced=False).count()
        + (IndexOp.objects.count() if request.user.is_superuser else 0),
        "documents": documents.count(),
        "failed": documents.filter(status=Document.Status.FAILED).count(),
    }
    return render(
        request, "ai/console.html", {"collections": collections, "form": form, "stats": stats}
    )


@permission_required(MANAGE, raise_exception=True)
def collection_detail(request: HttpRequest, pk: int) -> HttpResponse:
    collection = selectors.get_managed_collection(request.user, pk)
    access_form = CollectionAccessForm(
        initial={"direction": collection.direction, "visibility": collection.visibility},
        user=request.user,
    )
    source_form = SourceForm(prefix="src")
    share_form = ShareForm(prefix="share")
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "access":
            access_form = CollectionAccessForm(request.POST, user=request.user)
            if access_form.is_valid():
                services.update_collection_access(
                    user=request.user, collection=collection, **access_form.cleaned_data
                )
                messages.success(request, "Les droits d'accès sont mis à jour.")
                return redirect("ai:collection", pk=pk)
        elif action == "source":
            source_form = SourceForm(request.POST, prefix="src")
            if source_form.is_valid():
                try:
                    source = services.create_source(
                        user=request.user,
                        collection=collection,
                        name=source_form.cleaned_data["name"],
                        kind=source_form.cleaned_data["kind"],
                        config=source_form.config(),
                        schedule_minutes=source_form.cleaned_data["schedule_minutes"],
                    )
                except ValidationError as exc:
                    source_form.add_error(None, exc.messages[0])
                else:
                    messages.success(request, "La source est ajoutée.")
                    return redirect("ai:source", pk=source.pk)
        elif action in ("share", "unshare"):
            share_form = ShareForm(request.POST, prefix="share")
            if share_form.is_valid():
                fn = services.share_collection if action == "share" else services.unshare_collection
                fn(
                    user=request.user,
                    collection=collection,
                    with_whom=share_form.cleaned_data["target"],
                )
                messages.success(request, "Le partage est mis à jour.")
                return redirect("ai:collection", pk=pk)
    return render(
        request,
        "ai/collection.html",
        {
            "collection": collection,
            "sources": collection.sources.annotate(n=Count("documents")),
            "access_form": access_form,
            "source_form": source_form,
            "share_form": share_form,
            "shared_users": get_users_with_perms(
                collection, only_with_perms_in=["view_collection"], with_superusers=False
            ),
            "shared_groups": get_groups_with_perms(collection),
        },
    )


@permission_required(MANAGE, raise_exception=True)
def source_detail(request: HttpRequest, pk: int) -> HttpResponse:
    source = selectors.get_managed_source(request.user, pk)
    upload_form = UploadForm()
    if request.method == "POST" and source.kind == Source.Kind.UPLOAD:
        upload_form = UploadForm(request.POST, request.FILES)
        if upload_form.is_valid():
            docs = services.add_uploads(
                user=request.user, source=source, files=upload_form.cleaned_data["files"]
            )
            services.start_run(source, user=request.user)
            messages.success(
                request, f"{len(docs)} fichier(s) déposé(s) ; l'indexation est lancée."
            )
            return redirect("ai:source", pk=pk)
    status = request.GET.get("etat", "")
    documents = source.documents.order_by("status", "title")
    if status:
        documents = documents.filter(status=status)
    page = Paginator(documents, 50).get_page(request.GET.get("page"))
    runs = list(source.runs.all()[:10])
    return render(
        request,
        "ai/source.html",
        {
            "source": source,
            "runs": [(run, selectors.run_counts(run)) for run in runs],
            "page": page,
            "status": status,
            "statuses": Document.Status.choices,
            "upload_form": upload_form,
            "max_mb": services.max_bytes() // 1_048_576,
        },
    )


@permission_required(MANAGE, raise_exception=True)
@require_POST
def source_run(request: HttpRequest, pk: int) -> HttpResponse:
    source = selectors.get_managed_source(request.user, pk)
    services.start_run(source, user=request.user)
    messages.success(request, "L'indexation est lancée ; la progression s'affiche ci-dessous.")
    return redirect("ai:source", pk=pk)


@permission_required(MANAGE, raise_exception=True)
def run_progress(request: HttpRequest, pk: int) -> JsonResponse:
    run = selectors.get_managed_run(request.user, pk)
    counts = selectors.run_counts(run)
    return JsonResponse(
        {
            "status": run.status,
            "status_label": run.get_status_display(),
            "error": run.error,
            **counts,
            "percent": round(100 * counts["done"] / run.total) if run.total else 100,
        }
    )


@permission_required(MANAGE, raise_exception=True)
@require_POST
def document_retry(request: HttpRequest, pk: int) -> HttpResponse:
    document = selectors.get_managed_document(request.user, pk)
    services.retry_document(user=request.user, document=document)
    messages.success(request, f"Nouvel essai lancé pour « {document} ».")
    return redirect("ai:source", pk=document.source_id)


@permission_required("ai.view_as", raise_exception=True)
def view_as(request: HttpRequest) -> HttpResponse:
    """Run a search as another agent, to check what they would see (audited).

    Results the administrator may not read themselves are masked: checking rights must not
    become a way around them.
    """
    form = ViewAsForm(request.GET or None)
    rows, error = [], ""
    if form.is_bound and form.is_valid():
        as_user = form.cleaned_data["as_user"]
        audit.record(
            "ai.view_as",
            request=request,
            details={"as": as_user.email, "query": form.cleaned_data["q"][:200]},
        )
        try:
            results = search(as_user, form.cleaned_data["q"], limit=20)
        except AccessRefused as exc:
            results, error = [], str(exc)
        for result in results:
            collection = result.document.collection
            rows.append(
                {
                    "result": result,
                    "collection": collection,
                    "masked": not access.can_view(request.user, collection),
                }
            )
    return render(request, "ai/view_as.html", {"form": form, "rows": rows, "error": error})
