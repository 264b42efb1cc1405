"""Every URL of the project is either behind the login or deliberately public.

The walk goes through the whole URL tree (admin, allauth, core, API) and GETs each URL as an
anonymous visitor:

* a view that does not carry `login_required = False` must redirect to the login page with
  `?next=` (Django's LoginRequiredMiddleware);
* a DRF view (exempted from the middleware by `core.api.ApiAuthMixin`) must answer 401 or 403;
* any other public view must be listed in `PUBLIC_VIEWS` below, so that publishing a page to
  anonymous visitors is a deliberate, reviewed act.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.shortcuts import resolve_url
from django.urls import NoReverseMatch, Resolver404, URLResolver, get_resolver, resolve, reverse
from django.utils.regex_helper import normalize
from rest_framework.views import APIView

from core.tests.factories import UserFactory

# Views anonymous visitors may reach, by URL name (namespace included). Each entry says why.
PUBLIC_VIEWS: dict[str, str] = {
    "core:health": "supervision de la ville, sans donnée",
    "admin:login": "formulaire de connexion de l'administration",
    "account_login": "formulaire de connexion",
    "account_logout": "déconnexion (sans effet pour un visiteur anonyme)",
    "account_inactive": "page « compte désactivé » affichée après une tentative de connexion",
    "account_signup": "inscription : fermée, la page le dit (AccountAdapter)",
    "account_email_verification_sent": "page « e-mail de vérification envoyé »",
    "account_confirm_email": "lien de confirmation d'adresse reçu par e-mail",
    "account_confirm_login_code": "saisie d'un code de connexion reçu par e-mail",
    "account_reset_password": "mot de passe oublié",
    "account_reset_password_done": "mot de passe oublié : e-mail envoyé",
    "account_reset_password_from_key": "lien de réinitialisation reçu par e-mail",
    "account_reset_password_from_key_done": "mot de passe réinitialisé",
    "mfa_authenticate": "second facteur, entre le mot de passe et la session",
    "socialaccount_login_cancelled": "retour de l'annuaire (OIDC) : connexion annulée",
    "socialaccount_signup": "retour de l'annuaire (OIDC) : compléter le compte",
    "openid_connect_login": "départ vers l'annuaire de la ville (OIDC)",
    "openid_connect_callback": "retour de l'annuaire de la ville (OIDC)",
    # The OpenAI-compatible API authenticates by token (Authorization: Bearer) inside the view
    # and answers 401 without one: no session, hence no login redirect.
    "chat_api:openai-models": "API compatible OpenAI, authentifiée par jeton",
    "chat_api:openai-model": "API compatible OpenAI, authentifiée par jeton",
    "chat_api:openai-chat-completions": "API compatible OpenAI, authentifiée par jeton",
    # The citizen portal: anonymous by design, public assistants and public bases only (the
    # views use an anonymous user even when an agent is logged in).
    "chat:public": "assistant citoyen (page publique)",
    "chat:public_ask": "question à un assistant citoyen (limitée en débit)",
    "chat:widget": "assistant citoyen intégré au site de la ville",
    "chat:widget_script": "script du widget pour le site de la ville",
}

# Values tried for each URL parameter, in order; the first combination that builds a URL
# resolving back to the same view wins.
CANDIDATE_VALUES = ("1", "x", str(uuid.UUID(int=1)), "core")
MAX_UNBUILDABLE = 3


@dataclass(frozen=True)
class Route:
    name: str  # namespaced URL name, or the raw route for unnamed patterns
    url: str
    callback: object

    @property
    def is_public(self) -> bool:
        return getattr(self.callback, "login_required", True) is False

    @property
    def is_api(self) -> bool:
        cls = getattr(self.callback, "cls", None)
        return isinstance(cls, type) and issubclass(cls, APIView)


def _iter_chains(patterns, chain=()):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _iter_chains(pattern.url_patterns, (*chain, pattern))
        else:
            yield (*chain, pattern)


def _qualified_name(chain) -> str | None:
    leaf = chain[-1]
    if not leaf.name:
        return None
    namespaces = [r.namespace for r in chain[:-1] if r.namespace]
    return ":".join([*namespaces, leaf.name])


def _resolves_to(url: str, callback) -> bool:
    try:
        return resolve(url).func is callback
    except Resolver404:
        return False


def _build(chain) -> str | None:
    """A concrete URL for the pattern chain, or None."""
    leaf = chain[-1]
    # Each piece's regex (a RoutePattern's is derived from its converters) gives the format
    # string and the parameter names, as `reverse` itself does.
    fmt, params = "", []
    for piece in chain:
        possibilities = normalize(piece.pattern.regex.pattern)
        if not possibilities:
            return None
        piece_fmt, piece_params = possibilities[0]
        fmt += piece_fmt
        params += piece_params
    name = _qualified_name(chain)
    for values in itertools.product(CANDIDATE_VALUES, repeat=len(params)):
        kwargs = dict(zip(params, values, strict=True))
        url = None
        if name:
            try:
                url = reverse(name, kwargs=kwargs or None)
            except NoReverseMatch:
                url = None
        if url is None or not _resolves_to(url, leaf.callback):
            url = "/" + fmt % kwargs
        if _resolves_to(url, leaf.callback):
            return url
    return None


def _collect() -> tuple[list[Route], list[str]]:
    routes, unbuildable = [], []
    for chain in _iter_chains(get_resolver().url_patterns):
        leaf = chain[-1]
        label = _qualified_name(chain) or "".join(str(p.pattern) for p in chain)
        url = _build(chain)
        if url is None:
            unbuildable.append(label)
        else:
            routes.append(Route(label, url, leaf.callback))
    return routes, unbuildable


ROUTES, UNBUILDABLE = _collect()


def test_url_walk_covers_the_project():
    assert len(UNBUILDABLE) <= MAX_UNBUILDABLE, f"URLs impossibles à construire : {UNBUILDABLE}"
    names = {r.name for r in ROUTES}
    # The walk really went through every URL tree of the project.
    for expected in ("core:home", "core:api:announcement-detail", "admin:index", "mfa_index"):
        assert expected in names
    assert len(ROUTES) > 100


def test_public_views_are_exactly_the_allow_list():
    public = {r.name for r in ROUTES if r.is_public and not r.is_api}
    unexpected = public - PUBLIC_VIEWS.keys()
    assert not unexpected, (
        f"Nouvelle(s) page(s) publique(s) : {sorted(unexpected)}. Si c'est voulu, "
        "ajoutez-les à PUBLIC_VIEWS avec la raison."
    )
    stale = PUBLIC_VIEWS.keys() - public
    assert not stale, f"PUBLIC_VIEWS cite des vues qui ne sont plus publiques : {sorted(stale)}"


def _login_target(response) -> tuple[str, list[str]]:
    assert response.status_code == 302, response.status_code
    location = urlsplit(response["Location"])
    return location.path, parse_qs(location.query).get("next", [])


@pytest.mark.django_db
@pytest.mark.parametrize("route", [r for r in ROUTES if not r.is_public], ids=lambda r: r.url)
def test_private_view_redirects_anonymous_to_login(client, route):
    response = client.get(route.url)
    path, next_ = _login_target(response)
    if route.url.startswith("/admin/"):
        # The admin site's own views send to its login URL, which forwards to ours (below).
        assert path in (reverse("admin:login"), "/comptes/login/")
    else:
        assert path == resolve_url(settings.LOGIN_URL) == "/comptes/login/"
    assert next_ == [route.url]


@pytest.mark.django_db
def test_admin_login_forwards_to_the_portal_login(client):
    # The admin's own form would skip the second factor and the login rate limits.
    response = client.get("/admin/login/?next=/admin/core/user/")
    assert _login_target(response) == ("/comptes/login/", ["/admin/core/user/"])
    response = client.post("/admin/login/", {"username": "x", "password": "y"})
    assert _login_target(response)[0] == "/comptes/login/"
    response = client.get("/admin/", follow=True)
    assert response.redirect_chain[-1][0] == "/comptes/login/?next=%2Fadmin%2F"
    assert "Connexion à l'intranet" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("route", [r for r in ROUTES if r.is_api], ids=lambda r: r.url)
def test_api_view_refuses_anonymous(client, route):
    response = client.get(route.url)
    assert response.status_code in (401, 403), f"{route.name} ({route.url})"
    body = response.content.decode()
    assert "openapi" not in body
    assert "paths" not in body
    if response["Content-Type"].startswith("text/html"):
        assert "Accès refusé" in body
    else:
        # DRF's refusal, in French, and nothing else.
        assert "Informations d'authentification non fournies." in body
        json_response = client.get(route.url, HTTP_ACCEPT="application/json")
        assert json_response.json() == {"detail": "Informations d'authentification non fournies."}


@pytest.mark.django_db
def test_api_schema_is_served_to_agents(client):
    client.force_login(UserFactory(roles=["agent"]))
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert "/api/v1/moi/" in response.json()["paths"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "route", [r for r in ROUTES if r.is_public and not r.is_api], ids=lambda r: r.url
)
def test_public_view_answers_anonymous_without_error(client, route):
    assert route.name in PUBLIC_VIEWS
    response = client.get(route.url)
    assert response.status_code < 500
    # A public page never shows the portal's navigation to an anonymous visitor.
    assert b"Se d\xc3\xa9connecter" not in response.content


@pytest.mark.django_db
def test_anonymous_redirect_keeps_the_query_string(client):
    response = client.get("/actualites/?page=2")
    assert response.status_code == 302
    assert parse_qs(urlsplit(response["Location"]).query)["next"] == ["/actualites/?page=2"]
