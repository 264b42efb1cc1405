"""Serializers of the helpdesk API: what a client sees of tickets and knowledge-base articles.

A ticket's comments come through `selectors.ticket_comments` with the requesting user, so
internal notes never reach a requester. States are sent as their value and their French label;
they are plain strings in the responses (their values are in the requests' enums) so that the
OpenAPI schema keeps one enum per choice set.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from helpdesk import selectors
from helpdesk.models import Article, Category, Comment, StatusChange, Ticket


def _values(choices) -> str:
    return ", ".join(f"`{value}` ({label})" for value, label in choices)


class HelpdeskCategorySerializer(serializers.ModelSerializer):
    path = serializers.CharField(read_only=True, help_text="« Matériel > Imprimantes ».")

    class Meta:
        model = Category
        fields = ["id", "name", "path"]
        read_only_fields = fields


class TicketSerializer(serializers.ModelSerializer):
    """A ticket as listed."""

    status = serializers.CharField(read_only=True, help_text=_values(Ticket.Status.choices))
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    priority = serializers.IntegerField(read_only=True, help_text=_values(Ticket.Priority.choices))
    priority_label = serializers.CharField(source="get_priority_display", read_only=True)
    category = HelpdeskCategorySerializer(read_only=True, allow_null=True)
    requester = serializers.StringRelatedField(read_only=True, allow_null=True)
    direction = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    assigned_to = serializers.StringRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = Ticket
        fields = [
            "id",
            "title",
            "status",
            "status_label",
            "priority",
            "priority_label",
            "category",
            "requester",
            "direction",
            "assigned_to",
            "created_at",
            "updated_at",
            "resolved_at",
        ]
        read_only_fields = fields


class TicketCommentSerializer(serializers.ModelSerializer):
    author = serializers.StringRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = Comment
        fields = ["id", "author", "body", "internal", "created_at"]
        read_only_fields = fields


class StatusChangeSerializer(serializers.ModelSerializer):
    from_status = serializers.CharField(read_only=True, help_text="Vide à l'ouverture.")
    from_label = serializers.CharField(read_only=True)
    to_status = serializers.CharField(read_only=True)
    to_label = serializers.CharField(read_only=True)
    by = serializers.StringRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = StatusChange
        fields = ["from_status", "from_label", "to_status", "to_label", "by", "at"]
        read_only_fields = fields


class TicketDetailSerializer(TicketSerializer):
    """A ticket with its comments (internal notes for technicians only) and its history."""

    comments = serializers.SerializerMethodField()
    history = serializers.SerializerMethodField()

    class Meta(TicketSerializer.Meta):
        fields = [
            *TicketSerializer.Meta.fields,
            "description",
            "device",
            "error_message",
            "since",
            "resolution",
            "comments",
            "history",
        ]
        read_only_fields = fields

    @extend_schema_field(TicketCommentSerializer(many=True))
    def get_comments(self, ticket: Ticket) -> list[dict]:
        request = self.context.get("request")
        comments = selectors.ticket_comments(getattr(request, "user", None), ticket)
        return TicketCommentSerializer(comments, many=True).data

    @extend_schema_field(StatusChangeSerializer(many=True))
    def get_history(self, ticket: Ticket) -> list[dict]:
        return StatusChangeSerializer(ticket.history.select_related("by"), many=True).data


class TicketCreateSerializer(serializers.Serializer):
    # Blank titles reach the service, which refuses them with its own French message.
    title = serializers.CharField(max_length=250, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    device = serializers.CharField(
        required=False, allow_blank=True, max_length=200, default="", help_text="Matériel concerné."
    )
    error_message = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="Le message d'erreur, mot pour mot."
    )
    since = serializers.CharField(
        required=False, allow_blank=True, max_length=120, default="", help_text="Depuis quand."
    )
    category = serializers.PrimaryKeyRelatedField(
        queryset=Category.objects.filter(is_active=True),
        required=False,
        allow_null=True,
        default=None,
        help_text="Identifiant de la catégorie ; vide : « Je ne sais pas ».",
    )
    priority = serializers.ChoiceField(
        choices=Ticket.Priority.choices, required=False, default=Ticket.Priority.NORMAL
    )


class TicketUpdateSerializer(serializers.Serializer):
    """What a technician changes on a ticket; absent fields are left as they are."""

    status = serializers.ChoiceField(choices=Ticket.Status.choices, required=False)
    resolution = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="Obligatoire pour résoudre un ticket qui n'en a pas encore.",
    )
    category = serializers.PrimaryKeyRelatedField(
        queryset=Category.objects.filter(is_active=True),
        required=False,
        allow_null=True,
        help_text="Identifiant de la catégorie ; null : non classé.",
    )

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError("Indiquez l'état, la résolution ou la catégorie.")
        return attrs


class CommentCreateSerializer(serializers.Serializer):
    body = serializers.CharField(allow_blank=True, help_text="Le message.")
    internal = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Note interne, invisible pour le demandeur (techniciens seulement).",
    )


class SimilarTicketSerializer(serializers.Serializer):
    """A resolved ticket like this one, found by the AI layer."""

    id = serializers.IntegerField(source="ticket.pk", read_only=True)
    title = serializers.CharField(source="ticket.title", read_only=True)
    resolution = serializers.CharField(source="ticket.resolution", read_only=True)
    score = serializers.FloatField(read_only=True)


class TicketFilterSerializer(serializers.Serializer):
    etat = serializers.ChoiceField(
        choices=Ticket.Status.choices,
        required=False,
        help_text="Seulement les tickets dans cet état.",
    )


class ArticleSerializer(serializers.ModelSerializer):
    """An article as listed."""

    audience = serializers.CharField(read_only=True, help_text=_values(Article.Audience.choices))
    audience_label = serializers.CharField(source="get_audience_display", read_only=True)
    status = serializers.CharField(read_only=True, help_text=_values(Article.Status.choices))
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    category = HelpdeskCategorySerializer(read_only=True, allow_null=True)

    class Meta:
        model = Article
        fields = [
            "id",
            "title",
            "category",
            "audience",
            "audience_label",
            "status",
            "status_label",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ArticleDetailSerializer(ArticleSerializer):
    class Meta(ArticleSerializer.Meta):
        fields = [*ArticleSerializer.Meta.fields, "body"]
        read_only_fields = fields


class ArticleUpdateSerializer(serializers.Serializer):
    """An article's edit; absent fields keep their current value."""

    title = serializers.CharField(max_length=250, allow_blank=True, required=False)
    body = serializers.CharField(allow_blank=True, required=False)
    category = serializers.PrimaryKeyRelatedField(
        queryset=Category.objects.filter(is_active=True), required=False, allow_null=True
    )
    audience = serializers.ChoiceField(choices=Article.Audience.choices, required=False)
    status = serializers.ChoiceField(choices=Article.Status.choices, required=False)


class ArticleFilterSerializer(serializers.Serializer):
    etat = serializers.ChoiceField(
        choices=Article.Status.choices,
        required=False,
        help_text="Seulement les articles dans cet état.",
    )
