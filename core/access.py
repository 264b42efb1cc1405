"""Which directions and objects a user may see: the single source of truth.

Rules (DESIGN.md, "Access"):

* An owned object (see `core.models.OwnedModel`) has a `direction` and a `visibility`.
* `public` objects are visible to everyone, anonymous visitors included.
* `internal` objects are visible to every active, logged-in agent.
* `direction` objects are visible to the members of that direction, and to the members of the
  directions above it in the organisation chart (a DGA sees its directions, a direction its
  services). Membership of an inactive direction grants nothing.
* An object can also be shared with more users or groups through django-guardian: the
  `view_<model>` object permission opens exactly that object.
* Superusers see everything (they administer the database anyway).

Every selector filters through `filter_visible`; every single-object fetch goes through
`get_visible_or_404`, which answers 404 (never 403, which would confirm the object exists) and
writes the denial to the audit log. The AI layer takes an `AccessScope` to build its vector-store
filter; an empty scope means "refuse the query", never "no filter".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from django.contrib.auth.models import AnonymousUser, Group
from django.db import models
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest
from guardian.shortcuts import assign_perm, get_objects_for_user, remove_perm

from core.models import Direction, Membership, Visibility

M = TypeVar("M", bound=models.Model)
AnyUser = models.Model | AnonymousUser

_CACHE_ATTR = "_core_access_cache"


@dataclass(frozen=True)
class AccessScope:
    """What a user may read, as plain ids: the input of every retrieval filter."""

    user_id: int | None
    direction_ids: frozenset[int] = field(default_factory=frozenset)
    internal: bool = False
    public: bool = True
    everything: bool = False

    @property
    def is_empty(self) -> bool:
        return not (self.everything or self.public or self.internal or self.direction_ids)


def _is_agent(user: AnyUser | None) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def _cache(user: AnyUser) -> dict:
    cache = getattr(user, _CACHE_ATTR, None)
    if cache is None:
        cache = {}
        setattr(user, _CACHE_ATTR, cache)
    return cache


def clear_cache(user: AnyUser) -> None:
    """Forget the ids computed for `user` (after a membership change in the same request)."""
    if hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)


def member_direction_ids(user: AnyUser | None) -> frozenset[int]:
    """Active directions the user is directly a member of."""
    if not _is_agent(user):
        return frozenset()
    cache = _cache(user)
    if "member" not in cache:
        cache["member"] = frozenset(
            Membership.objects.filter(user=user, direction__active=True).values_list(
                "direction_id", flat=True
            )
        )
    return cache["member"]


def _descendants(root_ids: Iterable[int]) -> set[int]:
    """Root ids plus every active direction below them (the chart is small: a few hundred)."""
    children: dict[int | None, list[int]] = {}
    for pk, parent_id in Direction.objects.filter(active=True).values_list("pk", "parent_id"):
        children.setdefault(parent_id, []).append(pk)
    seen: set[int] = set()
    stack = list(root_ids)
    while stack:
        pk = stack.pop()
        if pk in seen:
            continue
        seen.add(pk)
        stack.extend(children.get(pk, ()))
    return seen


def visible_direction_ids(user: AnyUser | None) -> frozenset[int]:
    """Directions whose `direction`-visibility objects the user may see."""
    if not _is_agent(user):
        return frozenset()
    cache = _cache(user)
    if "visible" not in cache:
        if user.is_superuser:
            cache["visible"] = frozenset(Direction.objects.values_list("pk", flat=True))
        else:
            cache["visible"] = frozenset(_descendants(member_direction_ids(user)))
    return cache["visible"]


def writable_direction_ids(user: AnyUser | None) -> frozenset[int]:
    """Directions in whose name the user may create or edit objects (their own, and below)."""
    return visible_direction_ids(user)


def scope_for(user: AnyUser | None) -> AccessScope:
    """The user's read scope as ids, for filters built outside the ORM (vector store)."""
    if not _is_agent(user):
        return AccessScope(user_id=None, public=True)
    return AccessScope(
        user_id=user.pk,
        direction_ids=visible_direction_ids(user),
        internal=True,
        public=True,
        everything=user.is_superuser,
    )


def _view_perm(model: type[models.Model]) -> str:
    return f"{model._meta.app_label}.view_{model._meta.model_name}"


def shared_ids(user: AnyUser | None, model: type[models.Model]) -> frozenset:
    """Primary keys of `model` objects shared with the user (or one of their groups)."""
    if not _is_agent(user):
        return frozenset()
    cache = _cache(user)
    key = ("shared", model._meta.label)
    if key not in cache:
        cache[key] = frozenset(
            get_objects_for_user(
                user,
                _view_perm(model),
                klass=model,
                accept_global_perms=False,
                with_superuser=False,
            ).values_list("pk", flat=True)
        )
    return cache[key]


def visible_q(user: AnyUser | None, model: type[models.Model], prefix: str = "") -> Q | None:
    """A Q matching the rows of an owned `model` the user may see; None means everything.

    `prefix` lets a selector filter a related model ("collection__").
    """
    if _is_agent(user) and user.is_superuser:
        return None
    q = Q(**{f"{prefix}visibility": Visibility.PUBLIC})
    if _is_agent(user):
        q |= Q(**{f"{prefix}visibility": Visibility.INTERNAL})
        q |= Q(**{f"{prefix}direction_id__in": visible_direction_ids(user)})
        shared = shared_ids(user, model)
        if shared:
            q |= Q(**{f"{prefix}pk__in": shared})
    return q


def filter_visible(user: AnyUser | None, queryset: QuerySet[M]) -> QuerySet[M]:
    """Restrict an owned model's queryset to what the user may see."""
    q = visible_q(user, queryset.model)
    return queryset if q is None else queryset.filter(q)


def can_view(user: AnyUser | None, obj: models.Model) -> bool:
    """Whether the user may see this owned object."""
    if obj.visibility == Visibility.PUBLIC:
        return True
    if not _is_agent(user):
        return False
    if user.is_superuser or obj.visibility == Visibility.INTERNAL:
        return True
    if obj.direction_id in visible_direction_ids(user):
        return True
    return obj.pk in shared_ids(user, type(obj))


def can_write(user: AnyUser | None, obj: models.Model, action: str = "change") -> bool:
    """Model permission *and* row access: the user's role allows `action`, on their direction."""
    if not _is_agent(user):
        return False
    meta = obj._meta
    if not user.has_perm(f"{meta.app_label}.{action}_{meta.model_name}"):
        return False
    return user.is_superuser or obj.direction_id in writable_direction_ids(user)


def get_visible_or_404(
    user: AnyUser | None,
    queryset: QuerySet[M] | type[M],
    request: HttpRequest | None = None,
    **lookup,
) -> M:
    """Fetch one owned object the user may see, or raise Http404 (and audit the denial)."""
    qs = queryset._default_manager.all() if isinstance(queryset, type) else queryset
    try:
        obj = qs.get(**lookup)
    except (qs.model.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("Aucun objet ne correspond à la demande.") from exc
    if not can_view(user, obj):
        from core import audit

        audit.record(
            audit.ACCESS_DENIED,
            request=request,
            actor=user,
            target=obj,
            direction_id=obj.direction_id,
        )
        raise Http404("Aucun objet ne correspond à la demande.")
    return obj


def share(obj: models.Model, with_whom: models.Model | Group) -> None:
    """Open one object to a user or a group beyond its direction."""
    assign_perm(_view_perm(type(obj)), with_whom, obj)


def unshare(obj: models.Model, with_whom: models.Model | Group) -> None:
    remove_perm(_view_perm(type(obj)), with_whom, obj)
