"""The portal's navigation: each app registers its modules, the menu shows the allowed ones."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.urls import reverse


@dataclass(frozen=True)
class Module:
    key: str
    label: str
    url_name: str
    description: str = ""
    # A model permission ("app.codename"), all of which the user needs; empty = every agent.
    permissions: tuple[str, ...] = ()
    staff_only: bool = False
    order: int = 100
    # Extra rule for modules whose use depends on more than permissions.
    allowed: Callable[[object], bool] | None = None

    @property
    def url(self) -> str:
        return reverse(self.url_name)

    def is_allowed(self, user) -> bool:
        if not user.is_authenticated:
            return False
        if self.staff_only and not user.is_staff:
            return False
        if self.permissions and not user.has_perms(self.permissions):
            return False
        return self.allowed(user) if self.allowed else True


_REGISTRY: dict[str, Module] = {}


def register(module: Module) -> None:
    """Add a module to the portal (called from an AppConfig.ready)."""
    _REGISTRY[module.key] = module


def modules_for(user) -> list[Module]:
    """Modules this user may use, in menu order."""
    return sorted(
        (m for m in _REGISTRY.values() if m.is_allowed(user)), key=lambda m: (m.order, m.label)
    )
