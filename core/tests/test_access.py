"""The access rules of core/access.py, checked cell by cell on a small organisation chart.

Chart::

    DGA-RES (dga)
    ├── DSI (direction)
    │   └── DSI-SUP (service)
    └── FIN (direction)
    COM (direction, no parent)

Every cell of the matrix asserts that `can_view` (one object, in Python) and `filter_visible`
(a queryset, in SQL) give the same answer: they are two implementations of one rule.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.contrib.auth.models import AnonymousUser, Group
from django.http import Http404
from django.test import RequestFactory

from core import access, audit
from core.models import Announcement, AuditEvent, Direction, Membership, Visibility
from core.tests.factories import AnnouncementFactory, DirectionFactory, UserFactory

pytestmark = pytest.mark.django_db

OWNERS = ("DSI", "FIN", "DSI-SUP", "DGA-RES")
VISIBILITIES = (Visibility.DIRECTION, Visibility.INTERNAL, Visibility.PUBLIC)

# Which owners' `direction`-visibility items each user sees (columns follow OWNERS).
#                        DSI    FIN    DSI-SUP DGA-RES
DIRECTION_MATRIX: dict[str, tuple[bool, bool, bool, bool]] = {
    "dsi_member": (True, False, True, False),
    "fin_member": (False, True, False, False),
    "dsi_sup_member": (False, False, True, False),
    "dga_member": (True, True, True, True),
    "com_member": (False, False, False, False),
    "no_membership": (False, False, False, False),
    "inactive_dsi_member": (False, False, False, False),
    "superuser": (True, True, True, True),
    "anonymous": (False, False, False, False),
}
# Who sees `internal` items: every active, logged-in user.
SEES_INTERNAL = {
    "dsi_member": True,
    "fin_member": True,
    "dsi_sup_member": True,
    "dga_member": True,
    "com_member": True,
    "no_membership": True,
    "inactive_dsi_member": False,
    "superuser": True,
    "anonymous": False,
}


def _expected(user_key: str, owner: str, visibility: str) -> bool:
    if visibility == Visibility.PUBLIC:
        return True
    if visibility == Visibility.INTERNAL:
        return SEES_INTERNAL[user_key]
    return DIRECTION_MATRIX[user_key][OWNERS.index(owner)]


MATRIX = [
    pytest.param(
        user_key,
        owner,
        visibility,
        _expected(user_key, owner, visibility),
        id=f"{user_key}-{owner}-{visibility}",
    )
    for user_key in DIRECTION_MATRIX
    for owner in OWNERS
    for visibility in VISIBILITIES
]


@pytest.fixture
def world():
    dga = DirectionFactory(code="DGA-RES", name="DGA Ressources", kind=Direction.Kind.DGA)
    dsi = DirectionFactory(code="DSI", name="Systèmes d'information", parent=dga)
    fin = DirectionFactory(code="FIN", name="Finances", parent=dga)
    dsi_sup = DirectionFactory(
        code="DSI-SUP", name="Support", kind=Direction.Kind.SERVICE, parent=dsi
    )
    com = DirectionFactory(code="COM", name="Communication")
    directions = {d.code: d for d in (dga, dsi, fin, dsi_sup, com)}

    users = {
        "dsi_member": UserFactory(directions=[dsi]),
        "fin_member": UserFactory(directions=[fin]),
        "dsi_sup_member": UserFactory(directions=[dsi_sup]),
        "dga_member": UserFactory(directions=[dga]),
        "com_member": UserFactory(directions=[com]),
        "no_membership": UserFactory(),
        "inactive_dsi_member": UserFactory(is_active=False, directions=[dsi]),
        "superuser": UserFactory(is_superuser=True, is_staff=True),
        "anonymous": AnonymousUser(),
    }
    items = {
        (code, visibility): AnnouncementFactory(
            direction=directions[code], visibility=visibility, title=f"{code} {visibility}"
        )
        for code in OWNERS
        for visibility in VISIBILITIES
    }
    return SimpleNamespace(directions=directions, users=users, items=items)


def _fresh(user):
    """The same account reloaded, so no per-request cache survives from a previous call."""
    if not user.is_authenticated:
        return AnonymousUser()
    return type(user).objects.get(pk=user.pk)


def _in_filter(user, obj) -> bool:
    return access.filter_visible(user, Announcement.objects.all()).filter(pk=obj.pk).exists()


def _assert_visibility(user, obj, expected: bool) -> None:
    assert access.can_view(user, obj) is expected, "can_view"
    assert _in_filter(user, obj) is expected, "filter_visible"


# --- The matrix -----------------------------------------------------------------------------


@pytest.mark.parametrize(("user_key", "owner", "visibility", "expected"), MATRIX)
def test_visibility_matrix(world, user_key, owner, visibility, expected):
    user = world.users[user_key]
    obj = world.items[(owner, visibility)]
    _assert_visibility(user, obj, expected)


@pytest.mark.parametrize("user_key", list(DIRECTION_MATRIX))
def test_filter_visible_returns_exactly_the_expected_rows_once(world, user_key):
    """No extra row, and no row twice (a join on shares must not duplicate)."""
    user = world.users[user_key]
    expected = {
        obj.pk
        for (owner, visibility), obj in world.items.items()
        if _expected(user_key, owner, visibility)
    }
    qs = access.filter_visible(user, Announcement.objects.all())
    pks = list(qs.values_list("pk", flat=True))
    assert len(pks) == len(set(pks))
    assert set(pks) == expected
    assert qs.count() == len(expected)


def test_member_of_two_directions_sees_both(world):
    user = UserFactory(directions=[world.directions["FIN"], world.directions["COM"]])
    com_item = AnnouncementFactory(direction=world.directions["COM"], title="COM direction")
    _assert_visibility(user, world.items[("FIN", Visibility.DIRECTION)], True)
    _assert_visibility(user, com_item, True)
    _assert_visibility(user, world.items[("DSI", Visibility.DIRECTION)], False)


def test_inactive_superuser_sees_only_public(world):
    user = UserFactory(is_superuser=True, is_staff=True, is_active=False)
    _assert_visibility(user, world.items[("DSI", Visibility.PUBLIC)], True)
    _assert_visibility(user, world.items[("DSI", Visibility.INTERNAL)], False)
    _assert_visibility(user, world.items[("DSI", Visibility.DIRECTION)], False)


# --- Inactive directions --------------------------------------------------------------------


def _deactivate(direction: Direction) -> None:
    direction.active = False
    direction.save(update_fields=["active"])


def test_membership_of_an_inactive_direction_grants_nothing(world):
    _deactivate(world.directions["DSI"])
    user = _fresh(world.users["dsi_member"])
    _assert_visibility(user, world.items[("DSI", Visibility.DIRECTION)], False)
    _assert_visibility(user, world.items[("DSI-SUP", Visibility.DIRECTION)], False)
    # Still an active agent: internal news stays readable.
    _assert_visibility(user, world.items[("FIN", Visibility.INTERNAL)], True)
    assert access.member_direction_ids(user) == frozenset()
    assert access.scope_for(user).direction_ids == frozenset()


def test_inactive_dga_grants_nothing_below_it(world):
    _deactivate(world.directions["DGA-RES"])
    user = _fresh(world.users["dga_member"])
    for owner in OWNERS:
        _assert_visibility(user, world.items[(owner, Visibility.DIRECTION)], False)


def test_service_member_keeps_its_service_when_the_parent_is_inactive(world):
    _deactivate(world.directions["DSI"])
    user = _fresh(world.users["dsi_sup_member"])
    _assert_visibility(user, world.items[("DSI-SUP", Visibility.DIRECTION)], True)
    _assert_visibility(user, world.items[("DSI", Visibility.DIRECTION)], False)


# --- Guardian shares ------------------------------------------------------------------------


def test_share_with_a_user_opens_exactly_that_object(world):
    fin = world.directions["FIN"]
    shared = world.items[("FIN", Visibility.DIRECTION)]
    sibling = AnnouncementFactory(direction=fin, title="FIN autre note")
    user = world.users["dsi_member"]
    _assert_visibility(_fresh(user), shared, False)

    access.share(shared, user)

    user = _fresh(user)
    _assert_visibility(user, shared, True)
    _assert_visibility(user, sibling, False)
    # Other users are not affected.
    _assert_visibility(_fresh(world.users["com_member"]), shared, False)


def test_share_with_a_group_opens_the_object_to_its_members_only(world):
    shared = world.items[("DSI", Visibility.DIRECTION)]
    jury = Group.objects.create(name="Jury de recrutement")
    member = world.users["com_member"]
    member.groups.add(jury)

    access.share(shared, jury)

    _assert_visibility(_fresh(member), shared, True)
    _assert_visibility(_fresh(world.users["no_membership"]), shared, False)
    _assert_visibility(_fresh(member), world.items[("DSI-SUP", Visibility.DIRECTION)], False)


def test_unshare_closes_the_object_again(world):
    shared = world.items[("FIN", Visibility.DIRECTION)]
    user = world.users["com_member"]
    access.share(shared, user)
    _assert_visibility(_fresh(user), shared, True)

    access.unshare(shared, user)

    _assert_visibility(_fresh(user), shared, False)


def test_unshare_from_a_group(world):
    shared = world.items[("FIN", Visibility.DIRECTION)]
    group = Group.objects.create(name="Commission")
    user = world.users["com_member"]
    user.groups.add(group)
    access.share(shared, group)
    _assert_visibility(_fresh(user), shared, True)

    access.unshare(shared, group)

    _assert_visibility(_fresh(user), shared, False)


def test_share_with_an_inactive_user_grants_nothing(world):
    shared = world.items[("FIN", Visibility.DIRECTION)]
    user = world.users["inactive_dsi_member"]
    access.share(shared, user)
    _assert_visibility(_fresh(user), shared, False)


# --- scope_for ------------------------------------------------------------------------------


def test_scope_for_anonymous_is_public_only_but_not_empty(world):
    scope = access.scope_for(AnonymousUser())
    assert scope.user_id is None
    assert scope.public is True
    assert scope.internal is False
    assert scope.everything is False
    assert scope.direction_ids == frozenset()
    assert scope.is_empty is False


def test_scope_for_none_is_public_only(world):
    scope = access.scope_for(None)
    assert scope.user_id is None
    assert scope.internal is False
    assert scope.direction_ids == frozenset()


def test_scope_for_inactive_user_is_public_only(world):
    scope = access.scope_for(world.users["inactive_dsi_member"])
    assert scope.user_id is None
    assert scope.internal is False
    assert scope.direction_ids == frozenset()


@pytest.mark.parametrize(
    ("user_key", "codes"),
    [
        ("dsi_member", {"DSI", "DSI-SUP"}),
        ("dsi_sup_member", {"DSI-SUP"}),
        ("fin_member", {"FIN"}),
        ("dga_member", {"DGA-RES", "DSI", "FIN", "DSI-SUP"}),
        ("com_member", {"COM"}),
        ("no_membership", set()),
    ],
)
def test_scope_for_agent(world, user_key, codes):
    user = world.users[user_key]
    scope = access.scope_for(user)
    assert scope.user_id == user.pk
    assert scope.direction_ids == frozenset(world.directions[c].pk for c in codes)
    assert scope.internal is True
    assert scope.public is True
    assert scope.everything is False
    assert scope.is_empty is False


def test_scope_for_superuser_is_everything(world):
    scope = access.scope_for(world.users["superuser"])
    assert scope.everything is True
    assert scope.direction_ids == frozenset(d.pk for d in world.directions.values())


def test_empty_scope_is_empty():
    assert access.AccessScope(user_id=None, public=False).is_empty is True


# --- get_visible_or_404 ---------------------------------------------------------------------


def test_get_visible_or_404_returns_a_visible_object_without_audit(world):
    obj = world.items[("DSI", Visibility.DIRECTION)]
    got = access.get_visible_or_404(world.users["dsi_member"], Announcement, pk=obj.pk)
    assert got == obj
    assert not AuditEvent.objects.exists()


def test_get_visible_or_404_hides_and_audits_the_denial(world):
    obj = world.items[("FIN", Visibility.DIRECTION)]
    user = world.users["dsi_member"]
    request = RequestFactory().get(f"/actualites/{obj.pk}/", REMOTE_ADDR="10.1.2.3")
    request.user = user

    with pytest.raises(Http404):
        access.get_visible_or_404(user, Announcement.objects.all(), request=request, pk=obj.pk)

    event = AuditEvent.objects.get()
    assert event.action == audit.ACCESS_DENIED
    assert event.actor == user
    assert event.object_type == "core.Announcement"
    assert event.object_id == str(obj.pk)
    assert event.object_label == obj.title
    assert event.direction_id == world.directions["FIN"].pk
    assert event.ip_address == "10.1.2.3"
    assert event.details["path"] == f"/actualites/{obj.pk}/"


def test_get_visible_or_404_audits_anonymous_denials_without_actor(world):
    obj = world.items[("DSI", Visibility.INTERNAL)]
    with pytest.raises(Http404):
        access.get_visible_or_404(AnonymousUser(), Announcement, pk=obj.pk)
    event = AuditEvent.objects.get()
    assert event.action == audit.ACCESS_DENIED
    assert event.actor is None
    assert event.object_id == str(obj.pk)


@pytest.mark.parametrize("pk", [987654, "pas-un-nombre"])
def test_get_visible_or_404_missing_object_is_404_without_audit(world, pk):
    with pytest.raises(Http404):
        access.get_visible_or_404(world.users["dsi_member"], Announcement, pk=pk)
    assert not AuditEvent.objects.exists()


def test_hidden_and_missing_objects_give_the_same_404(world):
    """The message must not reveal that a hidden object exists."""
    user = world.users["dsi_member"]
    hidden = world.items[("FIN", Visibility.DIRECTION)]
    with pytest.raises(Http404) as hidden_exc:
        access.get_visible_or_404(user, Announcement, pk=hidden.pk)
    with pytest.raises(Http404) as missing_exc:
        access.get_visible_or_404(user, Announcement, pk=987654)
    assert str(hidden_exc.value) == str(missing_exc.value)


# --- can_write ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("roles", "member_of", "owner", "expected"),
    [
        pytest.param(["agent", "manager"], "DSI", "DSI", True, id="manager-own-direction"),
        pytest.param(["agent", "manager"], "DSI", "DSI-SUP", True, id="manager-service-below"),
        pytest.param(["agent", "manager"], "DSI", "FIN", False, id="manager-other-direction"),
        pytest.param(["agent", "manager"], "DSI", "DGA-RES", False, id="manager-direction-above"),
        pytest.param(["agent", "manager"], "DSI-SUP", "DSI", False, id="service-manager-parent"),
        pytest.param(["agent", "manager"], "DGA-RES", "FIN", True, id="dga-manager-below"),
        pytest.param(["agent", "manager"], None, "DSI", False, id="manager-no-membership"),
        pytest.param(["agent"], "DSI", "DSI", False, id="agent-own-direction"),
        pytest.param([], "DSI", "DSI", False, id="no-role-own-direction"),
    ],
)
def test_can_write_needs_model_permission_and_direction(world, roles, member_of, owner, expected):
    directions = [world.directions[member_of]] if member_of else []
    user = UserFactory(roles=roles, directions=directions)
    obj = world.items[(owner, Visibility.INTERNAL)]
    assert access.can_write(user, obj) is expected


def test_role_permissions_behind_can_write():
    manager = UserFactory(roles=["agent", "manager"])
    agent = UserFactory(roles=["agent"])
    assert manager.has_perm("core.change_announcement")
    assert not agent.has_perm("core.change_announcement")


def test_can_write_delete_action(world):
    manager = UserFactory(roles=["agent", "manager"], directions=[world.directions["FIN"]])
    agent = UserFactory(roles=["agent"], directions=[world.directions["FIN"]])
    obj = world.items[("FIN", Visibility.DIRECTION)]
    assert access.can_write(manager, obj, "delete") is True
    assert access.can_write(agent, obj, "delete") is False


def test_can_write_superuser_and_inactive_and_anonymous(world):
    obj = world.items[("FIN", Visibility.DIRECTION)]
    assert access.can_write(world.users["superuser"], obj) is True
    inactive_manager = UserFactory(
        roles=["agent", "manager"], directions=[world.directions["FIN"]], is_active=False
    )
    assert access.can_write(inactive_manager, obj) is False
    assert access.can_write(AnonymousUser(), obj) is False
    assert access.can_write(None, obj) is False


def test_a_share_lets_read_but_not_write(world):
    obj = world.items[("FIN", Visibility.DIRECTION)]
    manager = UserFactory(roles=["agent", "manager"], directions=[world.directions["DSI"]])
    access.share(obj, manager)
    manager = _fresh(manager)
    assert access.can_view(manager, obj) is True
    assert access.can_write(manager, obj) is False


def test_writable_directions_are_own_and_below(world):
    user = world.users["dsi_member"]
    expected = {world.directions["DSI"].pk, world.directions["DSI-SUP"].pk}
    assert access.writable_direction_ids(user) == frozenset(expected)


# --- Per-request cache ----------------------------------------------------------------------


def test_clear_cache_makes_a_new_membership_visible(world):
    user = _fresh(world.users["no_membership"])
    obj = world.items[("FIN", Visibility.DIRECTION)]
    assert access.can_view(user, obj) is False

    Membership.objects.create(user=user, direction=world.directions["FIN"])
    # Same request, same user object: the ids computed above are reused.
    assert access.can_view(user, obj) is False

    access.clear_cache(user)

    assert access.can_view(user, obj) is True
    assert _in_filter(user, obj) is True
    assert world.directions["FIN"].pk in access.member_direction_ids(user)


def test_clear_cache_makes_a_new_share_visible(world):
    user = _fresh(world.users["com_member"])
    obj = world.items[("FIN", Visibility.DIRECTION)]
    assert access.can_view(user, obj) is False
    access.share(obj, user)
    access.clear_cache(user)
    assert access.can_view(user, obj) is True


def test_clear_cache_on_a_user_without_cache_is_harmless(world):
    access.clear_cache(_fresh(world.users["dsi_member"]))
    access.clear_cache(AnonymousUser())
