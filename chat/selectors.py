"""Reads of the chat app; every selector takes the requesting user.

Who may use an assistant is its audience; what it may answer from is, on top of that, what
the user may read (ai.retrieval applies core.access on every query).
"""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import Http404

from chat.models import Assistant, Conversation, Message, Procedure
from core import access
from core.models import Direction

NOT_FOUND = "Aucun assistant ne correspond à la demande."


def _member_and_parent_ids(user) -> set[int]:
    """The user's directions and every direction above them: an assistant opened to a
    direction is opened to its services."""
    ids = set(access.member_direction_ids(user))
    if not ids:
        return ids
    parents = dict(Direction.objects.values_list("pk", "parent_id"))
    for pk in list(ids):
        parent = parents.get(pk)
        while parent is not None and parent not in ids:
            ids.add(parent)
            parent = parents.get(parent)
    return ids


def usable_assistants(user) -> QuerySet[Assistant]:
    """Active assistants whose audience includes the user (anonymous: public ones only)."""
    qs = Assistant.objects.filter(is_active=True).select_related("direction", "language_model")
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return qs.filter(audience=Assistant.Audience.PUBLIC)
    if user.is_superuser:
        return qs
    audience = (
        Q(audience__in=[Assistant.Audience.PUBLIC, Assistant.Audience.AGENTS])
        | Q(
            audience=Assistant.Audience.DIRECTIONS,
            audience_directions__in=_member_and_parent_ids(user),
        )
        | Q(audience=Assistant.Audience.GROUPS, audience_groups__in=user.groups.all())
    )
    return qs.filter(audience).distinct()


def get_usable_assistant(user, slug: str) -> Assistant:
    assistant = usable_assistants(user).filter(slug=slug).first()
    if assistant is None:
        raise Http404(NOT_FOUND)
    return assistant


def user_conversations(user, assistant: Assistant | None = None) -> QuerySet[Conversation]:
    """The agent's own conversations (nobody reads another agent's)."""
    if not getattr(user, "is_authenticated", False):
        return Conversation.objects.none()
    # A conversation with an assistant the user may no longer use is not listed.
    qs = Conversation.objects.filter(
        user=user, assistant__in=usable_assistants(user).values("pk")
    ).select_related("assistant")
    return qs.filter(assistant=assistant) if assistant is not None else qs


def session_conversations(session_key: str | None, assistant: Assistant) -> QuerySet[Conversation]:
    if not session_key:
        return Conversation.objects.none()
    return Conversation.objects.filter(
        user=None, session_key=session_key, assistant=assistant
    ).order_by("-updated_at")


def get_conversation(user, pk, *, session_key: str | None = None) -> Conversation:
    """One of the requester's conversations with an assistant they may still use, or 404."""
    if not str(pk).isdigit():  # a hand-edited form or URL: nothing to find, not a crash
        raise Http404("Aucune conversation ne correspond à la demande.")
    qs = Conversation.objects.select_related("assistant")
    if getattr(user, "is_authenticated", False):
        conversation = qs.filter(pk=pk, user=user).first()
    else:
        conversation = (
            qs.filter(pk=pk, user=None, session_key=session_key).first() if session_key else None
        )
    if (
        conversation is None
        or not usable_assistants(user).filter(pk=conversation.assistant_id).exists()
    ):
        raise Http404("Aucune conversation ne correspond à la demande.")
    return conversation


def get_message(user, pk, *, session_key: str | None = None) -> Message:
    message = Message.objects.select_related("conversation").filter(pk=pk).first()
    if message is None:
        raise Http404("Aucun message ne correspond à la demande.")
    get_conversation(user, message.conversation_id, session_key=session_key)
    return message


def conversation_digest(user, pk) -> tuple[Conversation, list[str], list[str]]:
    """One of the user's conversations as another module needs it (a ticket opened from the
    helpdesk assistant): what the user wrote, in order, and the titles of the documents the
    answers proposed, without repeats. 404 when it is not the user's."""
    conversation = get_conversation(user, pk)
    said, proposed = [], []
    for message in conversation.messages.order_by("created_at", "pk"):
        if message.role == Message.Role.USER:
            said.append(message.content.strip())
        else:
            for source in message.sources or []:
                title = source.get("title", "")
                if title and title not in proposed and source.get("cited", True):
                    proposed.append(title)
    return conversation, [s for s in said if s], proposed


def managed_assistants(user) -> QuerySet[Assistant]:
    """Assistants the user administers: the role allows it, on their directions."""
    if not user.has_perm("chat.change_assistant"):
        return Assistant.objects.none()
    qs = Assistant.objects.select_related("direction", "language_model")
    if user.is_superuser:
        return qs
    return qs.filter(direction_id__in=access.writable_direction_ids(user))


def get_managed_assistant(user, pk) -> Assistant:
    assistant = managed_assistants(user).filter(pk=pk).first()
    if assistant is None:
        raise Http404(NOT_FOUND)
    return assistant


def active_procedures() -> QuerySet[Procedure]:
    """The public catalogue: the same for everyone, citizens included."""
    return Procedure.objects.filter(is_active=True).select_related("direction")
