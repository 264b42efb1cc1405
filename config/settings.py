"""Settings of the city digital workplace, read from the environment.

Every value has an embedded default that runs on one machine with no service (SQLite, the ORM
broker, Qdrant local mode, the extractive assistant); production overrides them through
environment variables listed in `.env.example` and in the README.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

from config.env import env_bool, env_int, env_list, env_optional, env_str, load_dotenv

BASE_DIR = Path(__file__).resolve().parent.parent
load_dotenv(BASE_DIR / ".env")

# Haystack (added by the AI layer) phones home unless told not to; cities' networks are closed.
os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")

# --- Core -------------------------------------------------------------------------------------
DEBUG = env_bool("DEBUG", False)
# The default key is only good for a laptop: `check --deploy` flags it until SECRET_KEY is set.
SECRET_KEY = env_str("SECRET_KEY", "django-insecure-demo-key-change-me-in-production")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
CITY_NAME = env_str("CITY_NAME", "Ville de Clairval")
SITE_ID = 1

DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / "data")))
CORPUS_DIR = Path(env_str("CORPUS_DIR", str(BASE_DIR.parent / "shared" / "corpus")))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "guardian",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "core.apps.CoreConfig",
    "ai.apps.AiConfig",
    "chat.apps.ChatConfig",
    "helpdesk.apps.HelpdeskConfig",
    "predictive.apps.PredictiveConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Every view requires a login unless it is decorated with `login_not_required`
    # (django.contrib.auth.decorators): one rule, no list of exceptions.
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # After MessageMiddleware: it leaves a warning for the page it redirects to.
    "core.middleware.MFARequiredMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.context_processors.portal",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'db.sqlite3'}")
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60), conn_health_checks=True
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    # The web process and the django-q2 worker write to the same file: wait for the lock
    # instead of failing, and take it at the start of a transaction to avoid deadlocks.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and background jobs ----------------------------------------------------------------
REDIS_URL = env_optional("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

Q_CLUSTER: dict = {
    "name": "workplace",
    "workers": env_int("Q_WORKERS", 2),
    "timeout": env_int("Q_TIMEOUT", 1800),
    # `retry` must exceed `timeout`, or a long task is handed to a second worker while it runs.
    "retry": env_int("Q_RETRY", env_int("Q_TIMEOUT", 1800) + 300),
    "max_attempts": env_int("Q_MAX_ATTEMPTS", 3),
    "queue_limit": 50,
    "label": "Tâches de fond",
    "catch_up": False,
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# --- Authentication ---------------------------------------------------------------------------
AUTH_USER_MODEL = "core.User"
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "account_login"

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
    "guardian.backends.ObjectPermissionBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": env_int("PASSWORD_MIN_LENGTH", 12)},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

ACCOUNT_ADAPTER = "core.adapters.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "core.adapters.SocialAccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
# Accounts are created by the IT department or the directory, not by self-registration.
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_EMAIL_SUBJECT_PREFIX = f"[{CITY_NAME} – Intranet] "
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_PREVENT_ENUMERATION = True
# No mail to addresses without an account: it would invite to a sign-up that is closed.
ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS = False
ACCOUNT_RATE_LIMITS = {
    "login_failed": env_str("LOGIN_FAILED_RATE_LIMIT", "10/m/ip,5/5m/key"),
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "change_password": "5/m/user",
}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = f"Intranet {CITY_NAME}"
# One 30-second step either side: a phone's clock a few seconds off, or a code typed as it
# changes, is still accepted (RFC 6238 §5.2 recommends at most one step of drift).
MFA_TOTP_TOLERANCE = env_int("MFA_TOTP_TOLERANCE", 1)
# Roles (group names) whose members must enrol a second factor before using the portal;
# administrators can also require it per user (User.mfa_required).
MFA_REQUIRED_ROLES = env_list("MFA_REQUIRED_ROLES", [])

SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600)
SESSION_COOKIE_HTTPONLY = True

# City directory through OpenID Connect (Keycloak, Azure AD / Entra ID, Lemonldap-ng...).
OIDC_SERVER_URL = env_optional("OIDC_SERVER_URL")
SOCIALACCOUNT_ONLY = False
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION = env_bool("OIDC_MATCH_EXISTING_EMAIL", True)
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = SOCIALACCOUNT_EMAIL_AUTHENTICATION
SOCIALACCOUNT_PROVIDERS: dict = {}
if OIDC_SERVER_URL:
    SOCIALACCOUNT_PROVIDERS["openid_connect"] = {
        "OAUTH_PKCE_ENABLED": True,
        "APPS": [
            {
                "provider_id": env_str("OIDC_PROVIDER_ID", "annuaire"),
                "name": env_str("OIDC_NAME", "Annuaire de la ville"),
                "client_id": env_str("OIDC_CLIENT_ID"),
                "secret": env_str("OIDC_CLIENT_SECRET", ""),
                "settings": {"server_url": OIDC_SERVER_URL},
            }
        ],
    }

# City directory through LDAP / Active Directory (optional extra `ldap`).
LDAP_SERVER_URI = env_optional("LDAP_SERVER_URI")
if LDAP_SERVER_URI:
    from config.directory import ldap_settings

    globals().update(ldap_settings())
    AUTHENTICATION_BACKENDS.insert(0, "django_auth_ldap.backend.LDAPBackend")
    # Directory users type their account name, local users their e-mail address.
    ACCOUNT_LOGIN_METHODS = {"email", "username"}

# --- API --------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        # `Authorization: Token <key>` (keys made by `manage.py api_token`).
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": f"API de l'intranet – {CITY_NAME}",
    "DESCRIPTION": "API interne de l'espace de travail numérique. Mêmes droits que le portail.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # drf-spectacular serves the schema and Swagger UI to anyone by default (AllowAny).
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Swagger UI assets are served from our own static files: no CDN on a city network.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- AI layer slots (used by the `ai` app) ----------------------------------------------------
QDRANT_URL = env_optional("QDRANT_URL")
QDRANT_API_KEY = env_optional("QDRANT_API_KEY")
QDRANT_PATH = Path(env_str("QDRANT_PATH", str(DATA_DIR / "qdrant")))
QDRANT_COLLECTION = env_str("QDRANT_COLLECTION", "workplace_chunks")
# The web process pushes new chunks from SQL to Qdrant every few seconds (it owns the local
# folder); turn off in processes that must not open it.
AI_INDEX_SYNC = env_bool("AI_INDEX_SYNC", True)
AI_SYNC_INTERVAL = float(env_str("AI_SYNC_INTERVAL", "2"))
AI_MAX_ATTEMPTS = env_int("AI_MAX_ATTEMPTS", 3)
LLM_PROVIDER = env_str("LLM_PROVIDER", "extractive")
MISTRAL_API_KEY = env_optional("MISTRAL_API_KEY")
MISTRAL_MODEL = env_str("MISTRAL_MODEL", "mistral-small-latest")
MISTRAL_SERVER_URL = env_optional("MISTRAL_SERVER_URL")
OPENAI_BASE_URL = env_optional("OPENAI_BASE_URL")
OPENAI_API_KEY = env_optional("OPENAI_API_KEY")
OPENAI_MODEL = env_str("OPENAI_MODEL", "")
# Defaults of the provider configured above; LanguageModel rows carry their own values.
LLM_TIMEOUT = float(env_str("LLM_TIMEOUT", "30"))
LLM_MAX_RETRIES = env_int("LLM_MAX_RETRIES", 2)
LLM_TEMPERATURE = float(env_str("LLM_TEMPERATURE", "0.2"))
LLM_MAX_TOKENS = env_int("LLM_MAX_TOKENS", 800)
# Encrypts the API keys stored in the database; derived from SECRET_KEY when unset. Changing it
# makes stored keys unreadable (they must be entered again) unless the old value is kept in
# AI_SECRET_KEY_FALLBACKS.
AI_SECRET_KEY = env_optional("AI_SECRET_KEY")
AI_SECRET_KEY_FALLBACKS = env_list("AI_SECRET_KEY_FALLBACKS", [])
MAX_UPLOAD_MB = env_int("MAX_UPLOAD_MB", 50)

# --- Assistants (chat) ------------------------------------------------------------------------
# Questions per minute and client address on the public (citizen) assistants.
CHAT_PUBLIC_RATE = env_int("CHAT_PUBLIC_RATE", 12)
# Anonymous conversations are erased this long after their last message.
CHAT_PUBLIC_RETENTION_HOURS = env_int("CHAT_PUBLIC_RETENTION_HOURS", 2)
# Origins allowed to embed the citizen widget in an iframe (the city's website); empty = any.
CHAT_WIDGET_ORIGINS = env_list("CHAT_WIDGET_ORIGINS", [])

# --- Helpdesk ---------------------------------------------------------------------------------
HELPDESK_IMPORT_MAX_ROWS = env_int("HELPDESK_IMPORT_MAX_ROWS", 100_000)
HELPDESK_IMPORT_MAX_BYTES = env_int("HELPDESK_IMPORT_MAX_BYTES", 30 * 1024 * 1024)
# Screenshots, logs, PDFs joined to a ticket.
HELPDESK_ATTACHMENT_MAX_BYTES = env_int("HELPDESK_ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024)
HELPDESK_ATTACHMENTS_PER_TICKET = env_int("HELPDESK_ATTACHMENTS_PER_TICKET", 10)

# --- E-mail -----------------------------------------------------------------------------------
EMAIL_HOST = env_optional("EMAIL_HOST")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "intranet@ville.example")
# The portal's address as agents reach it, for links in e-mails (notifications).
SITE_URL = env_str("SITE_URL", "http://localhost:8000")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Internationalisation ---------------------------------------------------------------------
LANGUAGE_CODE = "fr-fr"
TIME_ZONE = env_str("TIME_ZONE", "Europe/Paris")
USE_I18N = True
USE_TZ = True

# --- Static and media files -------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(DATA_DIR / "media")))
MEDIA_URL = "media/"
# Serve files from the apps' static folders too when collectstatic has not run (demo, tests).
WHITENOISE_USE_FINDERS = env_bool("WHITENOISE_USE_FINDERS", True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # Hashed, compressed names need `collectstatic` first, as production deployments do.
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if env_bool("STATIC_MANIFEST", False)
        else "django.contrib.staticfiles.storage.StaticFilesStorage",
    },
}

# --- Security (production values come from the environment, see .env.example) ----------------
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
if env_bool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Nothing frames the portal; a view that must be framed uses `xframe_options_sameorigin`.
X_FRAME_OPTIONS = "DENY"

# --- Logging ----------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.request": {"level": "ERROR"},
        # "Ignoring wrong pointing object" on many real PDFs: harmless, and very noisy.
        "pypdf": {"level": "ERROR"},
    },
}
