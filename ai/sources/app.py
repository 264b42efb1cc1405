"""Sources fed by the workplace's own applications (helpdesk articles, resolved tickets...).

An app registers a named provider that yields `FetchedItem`s (usually small text documents
built from its rows); a source of kind `app` names the provider in its settings
(`{"provider": "helpdesk.articles"}`) and is then collected, converted, chunked, embedded and
access-checked like any other source: the app's data reaches the assistants through the same
collections, directions and visibilities as documents.

A provider may also give `visible(user, uris) -> allowed uris`: the owning app's own rule (a
requester's tickets, technicians' notes), applied after the collection check on every hit,
document view and download, as DESIGN.md asks ("hits are mapped back through the owning app's
selector"). A collection is a whole direction; the app's rule can be narrower.
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
    visible: Callable[[object, list[str]], set[str]] | None = None


_PROVIDERS: dict[str, AppProvider] = {}


def register(
    name: str,
    label: str,
    fetch: Callable[[], Iterable[FetchedItem | FetchFailure]],
    visible: Callable[[object, list[str]], set[str]] | None = None,
):
    """Called from an AppConfig.ready()."""
    _PROVIDERS[name] = AppProvider(name, label, fetch, visible)


def providers() -> list[AppProvider]:
    return sorted(_PROVIDERS.values(), key=lambda p: p.label)


def ruled() -> list[str]:
    """Providers whose app applies its own read rule to their documents."""
    return sorted(name for name, p in _PROVIDERS.items() if p.visible is not None)


def provider(config: dict) -> AppProvider:
    name = (config or {}).get("provider", "")
    if name not in _PROVIDERS:
        known = ", ".join(sorted(_PROVIDERS)) or "aucune"
        raise SourceError(f"Application inconnue : « {name} » (disponibles : {known}).")
    return _PROVIDERS[name]


def fetch(config: dict) -> Iterable[FetchedItem | FetchFailure]:
    return provider(config).fetch()


def allowed_documents(user, documents: Iterable) -> set[int]:
    """The ids, among these documents, that `user` may read as far as their app is concerned.

    Documents of other kinds pass through; a provider that is no longer registered lets
    nothing through (its app is gone, so is its rule)."""
    by_provider: dict[str, dict[str, list[int]]] = {}
    allowed: set[int] = set()
    for document in documents:
        source = document.source
        if source is None or source.kind != "app":
            allowed.add(document.pk)
            continue
        name = (source.config or {}).get("provider", "")
        by_provider.setdefault(name, {}).setdefault(document.uri, []).append(document.pk)
    for name, by_uri in by_provider.items():
        registered = _PROVIDERS.get(name)
        if registered is None:
            continue
        uris = list(by_uri)
        readable = uris if registered.visible is None else registered.visible(user, uris)
        for uri in set(readable) & set(uris):
            allowed.update(by_uri[uri])
    return allowed
