"""authsite.settings from environment variables: refused secrets, HTTPS defaults, DATABASE_URL,
caches and hosts. Each case imports the settings in a fresh interpreter with a clean environment;
authsite.env's parsers are also tested directly."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from authsite import env
from authsite.settings import DEV_JWT_SIGNING_KEY, DEV_SECRET_KEY
from mfa import ratelimit
from tests.authsite.helpers import PRODUCTION, REAL_JWT_KEY, REAL_MFA_KEY, REAL_SECRET, run_with_settings

READ_SETTINGS = """
import json
from django.conf import settings
cache = settings.CACHES["default"]
print(json.dumps({
    "DEBUG": settings.DEBUG,
    "SECRET_KEY": settings.SECRET_KEY,
    "JWT_SIGNING_KEY": settings.SIMPLE_JWT["SIGNING_KEY"],
    "SECURE_SSL_REDIRECT": settings.SECURE_SSL_REDIRECT,
    "SESSION_COOKIE_SECURE": settings.SESSION_COOKIE_SECURE,
    "CSRF_COOKIE_SECURE": settings.CSRF_COOKIE_SECURE,
    "SECURE_HSTS_SECONDS": settings.SECURE_HSTS_SECONDS,
    "DATABASE": settings.DATABASES["default"],
    "CACHE_BACKEND": cache["BACKEND"],
    "CACHE_LOCATION": cache["LOCATION"],
    "ALLOWED_HOSTS": settings.ALLOWED_HOSTS,
    "BASE_DIR": str(settings.BASE_DIR),
    "MFA_ENCRYPTION_KEYS": settings.MFA["ENCRYPTION_KEYS"],
    "SECRET_KEY_FALLBACKS": settings.SECRET_KEY_FALLBACKS,
}, default=str))
"""


def run_settings(**variables: str) -> subprocess.CompletedProcess:
    """Import authsite.settings in a new interpreter with only ``variables`` set."""
    return run_with_settings(["-c", READ_SETTINGS], **variables)


def settings_with(**variables: str) -> dict:
    proc = run_settings(**variables)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def refusal(**variables: str) -> str:
    """The ImproperlyConfigured message printed when the settings refuse to load."""
    proc = run_settings(**variables)
    assert proc.returncode != 0, proc.stdout
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("django.core.exceptions.ImproperlyConfigured: "), proc.stderr[-2000:]
    return last.split(": ", 1)[1]




# --- Secrets ----------------------------------------------------------------------------------------


def test_debug_off_without_secret_key_refuses_to_start_naming_it():
    message = refusal(DEBUG="0", JWT_SIGNING_KEY=REAL_JWT_KEY)
    assert message.startswith("SECRET_KEY ")


def test_debug_unset_means_off_and_refuses_missing_secret_key():
    assert refusal().startswith("SECRET_KEY ")


def test_debug_off_without_jwt_signing_key_refuses_to_start_naming_it():
    message = refusal(DEBUG="0", SECRET_KEY=REAL_SECRET)
    assert message.startswith("JWT_SIGNING_KEY ")


def test_debug_off_refuses_development_secret_key():
    message = refusal(DEBUG="0", SECRET_KEY=DEV_SECRET_KEY, JWT_SIGNING_KEY=REAL_JWT_KEY)
    assert message.startswith("SECRET_KEY ")


def test_debug_off_refuses_development_jwt_signing_key():
    message = refusal(DEBUG="0", SECRET_KEY=REAL_SECRET, JWT_SIGNING_KEY=DEV_JWT_SIGNING_KEY)
    assert message.startswith("JWT_SIGNING_KEY ")


def test_debug_off_refuses_short_secret_key():
    message = refusal(DEBUG="0", SECRET_KEY="short", JWT_SIGNING_KEY=REAL_JWT_KEY)
    assert "SECRET_KEY" in message and "at least" in message


def test_jwt_signing_key_must_differ_from_secret_key():
    message = refusal(DEBUG="0", SECRET_KEY=REAL_JWT_KEY, JWT_SIGNING_KEY=REAL_JWT_KEY)
    assert "JWT_SIGNING_KEY" in message and "SECRET_KEY" in message


def test_debug_on_starts_with_development_defaults():
    s = settings_with(DEBUG="1")

    assert s["DEBUG"] is True
    assert s["SECRET_KEY"] == DEV_SECRET_KEY
    assert s["JWT_SIGNING_KEY"] == DEV_JWT_SIGNING_KEY
    assert s["SECURE_SSL_REDIRECT"] is False and s["SESSION_COOKIE_SECURE"] is False


def test_invalid_debug_value_is_refused_naming_it():
    assert "DEBUG" in refusal(DEBUG="maybe")


def test_debug_off_without_mfa_encryption_keys_refuses_to_start_naming_it():
    message = refusal(DEBUG="0", SECRET_KEY=REAL_SECRET, JWT_SIGNING_KEY=REAL_JWT_KEY, MFA_ENCRYPTION_KEYS=" , ")
    assert message.startswith("MFA_ENCRYPTION_KEYS ")
    # It says how an existing site keeps its secrets readable.
    assert "manage.py mfa_derived_key" in message


def test_manage_py_check_refuses_to_run_without_mfa_encryption_keys():
    production = {"DEBUG": "0", "SECRET_KEY": REAL_SECRET, "JWT_SIGNING_KEY": REAL_JWT_KEY,
                  "DATABASE_URL": "sqlite://"}
    proc = run_with_settings(["manage.py", "check"], **production)
    assert proc.returncode != 0
    assert "ImproperlyConfigured: MFA_ENCRYPTION_KEYS is not set" in proc.stderr, proc.stderr[-2000:]
    proc = run_with_settings(["manage.py", "check"], MFA_ENCRYPTION_KEYS=REAL_MFA_KEY, **production)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_debug_on_needs_no_mfa_encryption_keys():
    s = settings_with(DEBUG="1")
    assert s["MFA_ENCRYPTION_KEYS"] is None and s["SECRET_KEY_FALLBACKS"] == []


def test_mfa_encryption_keys_and_secret_key_fallbacks_are_comma_separated_lists():
    s = settings_with(**{**PRODUCTION, "MFA_ENCRYPTION_KEYS": "new-key, old-key"}, SECRET_KEY_FALLBACKS="o" * 50)
    assert s["MFA_ENCRYPTION_KEYS"] == ["new-key", "old-key"]
    assert s["SECRET_KEY_FALLBACKS"] == ["o" * 50]


# --- HTTPS and cookies --------------------------------------------------------------------------------


def test_debug_off_redirects_to_https_and_secures_cookies_by_default():
    s = settings_with(**PRODUCTION)

    assert s["DEBUG"] is False
    assert s["SECRET_KEY"] == REAL_SECRET and s["JWT_SIGNING_KEY"] == REAL_JWT_KEY
    assert s["SECURE_SSL_REDIRECT"] is True
    assert s["SESSION_COOKIE_SECURE"] is True and s["CSRF_COOKIE_SECURE"] is True
    assert s["SECURE_HSTS_SECONDS"] > 0


def test_https_redirect_and_secure_cookies_can_be_turned_off():
    s = settings_with(**PRODUCTION, SECURE_SSL_REDIRECT="0", SECURE_COOKIES="0")

    assert s["SECURE_SSL_REDIRECT"] is False
    assert s["SESSION_COOKIE_SECURE"] is False and s["CSRF_COOKIE_SECURE"] is False
    assert s["SECURE_HSTS_SECONDS"] == 0


def test_https_redirect_and_secure_cookies_are_independent():
    s = settings_with(**PRODUCTION, SECURE_SSL_REDIRECT="0")

    assert s["SECURE_SSL_REDIRECT"] is False and s["SESSION_COOKIE_SECURE"] is True


# --- DATABASE_URL ---------------------------------------------------------------------------------------


def test_mongodb_url_selects_mongodb_backend_with_short_server_selection_timeout():
    s = settings_with(DEBUG="1", DATABASE_URL="mongodb://db.internal:27017/authsite?directConnection=true")

    db = s["DATABASE"]
    assert db["ENGINE"] == "django_mongodb_backend"
    assert db["NAME"] == "authsite"
    assert db["HOST"].startswith("mongodb://db.internal:27017/authsite?")
    assert "serverSelectionTimeoutMS=" in db["HOST"]
    assert "directConnection=true" in db["HOST"]


def test_sqlite_url_selects_sqlite_backend():
    s = settings_with(DEBUG="1", DATABASE_URL="sqlite:///x")

    assert s["DATABASE"]["ENGINE"] == "django.db.backends.sqlite3"
    assert s["DATABASE"]["NAME"] == str(Path(s["BASE_DIR"]) / "x")


def test_postgres_url_selects_postgresql_backend():
    s = settings_with(DEBUG="1", DATABASE_URL="postgres://u:p@h:5432/db")

    db = s["DATABASE"]
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["USER"], db["PASSWORD"], db["HOST"], db["PORT"], db["NAME"]) == ("u", "p", "h", "5432", "db")


def test_unsupported_database_scheme_fails_with_clear_message():
    message = refusal(DEBUG="1", DATABASE_URL="mysql://u:p@h/db")

    assert "DATABASE_URL" in message and "mysql" in message
    assert "mongodb://" in message


# --- Cache and hosts ------------------------------------------------------------------------------------


def test_redis_url_selects_djangos_redis_cache():
    s = settings_with(DEBUG="1", REDIS_URL="redis://cache.internal:6379/2")

    assert s["CACHE_BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert s["CACHE_LOCATION"] == "redis://cache.internal:6379/2"


def test_without_redis_url_the_cache_is_file_based_in_cache_dir(tmp_path):
    s = settings_with(DEBUG="1", CACHE_DIR=str(tmp_path / "c"))

    assert s["CACHE_BACKEND"] == "django.core.cache.backends.filebased.FileBasedCache"
    assert s["CACHE_LOCATION"] == str(tmp_path / "c")


def test_default_cache_dir_is_a_project_folder():
    s = settings_with(DEBUG="1")

    assert s["CACHE_BACKEND"] == "django.core.cache.backends.filebased.FileBasedCache"
    assert Path(s["CACHE_LOCATION"]).is_relative_to(Path(s["BASE_DIR"]))


def test_allowed_hosts_is_comma_separated():
    s = settings_with(DEBUG="1", ALLOWED_HOSTS=" auth.example.com, api.example.com ,,")

    assert s["ALLOWED_HOSTS"] == ["auth.example.com", "api.example.com"]


# --- authsite.env, directly -------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("true", True), (" YES ", True), ("on", True),
                                               ("0", False), ("false", False), ("Off", False), ("", False)])
def test_env_bool_parses_common_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("X_FLAG", raw)
    assert env.env_bool("X_FLAG", not expected) is expected


def test_env_bool_uses_default_when_unset_and_refuses_garbage(monkeypatch):
    monkeypatch.delenv("X_FLAG", raising=False)
    assert env.env_bool("X_FLAG", True) is True
    monkeypatch.setenv("X_FLAG", "2")
    with pytest.raises(ImproperlyConfigured, match="X_FLAG"):
        env.env_bool("X_FLAG", True)


def test_env_int_parses_and_bounds(monkeypatch):
    monkeypatch.setenv("X_INT", "300")
    assert env.env_int("X_INT", 5) == 300
    monkeypatch.setenv("X_INT", "")
    assert env.env_int("X_INT", 5) == 5
    monkeypatch.setenv("X_INT", "ten")
    with pytest.raises(ImproperlyConfigured, match="X_INT"):
        env.env_int("X_INT", 5)
    monkeypatch.setenv("X_INT", "0")
    with pytest.raises(ImproperlyConfigured, match="X_INT"):
        env.env_int("X_INT", 5)
    assert env.env_int("X_INT", 5, minimum=0) == 0


def test_env_list_splits_on_commas_and_drops_blanks(monkeypatch):
    monkeypatch.setenv("X_LIST", "a, b ,, c,")
    assert env.env_list("X_LIST", ["d"]) == ["a", "b", "c"]
    monkeypatch.delenv("X_LIST")
    assert env.env_list("X_LIST", ["d"]) == ["d"]


def test_env_rate_accepts_drf_rates_and_off(monkeypatch):
    monkeypatch.setenv("X_RATE", "20/min")
    assert env.env_rate("X_RATE", "5/hour") == "20/min"
    monkeypatch.setenv("X_RATE", "off")
    assert env.env_rate("X_RATE", "5/hour") is None
    monkeypatch.setenv("X_RATE", "many")
    with pytest.raises(ImproperlyConfigured, match="X_RATE"):
        env.env_rate("X_RATE", "5/hour")


def test_database_from_url_mongodb_keeps_explicit_timeouts():
    db = env.database_from_url("mongodb://h:1/site?serverSelectionTimeoutMS=900", base_dir="/srv")

    assert db["ENGINE"] == "django_mongodb_backend" and db["NAME"] == "site"
    assert "serverSelectionTimeoutMS=900" in db["HOST"]
    assert db["HOST"].count("serverSelectionTimeoutMS") == 1


def test_database_from_url_mongodb_srv_and_missing_name():
    db = env.database_from_url("mongodb+srv://u:p@cluster0.example.net/prod", base_dir="/srv")
    assert db["ENGINE"] == "django_mongodb_backend" and db["NAME"] == "prod"
    with pytest.raises(ImproperlyConfigured, match="name the database"):
        env.database_from_url("mongodb://h:27017", base_dir="/srv")


@pytest.mark.parametrize(
    ("url", "name"),
    [("sqlite://", ":memory:"), ("sqlite:///db.sqlite3", "/srv/db.sqlite3"), ("sqlite:////var/db/x.sqlite3",
                                                                              "/var/db/x.sqlite3")],
)
def test_database_from_url_sqlite_paths(url, name):
    db = env.database_from_url(url, base_dir="/srv")

    assert (db["ENGINE"], db["NAME"]) == ("django.db.backends.sqlite3", name)


def test_tests_on_a_sqlite_file_use_a_file_beside_it_not_shared_memory():
    """So that threads get their own connections and the race tests run on SQLite's locking."""
    assert env.database_from_url("sqlite:////var/db/x.sqlite3", base_dir="/srv")["TEST"] == {
        "NAME": "/var/db/test_x.sqlite3"
    }
    assert "TEST" not in env.database_from_url("sqlite://", base_dir="/srv")


