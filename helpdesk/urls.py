from django.urls import path

from helpdesk import views

app_name = "helpdesk"

urlpatterns = [
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
