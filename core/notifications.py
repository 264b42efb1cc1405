"""Notifications: a line in the portal's « Notifications » page for each person, and the same
message by e-mail. One person's mail server refusing a message never stops the others: the
failure is logged for the administrator and the in-app notification stays."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings
from django.core.mail import send_mail
from django.db.models import QuerySet
from django.utils import timezone

from core.models import Notification, User

logger = logging.getLogger(__name__)


def notify(
    users: Iterable[User], *, title: str, body: str = "", url: str = "", email: bool = True
) -> list[Notification]:
    """Notify each of `users` (active ones) in the portal and, with `email`, by e-mail."""
    people = [u for u in users if u.is_active]
    created = Notification.objects.bulk_create(
        [Notification(user=u, title=title[:200], body=body, url=url[:500]) for u in people]
    )
    if email:
        link = f"\n\n{settings.SITE_URL.rstrip('/')}{url}" if url else ""
        for user in people:
            if not user.email:
                continue
            try:
                send_mail(
                    f"[{settings.CITY_NAME} – Intranet] {title}",
                    f"{body}{link}",
                    settings.DEFAULT_FROM_EMAIL,
                    [user.email],
                )
            except Exception:
                logger.exception("Notification « %s » : envoi à %s impossible", title, user.email)
    return created


def for_user(user) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user)


def unread_count(user) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def mark_all_read(user) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).update(
        read_at=timezone.now()
    )
