"""Serializers of the chat API: what a client sees of assistants, conversations and answers.

An assistant is shown by what its users need (never its prompt, model or knowledge bases);
a message carries its sources and the figures of the model call.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from chat.models import Assistant, Conversation, Message


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(read_only=True, help_text="Le motif, en français.")


class AssistantSerializer(serializers.ModelSerializer):
    class Meta:
        model = Assistant
        fields = ["slug", "name", "description", "kind", "greeting", "suggested_questions"]
        read_only_fields = fields


class SourceEntrySerializer(serializers.Serializer):
    """One source of an answer, numbered as the answer cites it ([n])."""

    n = serializers.IntegerField(read_only=True)
    document_id = serializers.IntegerField(read_only=True)
    title = serializers.CharField(read_only=True)
    label = serializers.CharField(read_only=True, help_text="Titre et page, pour l'affichage.")
    page = serializers.IntegerField(read_only=True, allow_null=True)
    url = serializers.CharField(read_only=True, help_text="Lien vers le document dans l'intranet.")
    passage = serializers.CharField(read_only=True)
    cited = serializers.BooleanField(read_only=True, help_text="Cité dans la réponse.")


class FeedbackSerializer(serializers.Serializer):
    helpful = serializers.BooleanField(help_text="La réponse a-t-elle été utile ?")
    comment = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class MessageSerializer(serializers.ModelSerializer):
    sources = SourceEntrySerializer(many=True, read_only=True)
    feedback = serializers.SerializerMethodField()

    class Meta:
        model = Message
        fields = [
            "id",
            "conversation",
            "role",
            "content",
            "sources",
            "outcome",
            "notice",
            "provider",
            "model",
            "prompt_tokens",
            "completion_tokens",
            "latency_ms",
            "created_at",
            "feedback",
        ]
        read_only_fields = fields

    @extend_schema_field(FeedbackSerializer(allow_null=True))
    def get_feedback(self, message: Message) -> dict | None:
        feedback = getattr(message, "feedback", None)
        if feedback is None:
            return None
        return {"helpful": feedback.helpful, "comment": feedback.comment}


class ConversationSerializer(serializers.ModelSerializer):
    assistant = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Conversation
        fields = ["id", "assistant", "title", "created_at", "updated_at"]
        read_only_fields = fields


class ConversationDetailSerializer(ConversationSerializer):
    messages = serializers.SerializerMethodField()

    class Meta(ConversationSerializer.Meta):
        fields = [*ConversationSerializer.Meta.fields, "messages"]
        read_only_fields = fields

    @extend_schema_field(MessageSerializer(many=True))
    def get_messages(self, conversation: Conversation) -> list[dict]:
        messages = conversation.messages.select_related("feedback").order_by("created_at", "pk")
        return MessageSerializer(messages, many=True).data


class ConversationCreateSerializer(serializers.Serializer):
    assistant = serializers.SlugField(help_text="Identifiant (slug) de l'assistant.")
    title = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")


class QuestionSerializer(serializers.Serializer):
    question = serializers.CharField(
        allow_blank=True, trim_whitespace=False, help_text="La question posée à l'assistant."
    )
