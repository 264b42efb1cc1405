from django.urls import include, path
from rest_framework.routers import SimpleRouter

from core import api, views

app_name = "core"

router = SimpleRouter()
router.register("actualites", api.AnnouncementViewSet, basename="announcement")

urlpatterns = [
    path("", views.home, name="home"),
    path("annuaire/", views.directory, name="directory"),
    path("annuaire/<str:code>/", views.direction_detail, name="direction_detail"),
    path("actualites/", views.announcement_list, name="announcement_list"),
    path("actualites/nouvelle/", views.announcement_create, name="announcement_create"),
    path("actualites/<int:pk>/", views.announcement_detail, name="announcement_detail"),
    path("actualites/<int:pk>/modifier/", views.announcement_edit, name="announcement_edit"),
    path("audit/", views.audit_log, name="audit_log"),
    path("notifications/", views.notification_list, name="notifications"),
    path("sante/", views.health, name="health"),
    path("api/v1/moi/", api.MeView.as_view(), name="api_me"),
    path("api/v1/", include((router.urls, "api"), namespace="api")),
    path("api/schema/", api.SchemaView.as_view(), name="api_schema"),
    path("api/docs/", api.SwaggerView.as_view(url_name="core:api_schema"), name="api_docs"),
]
