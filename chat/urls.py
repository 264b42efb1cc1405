from django.urls import path

from chat import console_views, procedure_views, views

app_name = "chat"

urlpatterns = [
    path("assistants/", views.home, name="home"),
    path("assistants/<slug:slug>/", views.assistant_chat, name="assistant"),
    path("assistants/<slug:slug>/poser/", views.ask, name="ask"),
    path("assistants/<slug:slug>/c/<int:pk>/", views.assistant_chat, name="conversation"),
    path(
        "assistants/conversations/<int:pk>/supprimer/",
        views.delete_conversation,
        name="conversation_delete",
    ),
    path("assistants/messages/<int:pk>/regenerer/", views.regenerate, name="regenerate"),
    path("assistants/messages/<int:pk>/avis/", views.feedback, name="feedback"),
    # Citizens (no login): the portal page, the embeddable widget and its script.
    path("citoyens/<slug:slug>/", views.public_chat, name="public"),
    path("citoyens/<slug:slug>/poser/", views.public_ask, name="public_ask"),
    path("widget/<slug:slug>/", views.widget, name="widget"),
    path("widget.js", views.widget_script, name="widget_script"),
    # The assistants' administration console (AI administrators).
    path("ia/console/assistants/", console_views.console, name="console"),
    path("ia/console/assistants/nouveau/", console_views.assistant_create, name="assistant_create"),
    path("ia/console/assistants/<int:pk>/", console_views.assistant_edit, name="assistant_edit"),
    path(
        "ia/console/assistants/<int:pk>/statistiques/",
        console_views.assistant_stats,
        name="assistant_stats",
    ),
    path("ia/console/modeles/", console_views.model_list, name="models"),
    path("ia/console/modeles/nouveau/", console_views.model_create, name="model_create"),
    path("ia/console/modeles/<int:pk>/", console_views.model_edit, name="model_edit"),
    path("ia/console/modeles/<int:pk>/tester/", console_views.model_test, name="model_test"),
    # The catalogue of online procedures of the citizen portal (one, shared by all directions).
    path("ia/console/demarches/", procedure_views.procedure_list, name="procedures"),
    path(
        "ia/console/demarches/nouvelle/",
        procedure_views.procedure_create,
        name="procedure_create",
    ),
    path(
        "ia/console/demarches/importer/", procedure_views.procedure_import, name="procedure_import"
    ),
    path("ia/console/demarches/<int:pk>/", procedure_views.procedure_edit, name="procedure_edit"),
    path(
        "ia/console/demarches/<int:pk>/supprimer/",
        procedure_views.procedure_delete,
        name="procedure_delete",
    ),
]
