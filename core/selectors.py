"""Reads of the core app; every selector takes the requesting user."""

from __future__ import annotations

from datetime import date, datetime, time

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from core import access
from core.models import Announcement, AuditEvent, Direction, Membership


def user_directions(user) -> list[Direction]:
    """The active directions the user belongs to, for the header."""
    ids = access.member_direction_ids(user)
    return list(Direction.objects.filter(pk__in=ids).order_by("name"))


def announcements_for(user, *, direction: Direction | None = None) -> QuerySet[Announcement]:
    """News items the user may read, newest first."""
    qs = Announcement.objects.select_related("direction", "author")
    if direction is not None:
        qs = qs.filter(direction=direction)
    return access.filter_visible(user, qs)


def directory_tree(user) -> list[tuple[Direction, int]]:
    """Active directions in chart order, each with its depth, for the city directory.

    The organisation chart itself is internal information: any agent may read it.
    """
    if not user.is_authenticated:
        return []
    directions = list(
        Direction.objects.filter(active=True).annotate(
            member_count=Count("memberships", filter=Q(memberships__user__is_active=True))
        )
    )
    children: dict[int | None, list[Direction]] = {}
    for d in directions:
        children.setdefault(d.parent_id, []).append(d)
    for siblings in children.values():
        siblings.sort(key=lambda d: (d.RANK[d.kind], d.name))
    known = {d.pk for d in directions}
    roots = [d for d in directions if d.parent_id is None or d.parent_id not in known]
    roots.sort(key=lambda d: (d.RANK[d.kind], d.name))
    ordered: list[tuple[Direction, int]] = []

    def walk(node: Direction, depth: int) -> None:
        ordered.append((node, depth))
        for child in children.get(node.pk, []):
            walk(child, depth + 1)

    for root in roots:
        walk(root, 0)
    return ordered


def direction_members(user, direction: Direction) -> QuerySet[Membership]:
    """Active agents of a direction (the directory is internal to the city)."""
    if not user.is_authenticated:
        return Membership.objects.none()
    return (
        Membership.objects.filter(direction=direction, user__is_active=True)
        .select_related("user")
        .prefetch_related(Prefetch("user__groups"))
        .order_by("-is_head", "user__last_name", "user__first_name")
    )


def audit_events(
    user,
    *,
    action: str = "",
    actor: str = "",
    direction: Direction | None = None,
    since: date | None = None,
    until: date | None = None,
) -> QuerySet[AuditEvent]:
    """The audit log, filtered, for users whose role may read it (else nothing)."""
    if not user.has_perm("core.view_auditevent"):
        return AuditEvent.objects.none()
    qs = AuditEvent.objects.select_related("actor", "direction")
    if action:
        qs = qs.filter(action=action)
    if actor:
        qs = qs.filter(actor_label__icontains=actor)
    if direction is not None:
        qs = qs.filter(direction=direction)
    tz = timezone.get_current_timezone()
    if since:
        qs = qs.filter(created_at__gte=datetime.combine(since, time.min, tzinfo=tz))
    if until:
        qs = qs.filter(created_at__lte=datetime.combine(until, time.max, tzinfo=tz))
    return qs


def audit_actions() -> list[str]:
    return list(AuditEvent.objects.order_by().values_list("action", flat=True).distinct())
