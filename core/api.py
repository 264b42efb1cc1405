"""REST API of the core app (same access rules as the portal)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework import mixins, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from core import access, selectors
from core.models import Announcement
from core.serializers import AnnouncementSerializer, MeSerializer


class ApiAuthMixin:
    """API views authenticate through DRF, not the login-redirect middleware.

    A JSON client must get 401/403, not an HTML login page, and token schemes (added later)
    only authenticate inside the view. DRF's default permission (IsAuthenticated) applies.
    """

    @classmethod
    def as_view(cls, *args, **kwargs):
        return login_not_required(super().as_view(*args, **kwargs))


class MeView(ApiAuthMixin, APIView):
    """The current user, their directions and roles."""

    serializer_class = MeSerializer

    def get(self, request):
        data = MeSerializer(
            {"user": request.user, "directions": selectors.user_directions(request.user)}
        ).data
        return Response(data)


class AnnouncementViewSet(
    ApiAuthMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """News items the user may read."""

    serializer_class = AnnouncementSerializer

    def get_queryset(self):
        return selectors.announcements_for(self.request.user)

    def get_object(self):
        # Through core.access so a denial is audited like on the portal.
        return access.get_visible_or_404(
            self.request.user,
            Announcement.objects.select_related("direction"),
            request=self.request,
            pk=self.kwargs["pk"],
        )


class SchemaView(ApiAuthMixin, SpectacularAPIView):
    pass


class SwaggerView(ApiAuthMixin, SpectacularSwaggerView):
    pass
