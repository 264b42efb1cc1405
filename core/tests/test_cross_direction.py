"""Nothing crosses directions, through any path: HTML pages, forms, the JSON API.

Two directions, ALPHA and BRAVO, each publish a `direction` news item with the same title and
one word of their own. Every page and endpoint is checked for the other direction's word.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from django.test import Client
from django.urls import reverse

from core import access, audit
from core.models import Announcement, AuditEvent, Visibility
from core.tests.factories import AnnouncementFactory, DirectionFactory, UserFactory

pytestmark = pytest.mark.django_db

TITLE = "Consignes de fermeture estivale"
WORD_A = "pivoine"
WORD_B = "ornithorynque"


@pytest.fixture
def city():
    a = DirectionFactory(code="ALPHA", name="Direction Alpha")
    b = DirectionFactory(code="BRAVO", name="Direction Bravo")
    item_a = AnnouncementFactory(
        direction=a,
        visibility=Visibility.DIRECTION,
        title=f"{TITLE} {WORD_A}",
        body=f"Réservé à la direction Alpha ({WORD_A}).",
    )
    item_b = AnnouncementFactory(
        direction=b,
        visibility=Visibility.DIRECTION,
        title=f"{TITLE} {WORD_B}",
        body=f"Réservé à la direction Bravo ({WORD_B}).",
    )
    internal_b = AnnouncementFactory(
        direction=b, visibility=Visibility.INTERNAL, title="Note interne de Bravo à tous"
    )
    public_b = AnnouncementFactory(
        direction=b, visibility=Visibility.PUBLIC, title="Avis public de Bravo aux usagers"
    )
    return SimpleNamespace(
        a=a,
        b=b,
        agent_a=UserFactory(roles=["agent"], directions=[a]),
        agent_b=UserFactory(roles=["agent"], directions=[b]),
        manager_a=UserFactory(roles=["agent", "manager"], directions=[a]),
        manager_b=UserFactory(roles=["agent", "manager"], directions=[b]),
        item_a=item_a,
        item_b=item_b,
        internal_b=internal_b,
        public_b=public_b,
    )


def _login(client, user):
    client.force_login(user)
    return client


def _api_ids(client) -> set[int]:
    response = client.get("/api/v1/actualites/")
    assert response.status_code == 200
    return {row["id"] for row in response.json()["results"]}


def _without_csrf(response) -> str:
    """The page with its CSRF token blanked (the token is masked anew on every render)."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", response.content.decode())


def _assert_french_404(response):
    assert response.status_code == 404
    html = response.content.decode()
    assert '<html lang="fr">' in html
    assert "Page introuvable" in html
    assert WORD_B not in html


# --- Reading ------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/actualites/", "/", "/annuaire/ALPHA/"])
def test_agent_sees_own_item_not_the_other_directions(client, city, url):
    response = _login(client, city.agent_a).get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert WORD_A in html
    assert WORD_B not in html
    assert reverse("core:announcement_detail", args=[city.item_b.pk]) not in html


