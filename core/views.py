"""HTML views of the portal: thin, they parse, call a selector or service, render."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core import access, audit, selectors, services
from core.forms import AnnouncementForm, AuditFilterForm
from core.models import Announcement, Direction

logger = logging.getLogger(__name__)


def home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "core/home.html",
        {"announcements": selectors.announcements_for(request.user)[:6]},
    )


@permission_required("core.view_direction", raise_exception=True)
def directory(request: HttpRequest) -> HttpResponse:
    return render(request, "core/directory.html", {"tree": selectors.directory_tree(request.user)})


@permission_required("core.view_direction", raise_exception=True)
def direction_detail(request: HttpRequest, code: str) -> HttpResponse:
    direction = get_object_or_404(Direction, code=code, active=True)
    return render(
        request,
        "core/direction_detail.html",
        {
            "direction": direction,
            "members": selectors.direction_members(request.user, direction),
            "announcements": selectors.announcements_for(request.user, direction=direction)[:10],
            "children": direction.children.filter(active=True).order_by("name"),
        },
    )


@permission_required("core.view_announcement", raise_exception=True)
def announcement_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.announcements_for(request.user), 20).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "core/announcement_list.html",
        {"page": page, "can_publish": request.user.has_perm("core.add_announcement")},
    )


@permission_required("core.view_announcement", raise_exception=True)
def announcement_detail(request: HttpRequest, pk: int) -> HttpResponse:
    announcement = access.get_visible_or_404(
        request.user, Announcement.objects.select_related("direction"), request=request, pk=pk
    )
    return render(
        request,
        "core/announcement_detail.html",
        {"announcement": announcement, "can_edit": access.can_write(request.user, announcement)},
    )


@permission_required("core.add_announcement", raise_exception=True)
def announcement_create(request: HttpRequest) -> HttpResponse:
    form = AnnouncementForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        announcement = services.publish_announcement(author=request.user, **form.cleaned_data)
        messages.success(request, "L'actualité est publiée.")
        return redirect("core:announcement_detail", pk=announcement.pk)
    return render(request, "core/announcement_form.html", {"form": form, "creating": True})


@permission_required("core.change_announcement", raise_exception=True)
def announcement_edit(request: HttpRequest, pk: int) -> HttpResponse:
    announcement = access.get_visible_or_404(request.user, Announcement, request=request, pk=pk)
    if not access.can_write(request.user, announcement):
        raise PermissionDenied("Cette actualité appartient à une autre direction.")
    form = AnnouncementForm(request.POST or None, instance=announcement, user=request.user)
    if request.method == "POST" and form.is_valid():
        services.update_announcement(
            user=request.user, announcement=announcement, **form.cleaned_data
        )
        messages.success(request, "L'actualité est modifiée.")
        return redirect("core:announcement_detail", pk=announcement.pk)
    return render(
        request,
        "core/announcement_form.html",
        {"form": form, "creating": False, "announcement": announcement},
    )


@permission_required("core.view_auditevent", raise_exception=True)
def audit_log(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(
        request.GET or None, actions=selectors.audit_actions(), labels=audit.ACTION_LABELS
    )
    filters = form.cleaned_data if form.is_bound and form.is_valid() else {}
    events = selectors.audit_events(request.user, **{k: v for k, v in filters.items() if v})
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "core/audit_log.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
        },
    )


@login_not_required
@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """Liveness and database check for the city's monitoring (public, no data)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        logger.exception("health check: database unreachable")
        return JsonResponse({"status": "erreur", "database": "injoignable"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})


def permission_denied(request: HttpRequest, exception=None) -> HttpResponse:
    """403 page; the refusal is written to the audit log."""
    audit.record(
        audit.PERMISSION_DENIED,
        request=request,
        details={"reason": str(exception)[:300] if exception else ""},
    )
    return render(request, "403.html", status=403)


def notification_list(request: HttpRequest) -> HttpResponse:
    """The person's notifications, newest first; « Tout marquer comme lu »."""
    from core import notifications

    if request.method == "POST":
        notifications.mark_all_read(request.user)
        return redirect("core:notifications")
    page = Paginator(notifications.for_user(request.user), 30).get_page(request.GET.get("page"))
    return render(request, "core/notifications.html", {"page": page})
