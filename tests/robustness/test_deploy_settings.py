"""Production settings: ``manage.py check --deploy --fail-level WARNING`` is clean with a
production-like environment, and the security settings it implies hold (SECURITY.md,
"Production settings"; ASVS 3.4, 3.7; OWASP Django cheat sheet)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys

from cryptography.fernet import Fernet

from tests.live import ROOT


def production_env(**extra: str) -> dict[str, str]:
    """DEBUG off, real-length secrets, one host, HTTPS on by default; the suite's database kind."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST_", "SECURE_", "LOG_"))}
    for name in ("SECRET_KEY", "JWT_SIGNING_KEY", "ALLOWED_HOSTS", "DEBUG", "MFA_ENCRYPTION_KEYS"):
        env.pop(name, None)
    suite_db = os.environ.get("DATABASE_URL", "")
    env.update(
        DJANGO_SETTINGS_MODULE="authsite.settings",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        JWT_SIGNING_KEY=secrets.token_urlsafe(48),
        MFA_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="auth.example.com",
        SITE_URL="https://auth.example.com",
        # checks never connect; the URL only selects the backend's apps and settings
        DATABASE_URL="sqlite:////tmp/authsite-deploy-check.sqlite3" if suite_db.startswith(("sqlite", "postgres"))
        else "mongodb://127.0.0.1:1/authsite?directConnection=true",
        **extra,
    )
    return env


def test_check_deploy_is_clean_with_production_settings():
    r = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=production_env(), capture_output=True, text=True, timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "no issues" in r.stdout, r.stdout


def test_check_deploy_warns_without_site_url():
    """Without SITE_URL the site starts and answers reset requests, but sends no email: mfa.W004."""
    env = production_env()
    del env["SITE_URL"]
    r = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert r.returncode != 0 and "mfa.W004" in r.stdout + r.stderr, r.stdout + r.stderr


PROBE = """
import json, django
django.setup()
from django.conf import settings as s
f = s.LOGGING["filters"]["no_db_queries"]
print(json.dumps({
    "DEBUG": s.DEBUG, "SECURE_SSL_REDIRECT": s.SECURE_SSL_REDIRECT, "HSTS": s.SECURE_HSTS_SECONDS,
    "HSTS_SUB": s.SECURE_HSTS_INCLUDE_SUBDOMAINS, "HSTS_PRELOAD": s.SECURE_HSTS_PRELOAD,
    "SESSION_COOKIE_SECURE": s.SESSION_COOKIE_SECURE, "CSRF_COOKIE_SECURE": s.CSRF_COOKIE_SECURE,
    "SESSION_COOKIE_HTTPONLY": s.SESSION_COOKIE_HTTPONLY, "X_FRAME_OPTIONS": s.X_FRAME_OPTIONS,
    "NOSNIFF": s.SECURE_CONTENT_TYPE_NOSNIFF, "HASHER": s.PASSWORD_HASHERS[0],
    "JWT_ALG": s.SIMPLE_JWT["ALGORITHM"], "JWT_KEY_IS_SECRET_KEY": s.SIMPLE_JWT["SIGNING_KEY"] == s.SECRET_KEY,
    "LEEWAY": s.SIMPLE_JWT["LEEWAY"], "ACCESS": s.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds(),
    "DB_QUERY_LOGS": f["enabled"], "IP_RATES": s.MFA["IP_RATES"],
    "SERVER_SELECTION_MS": s.DATABASES["default"].get("HOST", ""),
}))
"""


def test_production_defaults_are_the_secure_ones():
    r = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=production_env(), capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["DEBUG"] is False and s["SECURE_SSL_REDIRECT"] is True
    assert s["HSTS"] >= 31536000 and s["HSTS_SUB"] and s["HSTS_PRELOAD"]
    assert s["SESSION_COOKIE_SECURE"] and s["CSRF_COOKIE_SECURE"] and s["SESSION_COOKIE_HTTPONLY"]
    assert s["X_FRAME_OPTIONS"] == "DENY" and s["NOSNIFF"]
    assert s["HASHER"] == "accounts.hashers.Argon2idPasswordHasher"
    assert s["JWT_ALG"] == "HS256" and not s["JWT_KEY_IS_SECRET_KEY"] and s["LEEWAY"] == 0
    assert s["ACCESS"] <= 300
    assert s["DB_QUERY_LOGS"] is False
    assert all(rate for rate in s["IP_RATES"].values()), s["IP_RATES"]  # every per-IP throttle on
    if "mongodb" in s["SERVER_SELECTION_MS"]:
        assert "serverSelectionTimeoutMS=2000" in s["SERVER_SELECTION_MS"]