def test_sqlite_file_gets_immediate_transactions_a_busy_timeout_wal_and_normal_sync():
    s = settings_with(DEBUG="1", DATABASE_URL="sqlite:////var/db/x.sqlite3")

    assert s["DATABASE"]["OPTIONS"] == {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
    }


def test_sqlite_timeout_and_synchronous_come_from_the_environment():
    s = settings_with(
        DEBUG="1", DATABASE_URL="sqlite:///x", SQLITE_TIMEOUT="5", SQLITE_SYNCHRONOUS="full"
    )

    assert s["DATABASE"]["OPTIONS"]["timeout"] == 5
    assert s["DATABASE"]["OPTIONS"]["init_command"] == "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL"


@pytest.mark.parametrize(("name", "value"), [("SQLITE_SYNCHRONOUS", "fast"), ("SQLITE_TIMEOUT", "0")])
def test_bad_sqlite_settings_are_refused_naming_the_variable(name, value):
    message = refusal(DEBUG="1", DATABASE_URL="sqlite:///x", **{name: value})

    assert name in message and value in message


def test_in_memory_sqlite_gets_immediate_transactions_but_no_wal_pragmas():
    db = env.database_from_url("sqlite://", base_dir="/srv", sqlite_timeout=7)

    assert db["OPTIONS"] == {"transaction_mode": "IMMEDIATE", "timeout": 7}


