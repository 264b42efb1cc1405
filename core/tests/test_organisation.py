"""The organisation chart's rules, the demo seed and the role groups."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import reverse

from core import access, demo, roles
from core.models import Announcement, Direction, Membership, User
from core.services import sync_roles
from core.tests.factories import DirectionFactory

pytestmark = pytest.mark.django_db

Kind = Direction.Kind
CODE_MESSAGE = "Le code ne contient que des majuscules, des chiffres, « - » et « _ »."


def _errors(direction: Direction) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as exc:
        direction.full_clean()
    return exc.value.message_dict


# --- Direction.full_clean -------------------------------------------------------------------


def test_a_direction_cannot_be_its_own_parent():
    dsi = DirectionFactory(code="DSI")
    dsi.parent = dsi
    assert _errors(dsi) == {"parent": ["Une direction ne peut pas être rattachée à elle-même."]}


def test_a_two_node_cycle_is_rejected():
    dgs = DirectionFactory(code="DGS", kind=Kind.DGS)
    dga = DirectionFactory(code="DGA-RES", kind=Kind.DGA, parent=dgs)
    dgs.parent = dga
    assert _errors(dgs) == {"parent": ["Ce rattachement créerait une boucle dans l'organigramme."]}


def test_a_longer_cycle_is_rejected():
    dgs = DirectionFactory(code="DGS", kind=Kind.DGS)
    dga = DirectionFactory(code="DGA-RES", kind=Kind.DGA, parent=dgs)
    dsi = DirectionFactory(code="DSI", kind=Kind.DIRECTION, parent=dga)
    dgs.parent = dsi
    assert _errors(dgs) == {"parent": ["Ce rattachement créerait une boucle dans l'organigramme."]}


@pytest.mark.parametrize(
    ("kind", "parent_kind", "message"),
    [
        (Kind.DIRECTION, Kind.SERVICE, "Un(e) direction ne peut pas dépendre d'un(e) service."),
        (
            Kind.DGA,
            Kind.DIRECTION,
            "Un(e) direction générale adjointe ne peut pas dépendre d'un(e) direction.",
        ),
        (Kind.SERVICE, Kind.SERVICE, "Un(e) service ne peut pas dépendre d'un(e) service."),
        (
            Kind.DIRECTION,
            Kind.DIRECTION,
            "Un(e) direction ne peut pas dépendre d'un(e) direction.",
        ),
        (
            Kind.DGS,
            Kind.DGA,
            "Un(e) direction générale des services ne peut pas dépendre "
            "d'un(e) direction générale adjointe.",
        ),
    ],
)
def test_inverted_levels_are_rejected_in_french(kind, parent_kind, message):
    parent = DirectionFactory(code="PARENT", kind=parent_kind)
    child = Direction(code="ENFANT", name="Enfant", kind=kind, parent=parent)
    assert _errors(child) == {"parent": [message]}


@pytest.mark.parametrize(
    ("kind", "parent_kind"),
    [
        (Kind.DGA, Kind.DGS),
        (Kind.DIRECTION, Kind.DGA),
        (Kind.DIRECTION, Kind.DGS),
        (Kind.SERVICE, Kind.DIRECTION),
        (Kind.SERVICE, Kind.DGA),
    ],
)
def test_descending_levels_are_accepted(kind, parent_kind):
    parent = DirectionFactory(code="PARENT", kind=parent_kind)
    Direction(code="ENFANT", name="Enfant", kind=kind, parent=parent).full_clean()


def test_moving_a_direction_under_another_branch_is_accepted():
    dgs = DirectionFactory(code="DGS", kind=Kind.DGS)
    res = DirectionFactory(code="DGA-RES", kind=Kind.DGA, parent=dgs)
    cdv = DirectionFactory(code="DGA-CDV", kind=Kind.DGA, parent=dgs)
    fon = DirectionFactory(code="FON", kind=Kind.DIRECTION, parent=res)
    fon.parent = cdv
    fon.full_clean()


def test_an_unknown_level_is_a_validation_error_not_a_crash():
    parent = DirectionFactory(code="DGA", kind=Kind.DGA)
    errors = _errors(Direction(code="BUREAU", name="Bureau", kind="bureau", parent=parent))
    assert list(errors) == ["kind"]


@pytest.mark.parametrize(
    "code", ["dsi", "Dsi", "DS I", " DSI", "DSI ", "-DSI", "DSI/SUP", "DRH.REC"]
)
def test_codes_other_than_capitals_digits_dash_underscore_are_rejected(code):
    errors = _errors(Direction(code=code, name="Direction"))
    assert errors == {"code": [CODE_MESSAGE]}


def test_a_code_with_a_trailing_newline_is_rejected():
    _errors(Direction(code="DSI\n", name="Direction"))


@pytest.mark.parametrize("code", ["DSI", "DRH-REC", "DGA_1", "2NDE"])
def test_valid_codes(code):
    Direction(code=code, name="Direction").full_clean()


# --- seed_demo ------------------------------------------------------------------------------


def _seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def _snapshot() -> dict:
    return {
        "counts": {
            model.__name__: model.objects.count()
            for model in (User, Direction, Membership, Announcement, Group)
        },
        "users": sorted(
            (u.email, u.password, tuple(sorted(u.groups.values_list("name", flat=True))))
            for u in User.objects.all()
        ),
        "directions": sorted(
            Direction.objects.values_list("pk", "code", "name", "kind", "parent_id", "active")
        ),
        "memberships": sorted(Membership.objects.values_list("pk", "user_id", "direction_id")),
        "announcements": sorted(
            Announcement.objects.values_list(
                "pk", "direction_id", "title", "visibility", "author_id", "published_at"
            )
        ),
        "group_permissions": sorted(
            Group.permissions.through.objects.values_list("group_id", "permission_id")
        ),
    }


@pytest.fixture
def seeded():
    output = _seed()
    return output


def test_seed_demo_twice_creates_and_changes_nothing(seeded):
    before = _snapshot()
    output = _seed()
    assert _snapshot() == before
    assert "(0 créés à cette exécution)" in output
    assert demo.DEMO_PASSWORD in output


def test_first_seed_reports_the_created_accounts(seeded):
    assert f"{len(demo.USERS)} agents ({len(demo.USERS)} créés à cette exécution)" in seeded


def test_seed_demo_keeps_a_password_changed_by_the_tester(seeded):
    user = User.objects.get(email=f"juriste@{demo.DEMO_DOMAIN}")
    user.set_password("Un-autre-mot-de-passe-2026")
    user.save()
    _seed()
    user.refresh_from_db()
    assert user.check_password("Un-autre-mot-de-passe-2026")


def test_demo_city_size(seeded):
    codes = set(Direction.objects.values_list("code", flat=True))
    assert len(codes) >= 8
    assert {"DSI", "DRH", "DRH-REC", "FIN", "DAJA", "FON", "PROP", "COM"} <= codes
    demo_users = User.objects.filter(email__endswith=f"@{demo.DEMO_DOMAIN}")
    assert demo_users.count() >= 15
    # django-guardian adds its own "AnonymousUser" row; every other account is a demo one.
    assert demo_users.count() == len(demo.USERS)


def test_demo_chart_follows_the_demo_data_and_is_valid(seeded):
    for code, name, kind, parent_code, _missions in demo.DIRECTIONS:
        direction = Direction.objects.get(code=code)
        assert direction.name == name
        assert direction.kind == kind
        assert (direction.parent.code if direction.parent else None) == parent_code
        assert direction.active
        direction.full_clean()


@pytest.mark.parametrize("entry", demo.USERS, ids=[u[0] for u in demo.USERS])
def test_every_demo_user_logs_in_by_email_with_roles_and_memberships(seeded, client, entry):
    local, first, last, title, memberships, role_names, staff, superuser = entry
    email = f"{local}@{demo.DEMO_DOMAIN}"
    # allauth authenticates the login form with an `email` credential.
    assert client.login(email=email, password=demo.DEMO_PASSWORD)

    user = User.objects.get(email=email)
    assert (user.first_name, user.last_name, user.job_title) == (first, last, title)
    assert (user.is_staff, user.is_superuser, user.is_active) == (staff, superuser, True)
    assert set(user.groups.values_list("name", flat=True)) == set(role_names)
    assert set(user.memberships.values_list("direction__code", "is_head")) == set(memberships)


def test_demo_login_through_the_login_form(seeded, client):
    email = f"recruteur@{demo.DEMO_DOMAIN}"
    response = client.post(
        reverse("account_login"), {"login": email, "password": demo.DEMO_PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("core:home")
    assert client.get("/").status_code == 200


def test_demo_login_with_a_wrong_password_fails(seeded, client):
    assert not client.login(email=f"drh@{demo.DEMO_DOMAIN}", password="mauvais-mot-de-passe")
    assert authenticate(email=f"drh@{demo.DEMO_DOMAIN}", password=demo.DEMO_PASSWORD)


def test_demo_news_follow_the_access_rules(seeded):
    recruiter = User.objects.get(email=f"recruteur@{demo.DEMO_DOMAIN}")
    hr_head = User.objects.get(email=f"drh@{demo.DEMO_DOMAIN}")
    jury_grid = Announcement.objects.get(direction__code="DRH-REC")
    budget_notes = Announcement.objects.get(direction__code="FIN", visibility="direction")
    # DRH sees its recruitment service's news; the recruiter does not see FIN's.
    assert access.can_view(hr_head, jury_grid)
    assert access.can_view(recruiter, jury_grid)
    assert not access.can_view(recruiter, budget_notes)
    assert budget_notes.author == User.objects.get(email=f"finances@{demo.DEMO_DOMAIN}")


# --- Roles ----------------------------------------------------------------------------------


def _existing_perms(role: str) -> set[str]:
    wanted = set()
    for perm in roles.ROLE_PERMISSIONS[role]:
        app_label, codename = perm.split(".", 1)
        if Permission.objects.filter(content_type__app_label=app_label, codename=codename):
            wanted.add(perm)
    return wanted


def _group_perms(group: Group) -> set[str]:
    return {
        f"{app}.{codename}"
        for app, codename in group.permissions.values_list("content_type__app_label", "codename")
    }


def test_sync_roles_creates_the_nine_groups_with_their_permissions():
    Group.objects.all().delete()
    groups = sync_roles()
    assert len(roles.ROLE_NAMES) == 9
    assert [g.name for g in groups] == list(roles.ROLE_NAMES)
    assert set(Group.objects.values_list("name", flat=True)) == set(roles.ROLE_NAMES)
    for name in roles.ROLE_NAMES:
        group = Group.objects.get(name=name)
        expected = _existing_perms(name)
        assert expected, name
        assert _group_perms(group) == expected


def test_manager_role_can_publish_and_agent_role_cannot():
    sync_roles()
    assert "core.change_announcement" in _group_perms(Group.objects.get(name=roles.MANAGER))
    assert "core.change_announcement" not in _group_perms(Group.objects.get(name=roles.AGENT))
    assert "core.view_auditevent" in _group_perms(Group.objects.get(name=roles.ADMIN_IA))


def test_sync_roles_is_idempotent():
    sync_roles()
    before = sorted(Group.objects.values_list("pk", "name"))
    before_perms = sorted(
        Group.permissions.through.objects.values_list("group_id", "permission_id")
    )
    sync_roles()
    assert sorted(Group.objects.values_list("pk", "name")) == before
    assert (
        sorted(Group.permissions.through.objects.values_list("group_id", "permission_id"))
        == before_perms
    )


def test_sync_roles_restores_a_permission_removed_by_hand():
    sync_roles()
    manager = Group.objects.get(name=roles.MANAGER)
    perm = Permission.objects.get(content_type__app_label="core", codename="change_announcement")
    manager.permissions.remove(perm)
    assert "core.change_announcement" not in _group_perms(manager)

    sync_roles()

    assert "core.change_announcement" in _group_perms(manager)
    assert _group_perms(manager) == _existing_perms(roles.MANAGER)


def test_sync_roles_skips_permissions_of_apps_not_installed(monkeypatch):
    monkeypatch.setitem(
        roles.ROLE_PERMISSIONS,
        roles.AGENT,
        (*roles.ROLE_PERMISSIONS[roles.AGENT], "courrier.view_courrier"),
    )
    sync_roles()
    assert _group_perms(Group.objects.get(name=roles.AGENT)) == {
        "core.view_announcement",
        "core.view_direction",
    }
