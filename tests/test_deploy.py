"""Deployment checks: migrations, `check --deploy`, environment readers, health check."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_list, env_optional, env_str, load_dotenv

ROOT = Path(__file__).resolve().parent.parent

# Variables read by config/settings.py that could make a subprocess touch real services or
# data; they are replaced or removed so the checks only see what each test sets.
_ISOLATED = (
    "DATABASE_URL",
    "REDIS_URL",
    "QDRANT_URL",
    "QDRANT_PATH",
    "MEDIA_ROOT",
    "LDAP_SERVER_URI",
    "OIDC_SERVER_URL",
    "EMAIL_HOST",
    "BEHIND_TLS_PROXY",
    "DJANGO_SETTINGS_MODULE",
    # Set by browser tests running in the same process (Playwright); never in production.
    "DJANGO_ALLOW_ASYNC_UNSAFE",
)
SECURE = {
    "SECURE_SSL_REDIRECT": "true",
    "SESSION_COOKIE_SECURE": "true",
    "CSRF_COOKIE_SECURE": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
}


def manage(tmp_path: Path, *args: str, **env_vars: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in _ISOLATED}
    # Empty values beat a `.env` file (load_dotenv never overrides) and mean « off » / default.
    env.update(dict.fromkeys(SECURE, ""))
    env.update(
        DATA_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        DJANGO_SETTINGS_MODULE="config.settings",
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.update(env_vars)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def production_env(**overrides: str) -> dict[str, str]:
    return {
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(60)[:60],
        "ALLOWED_HOSTS": "intranet.ville.example",
        **overrides,
    }


def test_models_and_migrations_agree(tmp_path):
    result = manage(tmp_path, "makemigrations", "--check", "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No changes detected" in result.stdout
    # Nothing was written next to the project.
    assert sorted(p.name for p in tmp_path.iterdir()) in ([], ["db.sqlite3"])


def test_check_deploy_passes_with_production_settings(tmp_path):
    result = manage(
        tmp_path, "check", "--deploy", "--fail-level", "WARNING", **production_env(**SECURE)
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in output
    assert "WARNING" not in output


def test_check_deploy_reports_missing_https_settings(tmp_path):
    result = manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", **production_env())
    output = result.stdout + result.stderr
    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in output


def test_check_deploy_reports_the_demo_secret_key_and_debug(tmp_path):
    env = production_env(**SECURE, DEBUG="true")
    del env["SECRET_KEY"]
    result = manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", SECRET_KEY="", **env)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "security.W009" in output  # the embedded demo key
    assert "security.W018" in output  # DEBUG


def test_settings_refuse_a_malformed_boolean(tmp_path):
    result = manage(tmp_path, "check", DEBUG="peut-être")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DEBUG doit valoir true ou false, pas « peut-être »." in result.stderr


# --- config/env.py ----------------------------------------------------------------------------

VAR = "VILLE_TEST_VARIABLE"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("oui", True),
        (" Oui ", True),
        ("false", False),
        ("0", False),
        ("non", False),
        ("", False),
    ],
)
def test_env_bool_accepts_common_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv(VAR, raw)
    assert env_bool(VAR, not expected) is expected


def test_env_bool_default_and_rejection(monkeypatch):
    monkeypatch.delenv(VAR, raising=False)
    assert env_bool(VAR, True) is True
    assert env_bool(VAR, False) is False
    monkeypatch.setenv(VAR, "peut-être")
    with pytest.raises(ImproperlyConfigured, match=f"{VAR} doit valoir true ou false"):
        env_bool(VAR, False)


def test_env_int(monkeypatch):
    monkeypatch.setenv(VAR, "42")
    assert env_int(VAR, 1) == 42
    monkeypatch.setenv(VAR, " ")
    assert env_int(VAR, 7) == 7
    monkeypatch.setenv(VAR, "abc")
    with pytest.raises(ImproperlyConfigured, match=f"{VAR} doit être un entier, pas « abc »"):
        env_int(VAR, 1)
    monkeypatch.setenv(VAR, "4.5")
    with pytest.raises(ImproperlyConfigured):
        env_int(VAR, 1)


def test_env_list(monkeypatch):
    monkeypatch.setenv(VAR, "intranet.ville.example, localhost,,  ")
    assert env_list(VAR) == ["intranet.ville.example", "localhost"]
    monkeypatch.setenv(VAR, "")
    assert env_list(VAR, ["défaut"]) == []
    monkeypatch.delenv(VAR)
    default = ["a"]
    result = env_list(VAR, default)
    assert result == ["a"]
    assert result is not default  # a copy: settings may append to it
    assert env_list(VAR) == []


def test_env_str_and_optional(monkeypatch):
    monkeypatch.delenv(VAR, raising=False)
    with pytest.raises(ImproperlyConfigured, match=f"La variable d'environnement {VAR} est"):
        env_str(VAR)
    assert env_str(VAR, "défaut") == "défaut"
    assert env_optional(VAR) is None
    monkeypatch.setenv(VAR, "  ")
    assert env_optional(VAR) is None
    monkeypatch.setenv(VAR, "valeur")
    assert env_str(VAR) == env_optional(VAR) == "valeur"


def test_load_dotenv_never_overrides_the_environment(monkeypatch, tmp_path):
    names = [f"{VAR}_{i}" for i in range(6)]
    for name in names:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(names[0], "de l'environnement")
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "\n".join(
            [
                "# commentaire",
                f"{names[0]}=du fichier",
                f"{names[1]}=simple",
                f'export {names[2]}="entre guillemets"',
                f"{names[3]}='apostrophes' ",
                f"{names[4]}=a=b=c",
                "ligne sans égal",
                "",
            ]
        ),
        encoding="utf-8",
    )
    load_dotenv(dotenv)
    assert os.environ[names[0]] == "de l'environnement"
    assert os.environ[names[1]] == "simple"
    assert os.environ[names[2]] == "entre guillemets"
    assert os.environ[names[3]] == "apostrophes"
    assert os.environ[names[4]] == "a=b=c"
    assert names[5] not in os.environ
    # A missing file is not an error.
    load_dotenv(tmp_path / "absent.env")


# --- Health check -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_health_check_answers_anonymously(client):
    response = client.get("/sante/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok", "database": "ok"}
    assert "no-cache" in response["Cache-Control"]
    # No session is opened for the monitoring probe.
    assert "sessionid" not in response.cookies
    assert client.post("/sante/").status_code == 405
