from __future__ import annotations

from django.conf import settings

from core.modules import modules_for


def portal(request) -> dict:
    """Navigation and identity shown on every page."""
    user = getattr(request, "user", None)
    context = {"city_name": settings.CITY_NAME}
    if user is not None and user.is_authenticated:
        from core.notifications import unread_count
        from core.selectors import user_directions

        context["nav_modules"] = modules_for(user)
        context["my_directions"] = user_directions(user)
        context["unread_notifications"] = unread_count(user)
    return context
