"""Receivers that feed authentication events into the audit log (plumbing, no business rule)."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from core import audit


@receiver(user_logged_in, dispatch_uid="core_audit_login")
def _on_login(sender, request, user, **kwargs) -> None:
    audit.record(audit.LOGIN, request=request, actor=user)


@receiver(user_logged_out, dispatch_uid="core_audit_logout")
def _on_logout(sender, request, user, **kwargs) -> None:
    if user is not None:
        audit.record(audit.LOGOUT, request=request, actor=user)


@receiver(user_login_failed, dispatch_uid="core_audit_login_failed")
def _on_login_failed(sender, credentials, request=None, **kwargs) -> None:
    # Django has already masked the password in `credentials`.
    login = credentials.get("email") or credentials.get("username") or ""
    audit.record(audit.LOGIN_FAILED, request=request, actor_label=str(login))
