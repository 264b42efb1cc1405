"""Django admin of the chat app (superusers); AI administrators use the console instead.

Conversations are read-only here: the admin is for support and audits, not for rewriting what
an assistant answered. The language models' encrypted key is never shown nor editable.
"""

from django.contrib import admin

from ai.models import LanguageModel
from chat.models import Assistant, Conversation, Feedback, Message, Procedure


@admin.register(Assistant)
class AssistantAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "kind", "direction", "audience", "language_model", "is_active")
    list_filter = ("kind", "audience", "is_active", "direction")
    search_fields = ("name", "slug", "description")
    prepopulated_fields = {"slug": ("name",)}
    autocomplete_fields = ("direction",)
    filter_horizontal = ("audience_directions", "audience_groups", "collections")
    readonly_fields = ("created_at", "updated_at")


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    can_delete = False
    fields = ("created_at", "role", "content", "outcome", "provider", "model", "latency_ms")
    readonly_fields = fields
    ordering = ("created_at", "pk")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ("__str__", "assistant", "user", "created_at", "updated_at")
    list_filter = ("assistant",)
    search_fields = ("title", "user__email")
    raw_id_fields = ("user",)
    readonly_fields = ("assistant", "user", "session_key", "title", "created_at", "updated_at")
    inlines = [MessageInline]
    date_hierarchy = "created_at"

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Feedback)
class FeedbackAdmin(admin.ModelAdmin):
    list_display = ("__str__", "message", "user", "helpful", "created_at")
    list_filter = ("helpful", "message__conversation__assistant")
    search_fields = ("comment",)
    readonly_fields = ("message", "user", "helpful", "comment", "created_at")

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Procedure)
class ProcedureAdmin(admin.ModelAdmin):
    list_display = ("title", "direction", "url", "is_active", "updated_at")
    list_filter = ("is_active", "direction")
    search_fields = ("title", "keywords", "description")


if not admin.site.is_registered(LanguageModel):

    @admin.register(LanguageModel)
    class LanguageModelAdmin(admin.ModelAdmin):
        # `api_key_encrypted` is not editable on the model; excluded here too so that it is
        # never displayed, even read-only. Keys are entered in the assistants' console.
        list_display = ("name", "provider", "model", "is_active")
        list_filter = ("provider", "is_active")
        search_fields = ("name", "model")
        exclude = ("api_key_encrypted",)


# DRF's token admin lists the keys in clear: tokens are issued by `manage.py api_token`.
try:
    from rest_framework.authtoken.admin import TokenProxy

    admin.site.unregister(TokenProxy)
except (ImportError, admin.sites.NotRegistered):
    pass
