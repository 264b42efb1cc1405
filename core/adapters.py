"""django-allauth adapters: no self-registration, but directory (OIDC) users may sign in."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        # Agents' accounts are created by the IT department or come from the directory.
        return False


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request, sociallogin) -> bool:
        # The city's own identity provider vouches for its agents: their first login
        # creates the account (memberships are then given by an administrator).
        return True
