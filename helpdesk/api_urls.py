"""URLs of the helpdesk API, from the site root (`path("", include("helpdesk.api_urls"))`).

`/api/v1/assistance/...`: tickets and knowledge-base articles (session or token), documented in
the OpenAPI schema.
"""

from django.urls import path

from helpdesk import api

app_name = "helpdesk_api"

urlpatterns = [
    path("api/v1/assistance/tickets/", api.TicketList.as_view(), name="ticket-list"),
    path("api/v1/assistance/tickets/<int:pk>/", api.TicketDetail.as_view(), name="ticket-detail"),
    path(
        "api/v1/assistance/tickets/<int:pk>/commentaires/",
        api.TicketComments.as_view(),
        name="ticket-comments",
    ),
    path(
        "api/v1/assistance/tickets/<int:pk>/semblables/",
        api.SimilarTickets.as_view(),
        name="ticket-similar",
    ),
    path("api/v1/assistance/articles/", api.ArticleList.as_view(), name="article-list"),
    path(
        "api/v1/assistance/articles/<int:pk>/", api.ArticleDetail.as_view(), name="article-detail"
    ),
]
