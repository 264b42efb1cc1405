"""The audit log service: the only writer of `AuditEvent`."""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from django.conf import settings
from django.db import models
from django.http import HttpRequest

from core.models import AuditEvent

logger = logging.getLogger("core.audit")

LOGIN = "auth.login"
LOGOUT = "auth.logout"
LOGIN_FAILED = "auth.login_failed"
PERMISSION_DENIED = "access.permission_denied"
ACCESS_DENIED = "access.object_denied"
MODEL_CALL = "ai.model_call"

ACTION_LABELS: dict[str, str] = {
    LOGIN: "Connexion",
    LOGOUT: "Déconnexion",
    LOGIN_FAILED: "Échec de connexion",
    PERMISSION_DENIED: "Accès refusé (droits)",
    ACCESS_DENIED: "Accès refusé (objet d'une autre direction)",
    "announcement.publish": "Publication d'une actualité",
    "announcement.update": "Modification d'une actualité",
    MODEL_CALL: "Appel à un modèle de langage",
    "chat.answer": "Réponse d'un assistant",
    "chat.assistant_change": "Modification d'un assistant",
    "chat.procedure_import": "Import de démarches en ligne",
    "api.token_issued": "Jeton d'API délivré",
    "ai.language_model_change": "Modification d'un modèle de langage",
    "api.token_revoked": "Jeton d'API révoqué",
    "chat.procedure_change": "Modification d'une démarche en ligne",
    "chat.procedure_delete": "Suppression d'une démarche en ligne",
}


def client_ip(request: HttpRequest | None) -> str | None:
    """The client's address; behind the city's reverse proxy, the address it forwarded."""
    if request is None:
        return None
    candidate = request.META.get("REMOTE_ADDR", "")
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            # The last hop is the one our own proxy appended; earlier ones are client-supplied.
            candidate = forwarded.split(",")[-1].strip()
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


def record(
    action: str,
    *,
    request: HttpRequest | None = None,
    actor: Any = None,
    actor_label: str = "",
    target: models.Model | None = None,
    direction_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Write one audit event; `actor` defaults to the request's user."""
    if actor is None and request is not None:
        actor = getattr(request, "user", None)
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    if actor is not None and not actor_label:
        # Agents know each other by e-mail; usernames are internal (or the directory's).
        actor_label = actor.email or actor.get_username()
    if details is None:
        details = {}
    if request is not None:
        details.setdefault("path", request.path[:500])
    event = AuditEvent.objects.create(
        actor=actor,
        actor_label=actor_label[:254],
        action=action,
        object_type=target._meta.label if target is not None else "",
        object_id=str(target.pk) if target is not None else "",
        object_label=str(target)[:255] if target is not None else "",
        direction_id=direction_id,
        ip_address=client_ip(request),
        details=details,
    )
    logger.info(
        "audit action=%s actor=%s object=%s:%s ip=%s",
        action,
        actor_label or "-",
        event.object_type or "-",
        event.object_id or "-",
        event.ip_address or "-",
    )
    return event
