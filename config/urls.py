from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "Administration de l'intranet"
admin.site.site_title = "Intranet"
admin.site.index_title = "Organisation, comptes et journal"
# The admin's own login form would skip the second factor and allauth's rate limits: send it
# to the portal's login page instead.
admin.site.login = secure_admin_login(admin.site.login)

handler403 = "core.views.permission_denied"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("comptes/", include("allauth.urls")),
    path("", include("ai.urls")),
    path("", include("chat.urls")),
    path("", include("chat.api_urls")),
    path("", include("helpdesk.api_urls")),
    path("", include("helpdesk.urls")),
    path("", include("core.urls")),
]
