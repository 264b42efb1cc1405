"""REST API of the helpdesk: same selectors, services and access rules as the ticket pages.

A requester sees and follows their own tickets; technicians (`helpdesk.view_all_tickets`) see
every ticket, change its state and category, write internal notes and see similar resolved
tickets. A ticket the user may not see is a 404 before anything else; an action their role
does not allow on a ticket they see is a 403. Clients authenticate as with the assistants'
API: session, `Authorization: Token <key>` or `Bearer <key>` (keys made by `manage.py api_token`).
"""

from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from chat.api import ChatApiMixin
from chat.serializers import ErrorSerializer
from helpdesk import selectors, services
from helpdesk.serializers import (
    ArticleDetailSerializer,
    ArticleFilterSerializer,
    ArticleSerializer,
    ArticleUpdateSerializer,
    CommentCreateSerializer,
    SimilarTicketSerializer,
    TicketCommentSerializer,
    TicketCreateSerializer,
    TicketDetailSerializer,
    TicketFilterSerializer,
    TicketSerializer,
    TicketUpdateSerializer,
)

TECHNICIANS_ONLY = "Réservé aux techniciens."
ERRORS = {400: ErrorSerializer, 403: ErrorSerializer, 404: ErrorSerializer}


class HelpdeskApiMixin(ChatApiMixin):
    """The assistants' API authentication (token schemes first, then the session)."""


def _ticket_error(exc: services.TicketError) -> Response:
    return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)


def _require_technician(user) -> None:
    if not selectors.is_technician(user):
        raise PermissionDenied(TECHNICIANS_ONLY)


def _filter(serializer_class, request) -> dict:
    params = serializer_class(data=request.query_params)
    params.is_valid(raise_exception=True)
    return params.validated_data


# --- Tickets -------------------------------------------------------------------------------------


@extend_schema_view(get=extend_schema(parameters=[TicketFilterSerializer]))
class TicketList(HelpdeskApiMixin, generics.ListCreateAPIView):
    """The tickets the user may see (their own; every ticket for a technician); open one."""

    serializer_class = TicketSerializer

    def get_queryset(self):
        tickets = selectors.visible_tickets(self.request.user).select_related("category__parent")
        state = _filter(TicketFilterSerializer, self.request).get("etat")
        return tickets.filter(status=state) if state else tickets

    @extend_schema(
        request=TicketCreateSerializer,
        responses={201: TicketDetailSerializer, 400: ErrorSerializer},
    )
    def post(self, request, *args, **kwargs):
        serializer = TicketCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            ticket = services.open_ticket(requester=request.user, **serializer.validated_data)
        except services.TicketError as exc:
            return _ticket_error(exc)
        data = TicketDetailSerializer(ticket, context={"request": request}).data
        return Response(data, status=status.HTTP_201_CREATED)


class TicketDetail(HelpdeskApiMixin, APIView):
    """One ticket with its comments and history; technicians change its state and category."""

    @extend_schema(responses={200: TicketDetailSerializer, 404: ErrorSerializer})
    def get(self, request, pk: int):
        ticket = selectors.get_ticket(request.user, pk)
        return Response(TicketDetailSerializer(ticket, context={"request": request}).data)

    @extend_schema(
        request=TicketUpdateSerializer, responses={200: TicketDetailSerializer, **ERRORS}
    )
    def patch(self, request, pk: int):
        ticket = selectors.get_ticket(request.user, pk)
        _require_technician(request.user)
        serializer = TicketUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            with transaction.atomic():  # the state and the category change together or not at all
                if "status" in data or "resolution" in data:
                    ticket = services.change_status(
                        ticket,
                        data.get("status", ticket.status),
                        by=request.user,
                        resolution=data.get("resolution", ""),
                    )
                if "category" in data:
                    ticket = services.set_category(ticket, data["category"], by=request.user)
        except services.TicketError as exc:
            return _ticket_error(exc)
        return Response(TicketDetailSerializer(ticket, context={"request": request}).data)


class TicketComments(HelpdeskApiMixin, APIView):
    """Reply on a ticket; technicians may write an internal note instead."""

    @extend_schema(
        request=CommentCreateSerializer, responses={201: TicketCommentSerializer, **ERRORS}
    )
    def post(self, request, pk: int):
        ticket = selectors.get_ticket(request.user, pk)
        serializer = CommentCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            comment = services.add_comment(ticket, author=request.user, **serializer.validated_data)
        except services.TicketError as exc:
            return _ticket_error(exc)
        return Response(TicketCommentSerializer(comment).data, status=status.HTTP_201_CREATED)


class SimilarTickets(HelpdeskApiMixin, APIView):
    """Resolved tickets most like this one (technicians)."""

    @extend_schema(
        responses={
            200: SimilarTicketSerializer(many=True),
            403: ErrorSerializer,
            404: ErrorSerializer,
        }
    )
    def get(self, request, pk: int):
        ticket = selectors.get_ticket(request.user, pk)
        _require_technician(request.user)
        pairs = selectors.similar_resolved(request.user, ticket)
        rows = [{"ticket": similar, "score": score} for similar, score in pairs]
        return Response(SimilarTicketSerializer(rows, many=True).data)


# --- Knowledge base ------------------------------------------------------------------------------


@extend_schema_view(get=extend_schema(parameters=[ArticleFilterSerializer]))
class ArticleList(HelpdeskApiMixin, generics.ListAPIView):
    """Published articles for agents; for technicians also drafts and internal notes."""

    serializer_class = ArticleSerializer

    def get_queryset(self):
        articles = selectors.visible_articles(self.request.user).select_related("category__parent")
        state = _filter(ArticleFilterSerializer, self.request).get("etat")
        if state:
            articles = articles.filter(status=state)
        return articles.order_by("status", "title", "pk")


class ArticleDetail(HelpdeskApiMixin, APIView):
    """One article; those with `helpdesk.change_article` edit it."""

    @extend_schema(responses={200: ArticleDetailSerializer, 404: ErrorSerializer})
    def get(self, request, pk: int):
        return Response(ArticleDetailSerializer(selectors.get_article(request.user, pk)).data)

    @extend_schema(
        request=ArticleUpdateSerializer, responses={200: ArticleDetailSerializer, **ERRORS}
    )
    def patch(self, request, pk: int):
        article = selectors.get_article(request.user, pk)
        if not request.user.has_perm("helpdesk.change_article"):
            raise PermissionDenied("Seuls les techniciens modifient les articles.")
        serializer = ArticleUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        current = {
            "title": article.title,
            "body": article.body,
            "category": article.category,
            "audience": article.audience,
            "status": article.status,
        }
        try:
            article = services.save_article(
                article, by=request.user, **{**current, **serializer.validated_data}
            )
        except services.TicketError as exc:
            return _ticket_error(exc)
        return Response(ArticleDetailSerializer(article).data)
