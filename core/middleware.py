"""Middleware of the portal."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse


def mfa_required_for(user) -> bool:
    """Whether the user must have a second factor: set on the account or by one of its roles."""
    if user.mfa_required:
        return True
    roles = settings.MFA_REQUIRED_ROLES
    return bool(roles) and user.groups.filter(name__in=roles).exists()


class MFARequiredMiddleware:
    """Send users who must have a second factor to the TOTP enrolment page until they do."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not self._exempt(request.path):
            from allauth.mfa.models import Authenticator

            if (
                mfa_required_for(user)
                and not Authenticator.objects.filter(
                    user=user, type=Authenticator.Type.TOTP
                ).exists()
            ):
                messages.warning(
                    request,
                    "La double authentification est obligatoire pour votre compte : "
                    "activez-la pour accéder au portail.",
                )
                return redirect("mfa_activate_totp")
        return self.get_response(request)

    @staticmethod
    def _exempt(path: str) -> bool:
        accounts = reverse("account_login").rsplit("/", 2)[0] + "/"
        static = "/" + settings.STATIC_URL.lstrip("/")
        return path.startswith((accounts, static)) or path == reverse("core:health")