def test_database_from_url_postgres_decodes_credentials():
    db = env.database_from_url("postgresql://us%40er:p%3Ass@db.example:6543/app", base_dir="/srv")

    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["USER"], db["PASSWORD"], db["HOST"], db["PORT"], db["NAME"]) == (
        "us@er", "p:ss", "db.example", "6543", "app")


@pytest.mark.parametrize("url", ["mysql://h/db", "redis://h:6379/0", "not a url", ""])
def test_database_from_url_refuses_unsupported_schemes(url):
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL"):
        env.database_from_url(url, base_dir="/srv")


# --- Email, SITE_URL, password reset ------------------------------------------------------------------

READ_EMAIL_SETTINGS = """
import json
from django.conf import settings
names = ["EMAIL_BACKEND", "EMAIL_HOST", "EMAIL_PORT", "EMAIL_HOST_USER", "EMAIL_HOST_PASSWORD",
         "EMAIL_USE_TLS", "EMAIL_FILE_PATH", "EMAIL_TIMEOUT", "DEFAULT_FROM_EMAIL", "SITE_URL",
         "PASSWORD_RESET_TIMEOUT"]
out = {name: getattr(settings, name) for name in names}
out["MFA_SITE_URL"] = settings.MFA["SITE_URL"]
out["RESET_RATE"] = settings.MFA["PASSWORD_RESET_RATE"]
out["RESET_IP_RATE"] = settings.MFA["IP_RATES"]["password_reset"]
print(json.dumps(out, default=str))
"""


