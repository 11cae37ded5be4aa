"""Django settings for authsite, read from environment variables (see README, "Configuration").

The database is chosen by ``DATABASE_URL`` alone: ``mongodb://`` uses django-mongodb-backend,
``sqlite://`` and ``postgres://`` use Django's own backends. With ``DEBUG`` off the site refuses to
start on a missing or development ``SECRET_KEY`` or ``JWT_SIGNING_KEY``, or without
``MFA_ENCRYPTION_KEYS``.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from authsite.env import database_from_url, env_bool, env_int, env_list, env_rate, env_str, env_url

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)

# Development-only values: refused when DEBUG is off.
DEV_SECRET_KEY = "dev-insecure-secret-key-do-not-use-in-production-3f9c2a"
DEV_JWT_SIGNING_KEY = "dev-insecure-jwt-signing-key-do-not-use-in-production-8b1e7d4c"


def _required_secret(name: str, dev_value: str, *, min_length: int) -> str:
    value = env_str(name)
    if DEBUG:
        return value or dev_value
    if not value or value == dev_value:
        raise ImproperlyConfigured(
            f"{name} is not set: with DEBUG off the site needs a real secret in {name} "
            f"(e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))')."
        )
    if len(value) < min_length:
        raise ImproperlyConfigured(f"{name} must be at least {min_length} characters long.")
    return value


SECRET_KEY = _required_secret("SECRET_KEY", DEV_SECRET_KEY, min_length=32)
# Its own key, not SECRET_KEY (simplejwt's default): 43+ URL-safe characters carry 256 bits.
JWT_SIGNING_KEY = _required_secret("JWT_SIGNING_KEY", DEV_JWT_SIGNING_KEY, min_length=43)
if JWT_SIGNING_KEY == SECRET_KEY:
    raise ImproperlyConfigured("JWT_SIGNING_KEY must differ from SECRET_KEY.")
# Earlier SECRET_KEYs, newest first, while a rotation settles: Django's signatures and mfa's
# recovery-code tags and mfa_token fingerprints made with them stay valid.
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS", [])

# TOTP secrets are encrypted with their own keys in production, so SECRET_KEY can be rotated alone.
MFA_ENCRYPTION_KEYS = env_list("MFA_ENCRYPTION_KEYS", [])
if not MFA_ENCRYPTION_KEYS and not DEBUG:
    raise ImproperlyConfigured(
        "MFA_ENCRYPTION_KEYS is not set: with DEBUG off the site needs its own keys for TOTP secrets "
        "(comma-separated Fernet keys, newest first). A site that ran without it sets the key it "
        "derives from SECRET_KEY today, printed by `DEBUG=1 python manage.py mfa_derived_key` "
        "(with the same SECRET_KEY); a new site a fresh key: python -c 'from cryptography.fernet "
        "import Fernet; print(Fernet.generate_key().decode())'."
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])

# --- Database ---------------------------------------------------------------------------------
DEFAULT_DATABASE_URL = (
    "mongodb://127.0.0.1:27017/authsite?directConnection=true"
)
DATABASE_URL = env_str("DATABASE_URL", DEFAULT_DATABASE_URL)
# SQLite only: how long a writer waits for another's lock (seconds), and the WAL fsync level
# (NORMAL: measured and explained in BENCHMARKS.md and README's production notes).
DATABASES = {
    "default": database_from_url(
        DATABASE_URL, base_dir=str(BASE_DIR),
        sqlite_timeout=env_int("SQLITE_TIMEOUT", 20),
        sqlite_synchronous=env_str("SQLITE_SYNCHRONOUS", "NORMAL"),
    )
}
IS_MONGODB = DATABASES["default"]["ENGINE"] == "django_mongodb_backend"
# SQL connections stay open between requests (one per worker thread): opening one cost more CPU
# than the query it served (BENCHMARKS.md). MongoDB's client is a pool per process anyway.
DATABASES["default"].setdefault("CONN_MAX_AGE", env_int("CONN_MAX_AGE", 60, minimum=0))

if IS_MONGODB:
    # Contrib apps get ObjectId primary keys through AppConfig subclasses and migrations
    # generated once against MongoDB (authsite/mongo_migrations), as the backend documents.
    DEFAULT_AUTO_FIELD = "django_mongodb_backend.fields.ObjectIdAutoField"
    CONTRIB_APPS = [
        "authsite.apps.MongoAdminConfig",
        "authsite.apps.MongoAuthConfig",
        "authsite.apps.MongoContentTypesConfig",
    ]
    MIGRATION_MODULES = {
        "admin": "authsite.mongo_migrations.admin",
        "auth": "authsite.mongo_migrations.auth",
        "contenttypes": "authsite.mongo_migrations.contenttypes",
    }
else:
    DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
    CONTRIB_APPS = [
        "django.contrib.admin",
        "django.contrib.auth",
        "django.contrib.contenttypes",
    ]

INSTALLED_APPS = [
    *CONTRIB_APPS,
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "accounts",
    "mfa",
]
if IS_MONGODB:
    INSTALLED_APPS.append("django_mongodb_backend")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "authsite.middleware.ApiErrorMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language of pages and API messages from Accept-Language (no language prefix in URLs).
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "mfa.middleware.PartialLoginMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# Benchmark builds only (bench/, BENCHMARKS.md): /api/bench/ping and /api/bench/row/<pk>, and the
# X-DB-Roundtrips response header counting SQL statements and MongoDB commands per request.
BENCH_ENDPOINTS = env_bool("BENCH_ENDPOINTS", False)
if BENCH_ENDPOINTS:
    MIDDLEWARE.insert(0, "authsite.roundtrips.RoundtripCounterMiddleware")
    if IS_MONGODB:
        from authsite.roundtrips import mongo_client_options

        DATABASES["default"].setdefault("OPTIONS", {}).update(mongo_client_options())

ROOT_URLCONF = "authsite.urls"
LOGIN_URL = "mfa_pages:login"
LOGIN_REDIRECT_URL = "mfa_pages:home"
LOGOUT_REDIRECT_URL = "mfa_pages:login"
WSGI_APPLICATION = "authsite.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Cache: shared by every worker process (throttle state) -------------------------------------
REDIS_URL = env_str("REDIS_URL")
CACHE_DIR = env_str("CACHE_DIR", str(BASE_DIR / "var" / "cache"))
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": CACHE_DIR}
    }

# --- Users and passwords ------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
PASSWORD_HASHERS = [
    # Argon2id first (OWASP's minimum profile, see accounts.hashers); PBKDF2 hashes from elsewhere
    # still verify and are upgraded on the next login.
    "accounts.hashers.Argon2idPasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Internationalisation, static files ---------------------------------------------------------
LANGUAGE_CODE = "en-us"
# The languages mfa ships a translation for (mfa/locale); others fall back to English.
LANGUAGES = [("en", "English"), ("fr", "Français")]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"

# --- HTTPS and cookies ----------------------------------------------------------------------------
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_COOKIES = env_bool("SECURE_COOKIES", not DEBUG)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
if env_bool("TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if SECURE_SSL_REDIRECT else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
# The "preload" token only consents to the browsers' HSTS preload list (submitting the domain is a
# separate, manual step); on by default with a year of HSTS, as `check --deploy` expects (W021).
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", SECURE_HSTS_SECONDS >= 31536000)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
CSRF_FAILURE_VIEW = "authsite.views.csrf_failure"

# --- Email (security notifications, password reset links) -------------------------------------------
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
# A hung mail server must not hold the background worker forever (Django's default: no timeout).
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
# Directory of the file backend (django.core.mail.backends.filebased.EmailBackend).
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(BASE_DIR / "var" / "mail"))
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "AuthSite <no-reply@localhost>")

# The site's own origin for links in emails (never taken from a request's Host header).
SITE_URL = env_url("SITE_URL", "http://localhost:8000" if DEBUG else None)
# Password reset links work for an hour: Django's default (3 days) is above the 24 hours NIST
# SP 800-63B-4 allows a recovery code sent to an address of record.
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 3600)

# --- Tokens and sessions ------------------------------------------------------------------------------
ACCESS_TOKEN_LIFETIME = env_int("ACCESS_TOKEN_LIFETIME", 300)
REFRESH_TOKEN_LIFETIME = env_int("REFRESH_TOKEN_LIFETIME", 7 * 24 * 3600)
SIMPLE_JWT = {
    "ALGORITHM": "HS256",
    "SIGNING_KEY": JWT_SIGNING_KEY,
    "AUDIENCE": env_str("JWT_AUDIENCE", "authsite"),
    "ISSUER": env_str("JWT_ISSUER", "authsite"),
    "LEEWAY": 0,
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=ACCESS_TOKEN_LIFETIME),
    "REFRESH_TOKEN_LIFETIME": timedelta(seconds=REFRESH_TOKEN_LIFETIME),
    "AUTH_HEADER_TYPES": ("Bearer",),
    "UPDATE_LAST_LOGIN": False,
    "AUTH_TOKEN_CLASSES": ("mfa.tokens.AccessToken",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
}

def _mfa_required(value: str | None) -> str | list[str] | None:
    if not value or value.lower() in {"off", "none", "0"}:
        return None
    if value.lower() in {"staff", "all"}:
        return value.lower()
    return [name.strip() for name in value.split(",") if name.strip()]


MFA = {
    "ISSUER": env_str("MFA_ISSUER", "AuthSite"),
    "ENCRYPTION_KEYS": MFA_ENCRYPTION_KEYS or None,
    "SESSION_ABSOLUTE_LIFETIME": timedelta(seconds=env_int("SESSION_ABSOLUTE_LIFETIME", 7 * 24 * 3600)),
    "SESSION_IDLE_TIMEOUT": timedelta(seconds=env_int("SESSION_IDLE_TIMEOUT", 24 * 3600)),
    "MFA_TOKEN_LIFETIME": timedelta(seconds=env_int("MFA_TOKEN_LIFETIME", 300)),
    "IP_RATES": {
        "register": env_rate("AUTH_IP_RATE_REGISTER", "20/hour"),
        "login": env_rate("AUTH_IP_RATE_LOGIN", "30/min"),
        "refresh": env_rate("AUTH_IP_RATE_REFRESH", "60/min"),
        "code_failures": env_rate("AUTH_IP_RATE_CODE_FAILURES", "30/hour"),
        "password_reset": env_rate("AUTH_IP_RATE_PASSWORD_RESET", "10/hour"),
        "passkey_login": env_rate("AUTH_IP_RATE_PASSKEY_LOGIN", "30/min"),
    },
    # Reset requests per email address, known or not ("off" disables).
    "PASSWORD_RESET_RATE": env_rate("PASSWORD_RESET_RATE", "5/10min"),
    "SITE_URL": SITE_URL,
    "TRUSTED_PROXIES": env_int("TRUSTED_PROXIES", 0, minimum=0),
    # Mandatory MFA: unset (optional), "staff", "all", or comma-separated group names.
    "REQUIRED": _mfa_required(env_str("MFA_REQUIRED")),
    "REQUIRED_GRACE_DAYS": env_int("MFA_REQUIRED_GRACE_DAYS", 0, minimum=0),
    "REQUIRED_SINCE": env_str("MFA_REQUIRED_SINCE"),
    # WebAuthn: the RP ID (a host name, never the request's Host header) and the exact origins,
    # comma-separated. Unset origins: http://localhost:8000 with DEBUG on, else keys answer 503.
    "WEBAUTHN_RP_ID": env_str("WEBAUTHN_RP_ID", "localhost"),
    "WEBAUTHN_RP_NAME": env_str("WEBAUTHN_RP_NAME"),
    "WEBAUTHN_ORIGINS": env_list("WEBAUTHN_ORIGINS", []) or None,
    "PASSKEY_LOGIN": env_bool("MFA_PASSKEY_LOGIN", False),
    "TRUST_DAYS": env_int("MFA_TRUST_DAYS", 30, minimum=0),
}

# --- Django REST framework ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["mfa.authentication.SessionJWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "mfa.api.exception_handler.api_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "NUM_PROXIES": env_int("TRUSTED_PROXIES", 0, minimum=0),
    "DEFAULT_PAGINATION_CLASS": None,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "authsite API",
    "DESCRIPTION": "Registration, password login, TOTP MFA, JWT sessions (the mfa app).",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI's files come from the drf-spectacular-sidecar package, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Database statement/command logs carry stored values (password hashes, encrypted TOTP secrets,
    # recovery code hashes): dropped even at DEBUG unless LOG_DB_QUERIES=1 (authsite.logfilters).
    "filters": {
        "no_db_queries": {
            "()": "authsite.logfilters.DatabaseQueryLogFilter",
            "enabled": env_bool("LOG_DB_QUERIES", False),
        },
    },
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"filters": ["no_db_queries"]},
        "pymongo.command": {"filters": ["no_db_queries"]},
    },
}
