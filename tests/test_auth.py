"""Login, logout, password reset, second factor, admin forms, audit log and OIDC, in French."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import html
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import (
    SECRET_SESSION_KEY,
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
)
from allauth.socialaccount.models import SocialAccount
from django.core import mail
from django.test import Client
from django.utils import timezone

from core import audit
from core.models import AuditEvent, Direction, User
from core.tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LOGIN_URL = "/comptes/login/"
NEW_PASSWORD = "Un-nouveau-mot-de-passe-2024"


def text(response) -> str:
    """The page as a user reads it (entities decoded)."""
    return html.unescape(response.content.decode())


def login(client, email: str, password: str = PASSWORD, **extra):
    return client.post(LOGIN_URL, {"login": email, "password": password}, **extra)


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def totp_code(secret: str) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


# --- Login page -------------------------------------------------------------------------------


def test_login_page_is_a_french_form_without_sign_up(client):
    response = client.get(LOGIN_URL)
    assert response.status_code == 200
    page = text(response)
    assert '<html lang="fr"' in page
    assert "Connexion à l'intranet" in page
    assert re.search(r"<label for=\"id_login\">Adresse e-mail</label>", page)
    assert re.search(r"<label for=\"id_password\">Mot de passe</label>", page)
    assert "Se connecter" in page
    assert "Mot de passe oublié ?" in page
    assert "/comptes/signup/" not in page
    assert "inscri" not in page.lower()
    # No directory configured: no single sign-on button.
    assert "Se connecter avec" not in page


def test_self_registration_is_closed(client):
    response = client.get("/comptes/signup/")
    assert response.status_code == 200
    assert "Nous sommes désolés, mais les inscriptions sont actuellement fermées." in text(response)
    response = client.post(
        "/comptes/signup/",
        {"email": "intrus@exemple.org", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert "inscriptions sont actuellement fermées" in text(response)
    assert not User.objects.filter(email="intrus@exemple.org").exists()
    assert not logged_in(client)


# --- Login, logout, failures ------------------------------------------------------------------


def test_login_with_email_redirects_home_and_is_audited(client):
    user = UserFactory()
    response = client.post(
        LOGIN_URL,
        {"login": user.email.upper(), "password": PASSWORD},
        REMOTE_ADDR="10.1.2.3",
    )
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert logged_in(client)
    event = AuditEvent.objects.get(action=audit.LOGIN)
    assert event.actor == user
    assert event.actor_label == user.email
    assert event.ip_address == "10.1.2.3"
    assert client.get("/").status_code == 200


def test_login_honours_next(client):
    user = UserFactory(roles=["agent"])
    response = client.post(
        LOGIN_URL + "?next=/actualites/", {"login": user.email, "password": PASSWORD}
    )
    assert response["Location"] == "/actualites/"
    # An external `next` is ignored (no open redirect).
    client.logout()
    response = client.post(
        LOGIN_URL + "?next=https://pirate.example/", {"login": user.email, "password": PASSWORD}
    )
    assert response["Location"] == "/"


def test_logout_is_a_post_and_is_audited(client):
    user = UserFactory()
    login(client, user.email)
    response = client.post("/comptes/logout/", REMOTE_ADDR="10.9.8.7")
    assert response.status_code == 302
    assert response["Location"] == LOGIN_URL
    assert not logged_in(client)
    event = AuditEvent.objects.get(action=audit.LOGOUT)
    assert event.actor == user
    assert event.ip_address == "10.9.8.7"
    # The portal is closed again.
    assert client.get("/")["Location"].startswith(LOGIN_URL)


def test_wrong_password_shows_french_error_and_is_audited(client):
    user = UserFactory()
    response = client.post(
        LOGIN_URL, {"login": user.email, "password": "pas-le-bon"}, REMOTE_ADDR="10.0.0.5"
    )
    assert response.status_code == 200
    page = text(response)
    assert "L’adresse e-mail ou le mot de passe sont incorrects." in page
    # The typed address is kept, the password is not.
    assert f'value="{user.email}"' in page
    assert "pas-le-bon" not in page
    assert not logged_in(client)
    event = AuditEvent.objects.get(action=audit.LOGIN_FAILED)
    assert event.actor is None
    assert event.actor_label == user.email
    assert event.ip_address == "10.0.0.5"
    assert "pas-le-bon" not in json.dumps(event.details)
    assert not AuditEvent.objects.filter(action=audit.LOGIN).exists()


def test_unknown_account_gets_the_same_error(client):
    response = login(client, "personne@ville.example", "peu-importe-123")
    assert "L’adresse e-mail ou le mot de passe sont incorrects." in text(response)
    assert AuditEvent.objects.get(action=audit.LOGIN_FAILED).actor_label == (
        "personne@ville.example"
    )


def test_inactive_account_cannot_log_in(client):
    user = UserFactory(is_active=False)
    # A wrong password tells nothing about the account.
    response = login(client, user.email, "pas-le-bon")
    assert "L’adresse e-mail ou le mot de passe sont incorrects." in text(response)
    # The right one leads to the French « inactive account » page, not into the portal.
    response = login(client, user.email)
    assert response["Location"] == "/comptes/inactive/"
    assert not logged_in(client)
    assert "Ce compte est inactif." in text(client.get("/comptes/inactive/"))
    assert client.get("/")["Location"].startswith(LOGIN_URL)
    assert AuditEvent.objects.filter(action=audit.LOGIN_FAILED).count() == 2
    assert not AuditEvent.objects.filter(action=audit.LOGIN).exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"login": "", "password": PASSWORD}, "Ce champ est obligatoire."),
        ({"login": "agent@ville.example", "password": ""}, "Ce champ est obligatoire."),
        ({}, "Ce champ est obligatoire."),
        ({"login": "pas-une-adresse", "password": "x"}, "Saisissez une adresse e-mail valide."),
        # allauth puts no length limit on the field: the attempt simply fails.
        (
            {"login": "a" * 286 + "@ville.example", "password": "x"},
            "L’adresse e-mail ou le mot de passe sont incorrects.",
        ),
    ],
    ids=["login-vide", "mot-de-passe-vide", "rien", "adresse-invalide", "adresse-300-caracteres"],
)
def test_malformed_login_input_gives_french_error(client, data, message):
    UserFactory(email="agent@ville.example")
    response = client.post(LOGIN_URL, data)
    assert response.status_code == 200
    page = text(response)
    assert message in page
    assert 'role="alert"' in page or 'class="field-error"' in page
    assert not logged_in(client)
    for event in AuditEvent.objects.all():
        assert event.action == audit.LOGIN_FAILED
        assert len(event.actor_label) <= 254


# --- Rate limit -------------------------------------------------------------------------------

TOO_MANY = "Trop de tentatives de connexion échouées. Veuillez réessayer ultérieurement."


def test_repeated_failures_are_throttled_even_with_the_right_password(client):
    user = UserFactory()
    for _ in range(5):
        response = login(client, user.email, "mauvais-mot-de-passe")
        assert "L’adresse e-mail ou le mot de passe sont incorrects." in text(response)
    assert AuditEvent.objects.filter(action=audit.LOGIN_FAILED).count() == 5

    response = login(client, user.email, PASSWORD)
    # allauth answers with a form error on the login page (not a 429 page).
    assert response.status_code == 200
    assert TOO_MANY in text(response)
    assert not logged_in(client)
    assert not AuditEvent.objects.filter(action=audit.LOGIN).exists()
    # The refused attempt is audited too, so a brute force stays visible.
    throttled = AuditEvent.objects.filter(action=audit.LOGIN_FAILED).order_by("pk").last()
    assert throttled.actor_label == user.email
    assert throttled.details["reason"] == "rate_limited"
    assert AuditEvent.objects.filter(action=audit.LOGIN_FAILED).count() == 6

    # Another agent on another computer is not affected.
    other = UserFactory()
    assert login(client, other.email, PASSWORD, REMOTE_ADDR="10.0.0.2").status_code == 302


def test_failures_from_one_address_are_throttled_across_accounts(client):
    users = UserFactory.create_batch(3)
    for i in range(10):
        login(client, f"inconnu{i}@ville.example", "x-y-z-1234")
    response = login(client, users[0].email, PASSWORD)
    assert TOO_MANY in text(response)
    assert not logged_in(client)


# --- Password reset ---------------------------------------------------------------------------


def test_password_reset_sends_a_french_link_that_works(client):
    user = UserFactory()
    response = client.post("/comptes/password/reset/", {"email": user.email.upper()})
    assert response.status_code == 302
    assert response["Location"] == "/comptes/password/reset/done/"
    done = client.get(response["Location"])
    assert "Nous vous avons envoyé un e-mail" in text(done)

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [user.email]
    assert message.subject.startswith("[Ville de Clairval – Intranet] ")
    assert "réinitialisation" in message.subject.lower()
    assert "Vous recevez cet e-mail" in message.body
    link = re.search(r"http://testserver(/comptes/password/reset/key/\S+/)", message.body)
    assert link, message.body

    # allauth moves the key into the session, then shows the form.
    response = client.get(link.group(1), follow=True)
    assert response.status_code == 200
    form_url = response.redirect_chain[-1][0]
    assert "Nouveau mot de passe" in text(response)

    response = client.post(form_url, {"password1": NEW_PASSWORD, "password2": "autre-chose-99"})
    assert "Vous devez saisir deux fois le même mot de passe." in text(response)
    response = client.post(form_url, {"password1": "court", "password2": "court"})
    assert "Ce mot de passe est trop court." in text(response)

    response = client.post(form_url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/comptes/password/reset/key/done/"

    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert "incorrects" in text(login(client, user.email, PASSWORD))
    assert login(client, user.email, NEW_PASSWORD)["Location"] == "/"
    # The link is single-use.
    client.logout()
    response = client.get(link.group(1), follow=True)
    assert "Nouveau mot de passe" not in text(response)
    assert "invalide" in text(response).lower()


def test_password_reset_with_malformed_email_gives_french_error(client):
    for value in ("pas-une-adresse", ""):
        response = client.post("/comptes/password/reset/", {"email": value})
        assert response.status_code == 200
        page = text(response)
        assert "Saisissez une adresse e-mail valide." in page or "Ce champ est obligatoire." in page
    assert mail.outbox == []


def test_password_reset_does_not_reveal_unknown_accounts(client):
    user = UserFactory()
    known = client.post("/comptes/password/reset/", {"email": user.email})
    unknown = client.post("/comptes/password/reset/", {"email": "inconnu@ville.example"})
    # Same answer either way: the page tells nothing about which accounts exist.
    assert (unknown.status_code, unknown["Location"]) == (known.status_code, known["Location"])
    # Only the real account gets a mail (ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS is off: a notice to an
    # unknown address would invite to a sign-up that is closed).
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [user.email]
    assert "/comptes/password/reset/key/" in mail.outbox[0].body


# --- Second factor ----------------------------------------------------------------------------

MFA_WARNING = "La double authentification est obligatoire pour votre compte"


def _activate_totp_through_the_page(client) -> str:
    response = client.get("/comptes/2fa/totp/activate/")
    assert response.status_code == 200
    secret = client.session[SECRET_SESSION_KEY]
    response = client.post("/comptes/2fa/totp/activate/", {"code": "000000"})
    assert response.status_code == 200
    assert "Code incorrect" in text(response)
    response = client.post("/comptes/2fa/totp/activate/", {"code": totp_code(secret)})
    assert response.status_code == 302
    return secret


def test_user_with_mfa_required_must_enrol_before_using_the_portal(client):
    user = UserFactory(mfa_required=True)
    assert login(client, user.email)["Location"] == "/"
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/comptes/2fa/totp/activate/"
    assert client.get("/actualites/")["Location"] == "/comptes/2fa/totp/activate/"
    # The health check and the account pages stay reachable.
    assert client.get("/sante/").status_code == 200

    # allauth asks for the password again before enrolling a factor; the warning is shown there.
    page = client.get("/comptes/2fa/totp/activate/", follow=True)
    assert page.redirect_chain[-1][0].startswith("/comptes/reauthenticate/")
    assert MFA_WARNING in text(page)
    response = client.post(page.redirect_chain[-1][0], {"password": PASSWORD})
    assert response["Location"] == "/comptes/2fa/totp/activate/"

    secret = _activate_totp_through_the_page(client)
    assert Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
    response = client.get("/")
    assert response.status_code == 200
    assert MFA_WARNING not in text(response)

    # From now on, logging in asks for the code.
    client.post("/comptes/logout/")
    response = login(client, user.email)
    assert response["Location"] == "/comptes/2fa/authenticate/"
    assert not logged_in(client)
    response = client.post("/comptes/2fa/authenticate/", {"code": "123456"})
    assert "Code incorrect" in text(response)
    assert not logged_in(client)
    response = client.post("/comptes/2fa/authenticate/", {"code": totp_code(secret)})
    assert response["Location"] == "/"
    assert logged_in(client)


def test_role_listed_in_mfa_required_roles_must_enrol(client, settings):
    settings.MFA_REQUIRED_ROLES = ["administrateur IA"]
    admin_ia = UserFactory(roles=["administrateur IA"])
    login(client, admin_ia.email)
    response = client.get("/audit/")
    assert response["Location"] == "/comptes/2fa/totp/activate/"

    TOTP.activate(admin_ia, generate_totp_secret())
    assert client.get("/audit/").status_code == 200
    assert client.get("/").status_code == 200


def test_other_roles_are_not_asked_for_a_second_factor(client, settings):
    settings.MFA_REQUIRED_ROLES = ["administrateur IA"]
    agent = UserFactory(roles=["agent"])
    login(client, agent.email)
    response = client.get("/")
    assert response.status_code == 200
    assert MFA_WARNING not in text(response)


def test_user_without_requirement_is_not_redirected(client):
    user = UserFactory()
    login(client, user.email)
    assert client.get("/").status_code == 200


def test_admin_login_cannot_skip_the_second_factor(client):
    staff = UserFactory(is_staff=True, is_superuser=True)
    TOTP.activate(staff, generate_totp_secret())
    response = client.post(
        "/admin/login/?next=/admin/", {"username": staff.username, "password": PASSWORD}
    )
    assert response["Location"].startswith(LOGIN_URL)
    assert not logged_in(client)
    assert client.get("/admin/").status_code == 302


# --- Admin forms ------------------------------------------------------------------------------

MEMBERSHIP_INLINE = {
    "memberships-TOTAL_FORMS": "0",
    "memberships-INITIAL_FORMS": "0",
    "memberships-MIN_NUM_FORMS": "0",
    "memberships-MAX_NUM_FORMS": "1000",
}


@pytest.fixture
def superuser_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True, email="dsi@ville.example"))
    return client


def _user_add(client, **overrides):
    data = {
        "username": "nouvel.agent",
        "email": "nouvel.agent@ville.example",
        "first_name": "Dominique",
        "last_name": "Nouvel",
        "password1": NEW_PASSWORD,
        "password2": NEW_PASSWORD,
        **MEMBERSHIP_INLINE,
        **overrides,
    }
    return client.post("/admin/core/user/add/", data)


def test_admin_user_add_form_accepts_valid_input(superuser_client):
    response = _user_add(superuser_client, email="Nouvel.Agent@Ville.example")
    assert response.status_code == 302
    user = User.objects.get(username="nouvel.agent")
    assert user.email == "nouvel.agent@ville.example"
    assert user.check_password(NEW_PASSWORD)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"email": "pas-une-adresse"}, "Saisissez une adresse e-mail valide."),
        ({"email": ""}, "Ce champ est obligatoire."),
        ({"email": "DSI@ville.example"}, "Un compte utilise déjà cette adresse e-mail."),
        ({"password2": "Autre-mot-de-passe-2024"}, "Les deux mots de passe ne correspondent pas."),
        ({"password1": "123", "password2": "123"}, "Ce mot de passe est trop court."),
        ({"username": "dsi agent!"}, "Saisissez un nom d’utilisateur valide."),
    ],
    ids=[
        "adresse-invalide",
        "adresse-vide",
        "adresse-deja-utilisee",
        "mots-de-passe-differents",
        "mot-de-passe-court",
        "identifiant-invalide",
    ],
)
def test_admin_user_add_form_rejects_malformed_input(superuser_client, overrides, message):
    before = User.objects.count()
    response = _user_add(superuser_client, **overrides)
    assert response.status_code == 200
    page = text(response)
    assert "Corrigez l" in page  # « Corrigez l’erreur / les erreurs ci-dessous. »
    assert message in page
    assert User.objects.count() == before


def test_admin_direction_add_form_rejects_lowercase_code(superuser_client):
    data = {"code": "dsi", "name": "Direction des systèmes d'information", "kind": "direction"}
    data["active"] = "on"
    data.update(MEMBERSHIP_INLINE)
    response = superuser_client.post("/admin/core/direction/add/", data)
    assert response.status_code == 200
    assert "Le code ne contient que des majuscules, des chiffres, « - » et « _ »." in text(response)
    assert not Direction.objects.exists()

    data["code"] = "DSI"
    response = superuser_client.post("/admin/core/direction/add/", data)
    assert response.status_code == 302
    assert Direction.objects.get().code == "DSI"


# --- Audit log --------------------------------------------------------------------------------


def _rows(response) -> list[list[str]]:
    body = re.search(r"<tbody>(.*?)</tbody>", response.content.decode(), re.S).group(1)
    return [
        [html.unescape(cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


@pytest.fixture
def audit_reader(client):
    """Logins and failures made through the real login page, then an « administrateur IA »."""
    alice = UserFactory(email="alice@ville.example")
    bob = UserFactory(email="bob@ville.example")
    login(Client(), alice.email)
    login(Client(), bob.email, "mauvais-mot-de-passe", REMOTE_ADDR="10.0.0.9")
    # An old failure, to filter by date.
    old = AuditEvent.objects.get(action=audit.LOGIN_FAILED)
    old.created_at = timezone.now() - dt.timedelta(days=40)
    old.save(update_fields=["created_at"])
    login(Client(), bob.email, "encore-faux")
    reader = UserFactory(email="lecteur@ville.example", roles=["administrateur IA"])
    client.force_login(reader)
    return client


def test_audit_page_lists_login_events(audit_reader):
    response = audit_reader.get("/audit/")
    assert response.status_code == 200
    rows = _rows(response)
    assert "4 événements" in text(response)
    # Newest first; the reader's own login (force_login) is logged too.
    assert [r[1:3] for r in rows] == [
        ["Connexion", "lecteur@ville.example"],
        ["Échec de connexion", "bob@ville.example"],
        ["Connexion", "alice@ville.example"],
        ["Échec de connexion", "bob@ville.example"],
    ]
    assert [r[5] for r in rows[1:]] == ["127.0.0.1", "127.0.0.1", "10.0.0.9"]


def test_audit_page_filters_by_action_identifier_and_date(audit_reader):
    rows = _rows(audit_reader.get("/audit/", {"action": audit.LOGIN_FAILED}))
    assert [r[1:3] for r in rows] == [["Échec de connexion", "bob@ville.example"]] * 2

    rows = _rows(audit_reader.get("/audit/", {"actor": "ALICE"}))
    assert [r[1:3] for r in rows] == [["Connexion", "alice@ville.example"]]

    today = timezone.localdate()
    rows = _rows(audit_reader.get("/audit/", {"since": today.isoformat()}))
    assert len(rows) == 3
    assert "bob@ville.example" in {r[2] for r in rows}
    rows = _rows(audit_reader.get("/audit/", {"until": (today - dt.timedelta(days=1)).isoformat()}))
    assert [r[1:3] for r in rows] == [["Échec de connexion", "bob@ville.example"]]
    old_day = today - dt.timedelta(days=40)
    rows = _rows(
        audit_reader.get("/audit/", {"since": old_day.isoformat(), "until": old_day.isoformat()})
    )
    assert [r[1:3] for r in rows] == [["Échec de connexion", "bob@ville.example"]]
    assert rows[0][0].startswith(old_day.strftime("%d/%m/%Y"))

    response = audit_reader.get("/audit/", {"actor": "personne"})
    assert "Aucun événement ne correspond à ces critères." in text(response)


def test_audit_page_rejects_an_inverted_date_range(audit_reader):
    today = timezone.localdate()
    response = audit_reader.get(
        "/audit/",
        {"since": today.isoformat(), "until": (today - dt.timedelta(days=1)).isoformat()},
    )
    assert response.status_code == 200
    assert "La date de début doit précéder la date de fin." in text(response)
    response = audit_reader.get("/audit/", {"since": "31/02/2024"})
    assert "Saisissez une date valide." in text(response)


def test_audit_page_is_refused_to_agents(client):
    client.force_login(UserFactory(roles=["agent"]))
    response = client.get("/audit/")
    assert response.status_code == 403
    assert "Accès refusé" in text(response)
    assert AuditEvent.objects.filter(action=audit.PERMISSION_DENIED).count() == 1


def test_admin_audit_pages_are_read_only(superuser_client):
    event = audit.record(audit.LOGIN_FAILED, actor_label="alice@ville.example")
    changelist = superuser_client.get("/admin/core/auditevent/")
    assert changelist.status_code == 200
    assert "alice@ville.example" in text(changelist)
    assert "/admin/core/auditevent/add/" not in text(changelist)
    assert 'value="delete_selected"' not in text(changelist)

    view = superuser_client.get(f"/admin/core/auditevent/{event.pk}/change/")
    assert view.status_code == 200
    assert 'name="_save"' not in text(view)
    assert f"/admin/core/auditevent/{event.pk}/delete/" not in text(view)

    assert superuser_client.get("/admin/core/auditevent/add/").status_code == 403
    response = superuser_client.post(
        "/admin/core/auditevent/add/", {"action": "faux", "actor_label": "pirate"}
    )
    assert response.status_code == 403
    response = superuser_client.post(
        f"/admin/core/auditevent/{event.pk}/change/",
        {"action": "modifie", "actor_label": "pirate"},
    )
    assert response.status_code == 403
    response = superuser_client.post(f"/admin/core/auditevent/{event.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    superuser_client.post(
        "/admin/core/auditevent/",
        {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"},
    )
    event.refresh_from_db()
    assert (event.action, event.actor_label) == (audit.LOGIN_FAILED, "alice@ville.example")
    assert AuditEvent.objects.filter(actor_label="pirate").count() == 0


# --- OpenID Connect ---------------------------------------------------------------------------


class _FakeIdP(BaseHTTPRequestHandler):
    """A minimal OpenID provider: discovery, token and userinfo endpoints."""

    def log_message(self, format, *args):  # silence the test output
        pass

    def _json(self, payload: dict, status: int = 200) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        base = self.server.base_url
        path = urlsplit(self.path).path
        if path == "/.well-known/openid-configuration":
            self._json(
                {
                    "issuer": base,
                    "authorization_endpoint": f"{base}/authorize",
                    "token_endpoint": f"{base}/token",
                    "userinfo_endpoint": f"{base}/userinfo",
                    "jwks_uri": f"{base}/jwks",
                    "response_types_supported": ["code"],
                    "code_challenge_methods_supported": ["S256"],
                    "token_endpoint_auth_methods_supported": ["client_secret_post"],
                }
            )
        elif path == "/userinfo":
            self.server.requests.append(("userinfo", self.headers.get("Authorization")))
            self._json(self.server.userinfo)
        elif path == "/jwks":
            self._json({"keys": []})
        else:
            self._json({"error": "not_found"}, 404)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(length).decode())
        if urlsplit(self.path).path == "/token":
            self.server.requests.append(("token", form))
            self._json({"access_token": "jeton-d-acces", "token_type": "Bearer"})
        else:
            self._json({"error": "not_found"}, 404)


@pytest.fixture
def idp(settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeIdP)
    server.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    server.requests = []
    server.userinfo = {
        "sub": "agent-42",
        "email": "claude.martin@ville.example",
        "email_verified": True,
        "given_name": "Claude",
        "family_name": "Martin",
    }
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.SOCIALACCOUNT_PROVIDERS = {
        "openid_connect": {
            "OAUTH_PKCE_ENABLED": True,
            "APPS": [
                {
                    "provider_id": "annuaire",
                    "name": "Annuaire de la ville",
                    "client_id": "intranet-clairval",
                    "secret": "secret-de-test",
                    "settings": {"server_url": server.base_url},
                }
            ],
        }
    }
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _start_oidc(client, idp) -> dict[str, list[str]]:
    response = client.post("/comptes/oidc/annuaire/login/", {"process": "login"})
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}" == idp.base_url
    assert location.path == "/authorize"
    return parse_qs(location.query)


def test_login_page_offers_the_city_directory(client, idp):
    page = text(client.get(LOGIN_URL))
    assert "Se connecter avec Annuaire de la ville" in page
    assert 'action="/comptes/oidc/annuaire/login/?process=login"' in page


def test_oidc_login_redirects_to_the_directory_with_pkce(client, idp):
    query = _start_oidc(client, idp)
    assert query["client_id"] == ["intranet-clairval"]
    assert query["response_type"] == ["code"]
    assert query["redirect_uri"] == ["http://testserver/comptes/oidc/annuaire/login/callback/"]
    assert "openid" in query["scope"][0].split()
    assert len(query["state"][0]) >= 8
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) >= 43
    assert not logged_in(client)


def test_oidc_callback_creates_and_logs_in_the_agent(client, idp):
    query = _start_oidc(client, idp)
    response = client.get(
        "/comptes/oidc/annuaire/login/callback/",
        {"code": "code-d-autorisation", "state": query["state"][0]},
    )
    assert response.status_code == 302, text(response)
    assert response["Location"] == "/"
    assert logged_in(client)

    # PKCE: the verifier sent to the token endpoint matches the challenge.
    token_request = next(form for kind, form in idp.requests if kind == "token")
    verifier = token_request["code_verifier"][0]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    assert challenge.decode().rstrip("=") == query["code_challenge"][0]
    assert token_request["client_id"] == ["intranet-clairval"]
    assert ("userinfo", "Bearer jeton-d-acces") in idp.requests

    user = User.objects.get(email="claude.martin@ville.example")
    assert (user.first_name, user.last_name) == ("Claude", "Martin")
    assert SocialAccount.objects.get(user=user).uid == "agent-42"
    assert AuditEvent.objects.get(action=audit.LOGIN).actor == user


def test_oidc_login_joins_an_existing_account_with_the_same_email(client, idp):
    existing = UserFactory(email="claude.martin@ville.example")
    query = _start_oidc(client, idp)
    client.get(
        "/comptes/oidc/annuaire/login/callback/",
        {"code": "code-d-autorisation", "state": query["state"][0]},
    )
    assert int(client.session["_auth_user_id"]) == existing.pk
    assert User.objects.filter(email__iexact="claude.martin@ville.example").count() == 1


def test_oidc_callback_with_a_forged_state_is_refused(client, idp):
    _start_oidc(client, idp)
    response = client.get(
        "/comptes/oidc/annuaire/login/callback/",
        {"code": "code-d-autorisation", "state": "etat-forge"},
    )
    assert response.status_code == 401
    assert "Échec de la connexion via réseau social" in text(response)
    assert not logged_in(client)
    assert not any(kind == "token" for kind, _ in idp.requests)


def test_a_code_from_the_previous_step_is_accepted_but_not_older(client):
    """A code typed as it changes (or a phone a few seconds off) still works; an old one not."""
    from allauth.mfa.totp.internal.auth import validate_totp_code

    secret = "JBSWY3DPEHPK3PXP"
    step = int(time.time()) // 30
    assert validate_totp_code(secret, format_hotp_value(hotp_value(secret, step - 1)))
    assert not validate_totp_code(secret, format_hotp_value(hotp_value(secret, step - 3)))