def email_settings(**variables: str) -> dict:
    proc = run_with_settings(["-c", READ_EMAIL_SETTINGS], **variables)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def test_email_settings_come_from_the_environment(tmp_path):
    s = email_settings(
        **PRODUCTION, EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_HOST="smtp.example.org", EMAIL_PORT="587", EMAIL_HOST_USER="mailer",
        EMAIL_HOST_PASSWORD="s3cret", EMAIL_USE_TLS="1", EMAIL_FILE_PATH=str(tmp_path),
        DEFAULT_FROM_EMAIL="Accounts <accounts@example.org>", SITE_URL="https://accounts.example.org/",
        PASSWORD_RESET_RATE="3/15min", AUTH_IP_RATE_PASSWORD_RESET="off",
    )
    assert s["EMAIL_BACKEND"] == "django.core.mail.backends.filebased.EmailBackend"
    assert (s["EMAIL_HOST"], s["EMAIL_PORT"], s["EMAIL_HOST_USER"], s["EMAIL_HOST_PASSWORD"]) == (
        "smtp.example.org", 587, "mailer", "s3cret"
    )
    assert s["EMAIL_USE_TLS"] is True and s["EMAIL_FILE_PATH"] == str(tmp_path)
    assert s["DEFAULT_FROM_EMAIL"] == "Accounts <accounts@example.org>"
    assert s["SITE_URL"] == s["MFA_SITE_URL"] == "https://accounts.example.org"
    assert s["RESET_RATE"] == "3/15min" and s["RESET_IP_RATE"] is None