def test_other_direction_page_does_not_show_its_direction_items(client, city):
    response = _login(client, city.agent_a).get("/annuaire/BRAVO/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Direction Bravo" in html
    assert WORD_B not in html
    # Its internal news are for every agent.
    assert city.internal_b.title in html


def test_list_shows_internal_and_public_items_of_the_other_direction(client, city):
    html = _login(client, city.agent_a).get("/actualites/").content.decode()
    assert city.internal_b.title in html
    assert city.public_b.title in html


def test_detail_of_the_other_directions_item_is_a_french_404_and_audited(client, city):
    response = _login(client, city.agent_a).get(f"/actualites/{city.item_b.pk}/")
    _assert_french_404(response)
    event = AuditEvent.objects.get(action=audit.ACCESS_DENIED)
    assert event.actor == city.agent_a
    assert event.object_id == str(city.item_b.pk)


def test_detail_of_own_item_is_readable(client, city):
    response = _login(client, city.agent_a).get(f"/actualites/{city.item_a.pk}/")
    assert response.status_code == 200
    assert WORD_A in response.content.decode()


def test_hidden_and_missing_items_answer_the_same(client, city):
    client = _login(client, city.agent_a)
    hidden = client.get(f"/actualites/{city.item_b.pk}/")
    missing = client.get("/actualites/987654/")
    assert hidden.status_code == missing.status_code == 404
    assert _without_csrf(hidden) == _without_csrf(missing)


@pytest.mark.parametrize("method", ["get", "post"])
def test_manager_gets_404_on_editing_the_other_directions_item(client, city, method):
    client = _login(client, city.manager_a)
    data = {
        "title": "Détourné",
        "body": "x",
        "direction": city.a.pk,
        "visibility": Visibility.PUBLIC,
    }
    url = f"/actualites/{city.item_b.pk}/modifier/"
    response = client.get(url) if method == "get" else client.post(url, data)
    _assert_french_404(response)
    city.item_b.refresh_from_db()
    assert city.item_b.title == f"{TITLE} {WORD_B}"
    assert city.item_b.direction == city.b
    assert city.item_b.visibility == Visibility.DIRECTION


# --- JSON API -----------------------------------------------------------------------------


def test_api_lists_only_own_and_internal_and_public_items(client, city):
    ids = _api_ids(_login(client, city.agent_a))
    assert ids == {city.item_a.pk, city.internal_b.pk, city.public_b.pk}


def test_api_list_of_the_other_agent_is_symmetric(client, city):
    ids = _api_ids(_login(client, city.agent_b))
    assert ids == {city.item_b.pk, city.internal_b.pk, city.public_b.pk}


def test_api_detail_of_the_other_directions_item_is_404(client, city):
    client = _login(client, city.agent_a)
    response = client.get(f"/api/v1/actualites/{city.item_b.pk}/")
    assert response.status_code == 404
    assert WORD_B not in response.content.decode()
    assert AuditEvent.objects.filter(
        action=audit.ACCESS_DENIED, object_id=str(city.item_b.pk), actor=city.agent_a
    ).exists()
    assert client.get(f"/api/v1/actualites/{city.item_a.pk}/").json()["title"] == (
        f"{TITLE} {WORD_A}"
    )


@pytest.mark.parametrize("url", ["/api/v1/actualites/", "/api/v1/actualites/{pk}/"])
def test_anonymous_api_client_gets_json_403(client, city, url):
    response = client.get(url.format(pk=city.public_b.pk))
    assert response.status_code == 403
    assert response["Content-Type"].startswith("application/json")
    assert "detail" in response.json()
    assert WORD_A not in response.content.decode()


@pytest.mark.parametrize(
    "url", ["/", "/actualites/", "/actualites/{pk}/", "/annuaire/ALPHA/", "/actualites/nouvelle/"]
)
def test_anonymous_html_pages_redirect_to_login(client, city, url):
    url = url.format(pk=city.public_b.pk)
    response = client.get(url)
    assert response.status_code == 302
    login_url = reverse("account_login")
    assert response["Location"].startswith(f"{login_url}?next=")
    assert WORD_A not in response.content.decode()


# --- Writing ------------------------------------------------------------------------------


def _form(direction, **overrides):
    data = {
        "title": "Fermeture du parking",
        "body": "Le parking sera fermé lundi.",
        "direction": direction.pk,
        "visibility": Visibility.DIRECTION,
    }
    data.update(overrides)
    return data


def test_manager_cannot_publish_for_the_other_direction(client, city):
    before = Announcement.objects.count()
    response = _login(client, city.manager_a).post("/actualites/nouvelle/", _form(city.b))
    assert response.status_code == 200
    assert "direction" in response.context["form"].errors
    assert Announcement.objects.count() == before
    assert not Announcement.objects.filter(title="Fermeture du parking").exists()


def test_manager_publishes_for_own_direction(client, city):
    response = _login(client, city.manager_a).post("/actualites/nouvelle/", _form(city.a))
    created = Announcement.objects.get(title="Fermeture du parking")
    assert response.status_code == 302
    assert response["Location"] == f"/actualites/{created.pk}/"
    assert created.direction == city.a
    assert created.author == city.manager_a


def test_publication_form_offers_only_own_directions(client, city):
    response = _login(client, city.manager_a).get("/actualites/nouvelle/")
    assert response.status_code == 200
    offered = set(response.context["form"].fields["direction"].queryset)
    assert offered == {city.a}
    assert "Direction Bravo" not in response.content.decode()


def test_manager_cannot_move_own_item_to_the_other_direction(client, city):
    url = f"/actualites/{city.item_a.pk}/modifier/"
    response = _login(client, city.manager_a).post(
        url, _form(city.b, title=city.item_a.title, body=city.item_a.body)
    )
    assert response.status_code == 200
    assert "direction" in response.context["form"].errors
    city.item_a.refresh_from_db()
    assert city.item_a.direction == city.a


def test_manager_edits_own_item(client, city):
    url = f"/actualites/{city.item_a.pk}/modifier/"
    response = _login(client, city.manager_a).post(
        url, _form(city.a, title=f"{TITLE} {WORD_A} (modifiée)")
    )
    assert response.status_code == 302
    city.item_a.refresh_from_db()
    assert city.item_a.title == f"{TITLE} {WORD_A} (modifiée)"
    assert city.item_a.direction == city.a


# --- Opening an item ----------------------------------------------------------------------


def test_a_share_opens_exactly_that_item_everywhere(client, city):
    other_b = AnnouncementFactory(
        direction=city.b, visibility=Visibility.DIRECTION, title="Note confidentielle zygomatique"
    )
    access.share(city.item_b, city.agent_a)
    client = _login(client, city.agent_a)

    html = client.get("/actualites/").content.decode()
    assert WORD_B in html
    assert "zygomatique" not in html

    assert client.get(f"/actualites/{city.item_b.pk}/").status_code == 200
    assert client.get(f"/actualites/{other_b.pk}/").status_code == 404

    assert _api_ids(client) == {
        city.item_a.pk,
        city.item_b.pk,
        city.internal_b.pk,
        city.public_b.pk,
    }
    assert client.get(f"/api/v1/actualites/{city.item_b.pk}/").status_code == 200
    assert client.get(f"/api/v1/actualites/{other_b.pk}/").status_code == 404


def test_a_share_does_not_open_editing(client, city):
    access.share(city.item_b, city.manager_a)
    response = _login(client, city.manager_a).get(f"/actualites/{city.item_b.pk}/modifier/")
    assert response.status_code == 403


def test_switching_to_internal_opens_the_item_to_the_other_direction(client, city):
    client_b = _login(client, city.agent_b)
    assert client_b.get(f"/actualites/{city.item_a.pk}/").status_code == 404
    assert WORD_A not in client_b.get("/actualites/").content.decode()

    manager_client = _login(Client(), city.manager_a)
    response = manager_client.post(
        f"/actualites/{city.item_a.pk}/modifier/",
        _form(city.a, title=city.item_a.title, body=city.item_a.body, visibility="internal"),
    )
    assert response.status_code == 302

    assert client_b.get(f"/actualites/{city.item_a.pk}/").status_code == 200
    assert WORD_A in client_b.get("/actualites/").content.decode()
    assert city.item_a.pk in _api_ids(client_b)


# --- Role refusals ------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/actualites/nouvelle/", "/audit/"])
def test_agent_gets_a_french_403_that_is_audited(client, city, url):
    response = _login(client, city.agent_a).get(url)
    assert response.status_code == 403
    html = response.content.decode()
    assert '<html lang="fr">' in html
    assert "Accès refusé" in html
    event = AuditEvent.objects.get(action=audit.PERMISSION_DENIED)
    assert event.actor == city.agent_a
    assert event.details["path"] == url


def test_agent_cannot_publish_by_posting(client, city):
    before = Announcement.objects.count()
    response = _login(client, city.agent_a).post("/actualites/nouvelle/", _form(city.a))
    assert response.status_code == 403
    assert Announcement.objects.count() == before


def test_agent_cannot_edit_even_own_directions_item(client, city):
    response = _login(client, city.agent_a).post(
        f"/actualites/{city.item_a.pk}/modifier/", _form(city.a, title="Piratée")
    )
    assert response.status_code == 403
    city.item_a.refresh_from_db()
    assert city.item_a.title == f"{TITLE} {WORD_A}"
