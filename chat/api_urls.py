"""URLs of the assistants' APIs, from the site root (`path("", include("chat.api_urls"))`).

`/api/v1/assistants/...`: the DRF API (session or token), documented in the OpenAPI schema.
`/v1/...`: the OpenAI-compatible API (Bearer token only), for Open WebUI and OpenAI clients.
The fixed segments come before `<slug>/`: an assistant cannot be fetched here by the slug
"conversations".
"""

from django.urls import path

from chat import api, openai_api

app_name = "chat_api"

urlpatterns = [
    path("api/v1/assistants/", api.AssistantList.as_view(), name="assistant-list"),
    path(
        "api/v1/assistants/conversations/",
        api.ConversationList.as_view(),
        name="conversation-list",
    ),
    path(
        "api/v1/assistants/conversations/<int:pk>/",
        api.ConversationDetail.as_view(),
        name="conversation-detail",
    ),
    path(
        "api/v1/assistants/conversations/<int:pk>/messages/",
        api.ConversationMessages.as_view(),
        name="conversation-messages",
    ),
    path(
        "api/v1/assistants/messages/<int:pk>/feedback/",
        api.MessageFeedback.as_view(),
        name="message-feedback",
    ),
    path("api/v1/assistants/<slug:slug>/", api.AssistantDetail.as_view(), name="assistant-detail"),
    path("v1/models", openai_api.models, name="openai-models"),
    path("v1/models/<str:model>", openai_api.model_detail, name="openai-model"),
    path("v1/chat/completions", openai_api.chat_completions, name="openai-chat-completions"),
]
