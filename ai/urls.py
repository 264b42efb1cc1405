from django.urls import path

from ai import api, views

app_name = "ai"

urlpatterns = [
    path("recherche/", views.search_page, name="search"),
    path("documents/<int:pk>/", views.document_view, name="document"),
    path("documents/<int:pk>/fichier/", views.document_download, name="document_download"),
    path("ia/console/", views.console, name="console"),
    path("ia/console/bases/<int:pk>/", views.collection_detail, name="collection"),
    path("ia/console/sources/<int:pk>/", views.source_detail, name="source"),
    path("ia/console/sources/<int:pk>/lancer/", views.source_run, name="source_run"),
    path("ia/console/executions/<int:pk>/progression/", views.run_progress, name="run_progress"),
    path("ia/console/documents/<int:pk>/reessayer/", views.document_retry, name="document_retry"),
    path("ia/console/voir-comme/", views.view_as, name="view_as"),
    path("api/v1/ia/bases/", api.CollectionList.as_view(), name="api_collections"),
    path("api/v1/ia/bases/<int:pk>/", api.CollectionDetail.as_view(), name="api_collection"),
    path("api/v1/ia/sources/", api.SourceList.as_view(), name="api_sources"),
    path("api/v1/ia/sources/<int:pk>/documents/", api.SourceUpload.as_view(), name="api_upload"),
    path("api/v1/ia/documents/", api.DocumentList.as_view(), name="api_documents"),
    path("api/v1/ia/documents/<int:pk>/", api.DocumentDetail.as_view(), name="api_document"),
    path("api/v1/ia/recherche/", api.SearchView.as_view(), name="api_search"),
]
