"""The assistants' administration console: assistants, language models, usage figures.

An AI administrator manages the assistants of their own directions (`chat.selectors`); language
models are global and need `ai.change_languagemodel`. Every change is audited.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.db import transaction
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from ai.llm import LLMMessage, ProviderError, get_provider
from ai.models import LanguageModel
from chat import selectors, stats
from chat.forms import AssistantForm, LanguageModelForm
from chat.models import Assistant
from core import audit

logger = logging.getLogger(__name__)

MANAGE = "chat.change_assistant"
CREATE = "chat.add_assistant"
MODELS = "ai.change_languagemodel"
ADD_MODEL = "ai.add_languagemodel"

ASSISTANT_CHANGE = "chat.assistant_change"
MODEL_CHANGE = "ai.language_model_change"
TEST_PROMPT = "Réponds OK."

# Long texts (the system prompt) are cut in the audit log: it records that they changed.
_AUDIT_TEXT_CHARS = 500


# --- Assistants ------------------------------------------------------------------------------


@permission_required(MANAGE, raise_exception=True)
def console(request: HttpRequest) -> HttpResponse:
    assistants = list(
        selectors.managed_assistants(request.user)
        .annotate(collection_count=Count("collections", distinct=True))
        .order_by("name")
    )
    figures = stats.overview([a.pk for a in assistants], days=7)
    rows = [{"assistant": a, **figures[a.pk]} for a in assistants]
    return render(
        request,
        "chat/console/assistants.html",
        {
            "rows": rows,
            "can_create": request.user.has_perm(CREATE),
            "can_models": request.user.has_perm(MODELS),
        },
    )


def _snapshot(assistant: Assistant) -> dict[str, Any]:
    """The assistant's settings as JSON-safe values, to audit what a save changed."""
    values: dict[str, Any] = {}
    for name in AssistantForm.Meta.fields:
        field = Assistant._meta.get_field(name)
        if field.many_to_many:
            values[name] = sorted(getattr(assistant, name).values_list("pk", flat=True))
        elif field.is_relation:
            values[name] = getattr(assistant, field.attname)
        else:
            value = getattr(assistant, name)
            if isinstance(value, str) and len(value) > _AUDIT_TEXT_CHARS:
                value = value[:_AUDIT_TEXT_CHARS] + "…"
            values[name] = value
    return values


@transaction.atomic
def _save_assistant(request: HttpRequest, form: AssistantForm) -> Assistant:
    created = form.instance.pk is None
    before = {} if created else _snapshot(Assistant.objects.get(pk=form.instance.pk))
    assistant = form.save()
    after = _snapshot(assistant)
    changed = {k: v for k, v in after.items() if created or before.get(k) != v}
    details: dict[str, Any] = {"created": created, "changed": changed}
    if not created and "direction" in changed:
        details["previous_direction_id"] = before["direction"]
    audit.record(
        ASSISTANT_CHANGE,
        request=request,
        target=assistant,
        direction_id=assistant.direction_id,
        details=details,
    )
    return assistant


@permission_required((MANAGE, CREATE), raise_exception=True)
def assistant_create(request: HttpRequest) -> HttpResponse:
    form = AssistantForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        assistant = _save_assistant(request, form)
        messages.success(request, f"L'assistant « {assistant.name} » est créé.")
        return redirect("chat:assistant_edit", pk=assistant.pk)
    return render(request, "chat/console/assistant_form.html", {"form": form, "assistant": None})


@permission_required(MANAGE, raise_exception=True)
def assistant_edit(request: HttpRequest, pk: int) -> HttpResponse:
    assistant = selectors.get_managed_assistant(request.user, pk)
    form = AssistantForm(request.POST or None, instance=assistant, user=request.user)
    if request.method == "POST" and form.is_valid():
        assistant = _save_assistant(request, form)
        messages.success(request, "Les réglages de l'assistant sont enregistrés.")
        return redirect("chat:assistant_edit", pk=assistant.pk)
    return render(
        request, "chat/console/assistant_form.html", {"form": form, "assistant": assistant}
    )


