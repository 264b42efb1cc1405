from django.urls import path

from helpdesk import article_views, dashboard_views, ticket_views, views

app_name = "helpdesk"

urlpatterns = [
    # Tickets: an agent's own, the technicians' queue.
    path("assistance/tickets/", ticket_views.ticket_list, name="tickets"),
    path("assistance/tickets/nouveau/", ticket_views.ticket_new, name="ticket_new"),
    path("assistance/tickets/<int:pk>/", ticket_views.ticket_detail, name="ticket"),
    path(
        "assistance/tickets/<int:pk>/commentaire/",
        ticket_views.ticket_comment,
        name="ticket_comment",
    ),
    path("assistance/tickets/<int:pk>/etat/", ticket_views.ticket_status, name="ticket_status"),
    path(
        "assistance/tickets/<int:pk>/pieces-jointes/<int:attachment_id>/",
        ticket_views.attachment_download,
        name="attachment",
    ),
    path(
        "assistance/tickets/<int:pk>/reponse-suggeree/",
        ticket_views.ticket_reply_draft,
        name="ticket_reply_draft",
    ),
    path(
        "assistance/tickets/<int:pk>/categorie/",
        ticket_views.ticket_category,
        name="ticket_category",
    ),
    path(
        "assistance/tickets/<int:pk>/article/", ticket_views.ticket_article, name="ticket_article"
    ),
    # The dashboard: spike alerts, daily chart, tickets avoided.
    path("assistance/tableau-de-bord/", dashboard_views.dashboard_page, name="dashboard"),
    path(
        "assistance/alertes/<int:pk>/prise-en-compte/",
        dashboard_views.acknowledge,
        name="alert_ack",
    ),
    path("assistance/alertes/verifier/", dashboard_views.check_now, name="check_spikes"),
    # The knowledge base.
    path("assistance/articles/", article_views.article_list, name="articles"),
    path("assistance/articles/<int:pk>/", article_views.article_detail, name="article"),
    path("assistance/articles/<int:pk>/modifier/", article_views.article_edit, name="article_edit"),
    path("assistance/resolu-sans-ticket/", ticket_views.deflection, name="deflection"),
    path("assistance/categories/apprendre/", ticket_views.retrain, name="retrain"),
    # Imports of past tickets and articles (IT technicians).
    path("assistance/imports/", views.import_list, name="import_list"),
    path("assistance/imports/nouveau/", views.import_new, name="import_new"),
    path("assistance/imports/<int:pk>/colonnes/", views.import_mapping, name="import_mapping"),
    path("assistance/imports/<int:pk>/", views.import_detail, name="import_detail"),
    path(
        "assistance/imports/<int:pk>/progression/",
        views.import_progress,
        name="import_progress",
    ),
]
