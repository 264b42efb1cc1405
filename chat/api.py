"""REST API of the assistants: same selectors, services and access rules as the chat pages.

An assistant outside the user's audience, or a conversation of somebody else, is a 404. A
question is answered at once (JSON), or streamed as server-sent events with `?stream=1` or
`Accept: text/event-stream`. Clients authenticate with the session, `Authorization: Token <key>`
or `Authorization: Bearer <key>` (keys made by `manage.py api_token`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator

from django.http import StreamingHttpResponse
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from chat import selectors, services
from chat.models import Conversation, Message
from chat.serializers import (
    AssistantSerializer,
    ConversationCreateSerializer,
    ConversationDetailSerializer,
    ConversationSerializer,
    ErrorSerializer,
    FeedbackSerializer,
    MessageSerializer,
    QuestionSerializer,
)
from core.api import ApiAuthMixin

logger = logging.getLogger(__name__)

STREAM_ERROR = "La réponse n'a pas pu être produite. Réessayez dans un instant."
EVENT_STREAM = "text/event-stream"


class BearerTokenAuthentication(TokenAuthentication):
    """The same keys as `Token`, sent the way OpenAI-style clients send theirs."""

    keyword = "Bearer"


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """The Bearer scheme in the OpenAPI schema (beside DRF's own `tokenAuth`)."""

    target_class = BearerTokenAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "Jeton d'API (manage.py api_token) : « Authorization: Bearer <jeton> ».",
        }


class ChatApiMixin(ApiAuthMixin):
    # Token schemes first: a client with a wrong key gets 401 and a `WWW-Authenticate` header.
    authentication_classes = [
        TokenAuthentication,
        BearerTokenAuthentication,
        SessionAuthentication,
    ]


class EventStreamNegotiation(DefaultContentNegotiation):
    """A client asking for `text/event-stream` gets the stream, which bypasses renderers;
    what is not the stream (an error) is answered in JSON instead of 406."""

    def select_renderer(self, request, renderers, format_suffix=None):
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except NotAcceptable:
            if EVENT_STREAM in request.headers.get("Accept", ""):
                return renderers[0], renderers[0].media_type
            raise


