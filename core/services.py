"""Writes of the core app, each in a transaction."""

from __future__ import annotations

import logging

from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from core import access, audit
from core.models import Announcement, Direction, Visibility
from core.roles import ROLE_PERMISSIONS

logger = logging.getLogger(__name__)


@transaction.atomic
def sync_roles(using: str = "default") -> list[Group]:
    """Create the role groups and give them their permissions (idempotent).

    Permissions of apps that are not installed yet are skipped, so roles can list the
    permissions of modules that later issues add.
    """
    groups = []
    for name, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.using(using).get_or_create(name=name)
        wanted = []
        for perm in perms:
            app_label, codename = perm.split(".", 1)
            found = Permission.objects.using(using).filter(
                content_type__app_label=app_label, codename=codename
            )
            if found:
                wanted.extend(found)
            else:
                logger.debug("role %s: permission %s not installed yet", name, perm)
        current = set(group.permissions.values_list("pk", flat=True))
        if current != {p.pk for p in wanted}:
            group.permissions.set(wanted)
        groups.append(group)
    return groups


@transaction.atomic
def publish_announcement(
    *,
    author,
    direction: Direction,
    title: str,
    body: str,
    visibility: str = Visibility.DIRECTION,
) -> Announcement:
    """Publish a news item in the name of one of the author's directions."""
    if not author.has_perm("core.add_announcement"):
        raise PermissionDenied("Votre rôle ne permet pas de publier des actualités.")
    if not author.is_superuser and direction.pk not in access.writable_direction_ids(author):
        raise PermissionDenied("Vous ne pouvez publier qu'au nom de votre direction.")
    announcement = Announcement.objects.create(
        author=author,
        direction=direction,
        title=title.strip(),
        body=body.strip(),
        visibility=visibility,
        published_at=timezone.now(),
    )
    audit.record(
        "announcement.publish", actor=author, target=announcement, direction_id=direction.pk
    )
    return announcement


@transaction.atomic
def update_announcement(*, user, announcement: Announcement, **fields) -> Announcement:
    """Edit a news item; the new direction, if any, must also be one of the user's."""
    if not access.can_write(user, announcement):
        raise PermissionDenied("Vous ne pouvez pas modifier cette actualité.")
    new_direction = fields.get("direction")
    if (
        new_direction is not None
        and not user.is_superuser
        and new_direction.pk not in access.writable_direction_ids(user)
    ):
        raise PermissionDenied("Vous ne pouvez publier qu'au nom de votre direction.")
    for name, value in fields.items():
        setattr(announcement, name, value)
    announcement.full_clean()
    announcement.save()
    audit.record(
        "announcement.update",
        actor=user,
        target=announcement,
        direction_id=announcement.direction_id,
        details={"fields": sorted(fields)},
    )
    return announcement
