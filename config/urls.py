from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "Administration de l'intranet"
admin.site.site_title = "Intranet"
admin.site.index_title = "Organisation, comptes et journal"

handler403 = "core.views.permission_denied"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("comptes/", include("allauth.urls")),
    path("", include("core.urls")),
]