def sse(event: str, data: dict) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def event_stream(chunks: Iterable[str]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(chunks, content_type=f"{EVENT_STREAM}; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx must not hold the stream back
    return response


def _events_as_sse(first: services.Event, rest: Iterator[services.Event]) -> Iterator[str]:
    """Each event of `services.ask` as one SSE event; `done` also carries the stored message."""
    try:
        for event in _chain(first, rest):
            data = dict(event.data)
            if event.type == "done":
                message = Message.objects.select_related("feedback").get(pk=data["message_id"])
                data["message"] = MessageSerializer(message).data
            yield sse(event.type, data)
    except Exception:
        # The response has started: the client can only be told in the stream.
        logger.exception("Réponse de l'API interrompue par une erreur")
        yield sse("error", {"detail": STREAM_ERROR})


def _chain(first, rest):
    yield first
    yield from rest


def _wants_stream(request: Request) -> bool:
    flag = request.query_params.get("stream", "").lower() in ("1", "true", "oui", "yes")
    return flag or EVENT_STREAM in request.headers.get("Accept", "")


def _question_error(exc: services.QuestionError) -> Response:
    return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)


# --- Assistants ----------------------------------------------------------------------------------


class AssistantList(ChatApiMixin, generics.ListAPIView):
    """Assistants the user may use (their audience includes the user)."""

    serializer_class = AssistantSerializer

    def get_queryset(self):
        return selectors.usable_assistants(self.request.user).order_by("name", "pk")


class AssistantDetail(ChatApiMixin, generics.RetrieveAPIView):
    """One assistant the user may use; 404 for any other."""

    serializer_class = AssistantSerializer
    lookup_field = "slug"

    def get_queryset(self):
        return selectors.usable_assistants(self.request.user)

    def get_object(self):
        return selectors.get_usable_assistant(self.request.user, self.kwargs["slug"])


# --- Conversations -------------------------------------------------------------------------------


@extend_schema(
    parameters=[
        OpenApiParameter(
            "assistant",
            OpenApiTypes.STR,
            description="Seulement les conversations avec cet assistant (slug).",
        )
    ]
)
class ConversationList(ChatApiMixin, generics.ListCreateAPIView):
    """The user's own conversations (with assistants they may still use); start a new one."""

    serializer_class = ConversationSerializer

    def get_queryset(self):
        user = self.request.user
        slug = self.request.query_params.get("assistant")
        assistant = selectors.get_usable_assistant(user, slug) if slug else None
        return selectors.user_conversations(user, assistant)

    @extend_schema(
        request=ConversationCreateSerializer,
        responses={201: ConversationSerializer, 404: ErrorSerializer},
    )
    def post(self, request, *args, **kwargs):
        serializer = ConversationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        assistant = selectors.get_usable_assistant(request.user, data["assistant"])
        conversation = services.start_conversation(assistant, request.user, title=data["title"])
        return Response(ConversationSerializer(conversation).data, status=status.HTTP_201_CREATED)


class ConversationDetail(ChatApiMixin, generics.RetrieveDestroyAPIView):
    """One of the user's conversations, with its messages; 404 for anybody else's."""

    serializer_class = ConversationDetailSerializer

    def get_queryset(self):
        return selectors.user_conversations(self.request.user)

    def get_object(self) -> Conversation:
        return selectors.get_conversation(self.request.user, self.kwargs["pk"])

    def perform_destroy(self, instance: Conversation) -> None:
        services.delete_conversation(instance)


class ConversationMessages(ChatApiMixin, APIView):
    """Ask a question in a conversation: the stored answer, or its stream."""

    content_negotiation_class = EventStreamNegotiation

    @extend_schema(
        request=QuestionSerializer,
        parameters=[
            OpenApiParameter(
                "stream",
                OpenApiTypes.BOOL,
                description="Réponse en flux (server-sent events), comme avec "
                "`Accept: text/event-stream`.",
            )
        ],
        responses={
            201: MessageSerializer,
            (200, EVENT_STREAM): OpenApiResponse(
                OpenApiTypes.STR,
                description="Flux d'événements : `sources` (passages trouvés), `delta` "
                '({"text"} : la suite de la réponse), `notice` ({"text", "reset"} : le '
                "modèle a échoué, la suite est extractive ; `reset` : oublier le texte reçu), "
                '`done` ({"message_id", "outcome", "sources", "message"}), `error`.',
                examples=[
                    OpenApiExample(
                        "Flux",
                        value='event: delta\ndata: {"text": "Le formulaire"}\n\n'
                        'event: done\ndata: {"message_id": 12, "outcome": "answered", ...}\n\n',
                        media_type=EVENT_STREAM,
                    )
                ],
            ),
            400: ErrorSerializer,
            404: ErrorSerializer,
        },
    )
    def post(self, request, pk: int):
        conversation = selectors.get_conversation(request.user, pk)
        serializer = QuestionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        question = serializer.validated_data["question"]
        if _wants_stream(request):
            events = services.ask(conversation, question, user=request.user, request=request)
            try:
                first = next(events)  # raises QuestionError before the stream starts
            except services.QuestionError as exc:
                return _question_error(exc)
            return event_stream(_events_as_sse(first, events))
        try:
            message = services.answer_now(
                conversation, question, user=request.user, request=request
            )
        except services.QuestionError as exc:
            return _question_error(exc)
        return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)


class MessageFeedback(ChatApiMixin, APIView):
    """Say whether an answer helped (one opinion per answer: a new one replaces it)."""

    @extend_schema(
        request=FeedbackSerializer,
        responses={200: FeedbackSerializer, 400: ErrorSerializer, 404: ErrorSerializer},
    )
    def post(self, request, pk: int):
        message = selectors.get_message(request.user, pk)
        serializer = FeedbackSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            feedback = services.give_feedback(
                message, user=request.user, **serializer.validated_data
            )
        except services.QuestionError as exc:
            return _question_error(exc)
        return Response(FeedbackSerializer(feedback).data)