def _bar_chart(per_day: list[dict], width: int = 960, height: int = 180) -> dict:
    """Geometry of the questions-per-day bars, in SVG user units (the SVG scales to its box).

    A left margin holds the scale (0 and the peak); a bottom one, three dates."""
    left, bottom = 40, 24
    plot = width - left
    top = max((row["count"] for row in per_day), default=0)
    scale = top or 1
    slot = plot / max(len(per_day), 1)
    gap = min(4.0, slot * 0.2)
    bars = []
    for i, row in enumerate(per_day):
        h = round(row["count"] / scale * height, 2)
        bars.append(
            {
                "x": round(left + i * slot + gap / 2, 2),
                "y": round(height - h, 2),
                "w": round(slot - gap, 2),
                "h": h,
                **row,
            }
        )
    labels = []
    if per_day:
        last = len(per_day) - 1
        for i, anchor in ((0, "start"), (last // 2, "middle"), (last, "end")):
            x = bars[i]["x"] + {"start": 0, "middle": bars[i]["w"] / 2, "end": bars[i]["w"]}[anchor]
            labels.append({"x": round(x, 2), "anchor": anchor, "date": per_day[i]["date"]})
    peak = max(per_day, key=lambda row: row["count"]) if top else None
    return {
        "width": width,
        "height": height,
        "left": left,
        "axis_x": left - 6,
        "total_height": height + bottom,
        "bars": bars,
        "labels": labels,
        "top": top,
        "peak": peak,
    }


@permission_required(MANAGE, raise_exception=True)
def assistant_stats(request: HttpRequest, pk: int) -> HttpResponse:
    assistant = selectors.get_managed_assistant(request.user, pk)
    try:
        days = int(request.GET.get("jours", stats.DEFAULT_PERIOD))
    except ValueError:
        days = stats.DEFAULT_PERIOD
    if days not in stats.PERIODS:
        days = stats.DEFAULT_PERIOD
    figures = stats.usage(assistant, days)
    return render(
        request,
        "chat/console/assistant_stats.html",
        {
            "assistant": assistant,
            "figures": figures,
            "chart": _bar_chart(figures["per_day"]),
            "periods": stats.PERIODS,
        },
    )


# --- Language models -------------------------------------------------------------------------


@permission_required(MODELS, raise_exception=True)
def model_list(request: HttpRequest) -> HttpResponse:
    models = LanguageModel.objects.annotate(assistant_count=Count("assistants")).order_by("name")
    return render(
        request,
        "chat/console/models.html",
        {"models": models, "can_create": request.user.has_perm(ADD_MODEL)},
    )


@transaction.atomic
def _save_model(request: HttpRequest, form: LanguageModelForm) -> LanguageModel:
    created = form.instance.pk is None
    key_action = form.key_action
    model = form.save()
    changed = {
        name: form.cleaned_data[name]
        for name in form.changed_data
        if name in LanguageModelForm.Meta.fields
    }
    # Only what happened to the key is recorded, never the key itself.
    details = {
        "created": created,
        "changed": {
            k: v if isinstance(v, bool | int | float | str) else str(v) for k, v in changed.items()
        },
        "api_key": {"set": "saisie", "clear": "supprimée"}.get(key_action, "inchangée"),
    }
    audit.record(MODEL_CHANGE, request=request, target=model, details=details)
    return model


@permission_required((MODELS, ADD_MODEL), raise_exception=True)
def model_create(request: HttpRequest) -> HttpResponse:
    form = LanguageModelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        model = _save_model(request, form)
        messages.success(request, f"Le modèle « {model.name} » est enregistré.")
        return redirect("chat:model_edit", pk=model.pk)
    return render(request, "chat/console/model_form.html", {"form": form, "model": None})


@permission_required(MODELS, raise_exception=True)
def model_edit(request: HttpRequest, pk: int) -> HttpResponse:
    model = get_object_or_404(LanguageModel, pk=pk)
    form = LanguageModelForm(request.POST or None, instance=model)
    if request.method == "POST" and form.is_valid():
        model = _save_model(request, form)
        messages.success(request, "Le modèle de langage est enregistré.")
        return redirect("chat:model_edit", pk=model.pk)
    # A failed submission has touched `model` (the form's instance): show the stored state.
    stored = LanguageModel.objects.get(pk=pk)
    return render(
        request,
        "chat/console/model_form.html",
        {"form": form, "model": stored, "assistants": stored.assistants.order_by("name")},
    )


@permission_required(MODELS, raise_exception=True)
@require_POST
def model_test(request: HttpRequest, pk: int) -> HttpResponse:
    """Send one tiny prompt through the model, in the request, with the model's own timeout."""
    model = get_object_or_404(LanguageModel, pk=pk)
    if model.provider == LanguageModel.Provider.EXTRACTIVE:
        messages.info(request, "Le mode extractif n'appelle aucun modèle : il n'y a rien à tester.")
        return redirect("chat:model_edit", pk=pk)
    details: dict[str, Any] = {
        "purpose": "test",
        "provider": model.provider,
        "model": model.model,
    }
    try:
        result = get_provider(model).complete([LLMMessage("user", TEST_PROMPT)], max_tokens=5)
    except ProviderError as exc:
        logger.warning("Test du modèle de langage %s : échec (%s)", model.pk, exc)
        details.update(outcome="error", error=str(exc)[:300])
        messages.error(request, f"Échec du test : {exc.user_message}")
    else:
        details.update(
            outcome="answered",
            prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens,
            latency_ms=result.latency_ms,
        )
        answer = (result.text or "").strip()[:200] or "(réponse vide)"
        messages.success(
            request,
            f"Le modèle répond : « {answer} » (en {result.latency_ms} ms).",
        )
    audit.record(audit.MODEL_CALL, request=request, target=model, details=details)
    return redirect("chat:model_edit", pk=pk)
