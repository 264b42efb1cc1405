"""django-q2 entry points of the chat app."""

from __future__ import annotations

from chat import services


def purge_public_conversations() -> int:
    return services.purge_public_conversations()
