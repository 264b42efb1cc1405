"""Sources fed by the workplace's own applications (helpdesk articles, resolved tickets...).

An app registers a named provider that yields `FetchedItem`s (usually small text documents
built from its rows); a source of kind `app` names the provider in its settings
(`{"provider": "helpdesk.articles"}`) and is then collected, converted, chunked, embedded and
access-checked like any other source: the app's data reaches the assistants through the same
collections, directions and visibilities as documents.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ai.sources.base import FetchedItem, FetchFailure, SourceError


@dataclass
class AppConfig:
    """A source's settings: which registered provider feeds it."""

    provider: str


@dataclass(frozen=True)
class AppProvider:
    name: str
    label: str  # French, for the console
    fetch: Callable[[], Iterable[FetchedItem | FetchFailure]]


_PROVIDERS: dict[str, AppProvider] = {}


def register(name: str, label: str, fetch: Callable[[], Iterable[FetchedItem | FetchFailure]]):
    """Called from an AppConfig.ready()."""
    _PROVIDERS[name] = AppProvider(name, label, fetch)


def providers() -> list[AppProvider]:
    return sorted(_PROVIDERS.values(), key=lambda p: p.label)


def provider(config: dict) -> AppProvider:
    name = (config or {}).get("provider", "")
    if name not in _PROVIDERS:
        known = ", ".join(sorted(_PROVIDERS)) or "aucune"
        raise SourceError(f"Application inconnue : « {name} » (disponibles : {known}).")
    return _PROVIDERS[name]


def fetch(config: dict) -> Iterable[FetchedItem | FetchFailure]:
    return provider(config).fetch()