def test_email_and_reset_defaults():
    production = email_settings(**PRODUCTION)
    assert production["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert production["EMAIL_USE_TLS"] is False and production["EMAIL_TIMEOUT"] == 10
    assert production["SITE_URL"] is None  # never guessed from a Host header
    assert production["PASSWORD_RESET_TIMEOUT"] == 3600
    assert production["RESET_RATE"] == "5/10min" and production["RESET_IP_RATE"] == "10/hour"
    debug = email_settings(DEBUG="1")
    assert debug["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"
    assert debug["SITE_URL"] == "http://localhost:8000"


@pytest.mark.parametrize("value", ["example.org", "ftp://example.org", "https://", "https://x.org/?a=1"])
def test_site_url_must_be_an_http_origin(value):
    proc = run_with_settings(["-c", READ_EMAIL_SETTINGS], SITE_URL=value, **PRODUCTION)
    assert proc.returncode != 0 and "SITE_URL must be like" in proc.stderr


def test_env_rate_with_multiples(monkeypatch):
    """Every rate takes a multiple of its unit: the throttles read rates with mfa's parser too."""
    monkeypatch.setenv("R", "5/10min")
    assert env.env_rate("R", "1/min") == "5/10min"
    for bad in ("5/0min", "5/10x", "x/10m", "5 per minute", "0/min", "5/"):
        monkeypatch.setenv("R", bad)
        with pytest.raises(ImproperlyConfigured, match=r"^R must be a rate"):
            env.env_rate("R", "1/min")


@pytest.mark.parametrize("text", ["5/01m", "30/MIN", " 3 / 2 h ", "1/2d", "10/hour"])
def test_env_rate_accepts_what_mfa_reads(monkeypatch, text):
    """One parser (mfa.ratelimit.parse_rate) for the environment and the limits: a value the site
    starts with is one every limit reads ("5/01m" was refused here and read there)."""
    monkeypatch.setenv("R", text)
    assert ratelimit.parse_rate(env.env_rate("R", "1/min")) == ratelimit.parse_rate(text) is not None


def test_a_bad_rate_in_the_environment_refuses_to_start_naming_it():
    assert refusal(DEBUG="1", AUTH_IP_RATE_LOGIN="5 per minute").startswith("AUTH_IP_RATE_LOGIN must be a rate")
