"""django-allauth adapters: no self-registration, but directory (OIDC) users may sign in."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django import forms

from core import audit


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        # Agents' accounts are created by the IT department or come from the directory.
        return False

    def pre_authenticate(self, request, **credentials) -> None:
        try:
            super().pre_authenticate(request, **credentials)
        except forms.ValidationError:
            # Refused by the login rate limit before any backend runs, so Django sends no
            # `user_login_failed`: audit the attempt here, or a brute force goes unseen.
            login = credentials.get("email") or credentials.get("username") or ""
            audit.record(
                audit.LOGIN_FAILED,
                request=request,
                actor_label=str(login),
                details={"reason": "rate_limited"},
            )
            raise


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request, sociallogin) -> bool:
        # The city's own identity provider vouches for its agents: their first login
        # creates the account (memberships are then given by an administrator).
        return True
