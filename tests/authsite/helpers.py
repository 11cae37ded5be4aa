"""Helpers for the tests of authsite's settings: run Python with the real settings and only the
site's environment variables a test gives (none leak in from the test process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REAL_SECRET = "s" * 50
REAL_JWT_KEY = "j" * 50
REAL_MFA_KEY = "cmVhbC1tZmEtZW5jcnlwdGlvbi1rZXktMzItYnl0ZXM="
# The variables a production site (DEBUG off) must set.
PRODUCTION = {
    "DEBUG": "0", "SECRET_KEY": REAL_SECRET, "JWT_SIGNING_KEY": REAL_JWT_KEY, "MFA_ENCRYPTION_KEYS": REAL_MFA_KEY,
}

# Variables the settings read; none may leak in from the test process (tests/settings.py sets some).
SITE_VARS = {
    "SECRET_KEY", "JWT_SIGNING_KEY", "DEBUG", "DATABASE_URL", "REDIS_URL", "CACHE_DIR", "ALLOWED_HOSTS",
    "SECURE_SSL_REDIRECT", "SECURE_COOKIES", "MFA_ENCRYPTION_KEYS", "DJANGO_SETTINGS_MODULE",
    "AUTHSITE_TEST_DB_FROM_FIXTURE", "TRUST_X_FORWARDED_PROTO", "SECURE_HSTS_SECONDS",
    "ACCESS_TOKEN_LIFETIME", "REFRESH_TOKEN_LIFETIME", "CSRF_TRUSTED_ORIGINS", "TRUSTED_PROXIES",
    "SECRET_KEY_FALLBACKS",
    "SITE_URL", "PASSWORD_RESET_TIMEOUT", "PASSWORD_RESET_RATE", "AUTH_IP_RATE_PASSWORD_RESET",
    "EMAIL_BACKEND", "EMAIL_HOST", "EMAIL_PORT", "EMAIL_HOST_USER", "EMAIL_HOST_PASSWORD", "EMAIL_USE_TLS",
    "EMAIL_FILE_PATH", "EMAIL_TIMEOUT", "DEFAULT_FROM_EMAIL", "SQLITE_TIMEOUT", "SQLITE_SYNCHRONOUS",
    "WEBAUTHN_RP_ID", "WEBAUTHN_RP_NAME", "WEBAUTHN_ORIGINS", "MFA_PASSKEY_LOGIN", "AUTH_IP_RATE_PASSKEY_LOGIN",
    "MFA_TRUST_DAYS",
}


def run_with_settings(args: list[str], *, timeout: float = 60, **variables: str) -> subprocess.CompletedProcess:
    """``python *args`` in the project root with authsite's settings and, of the variables the
    settings read, only ``variables``."""
    environ = {k: v for k, v in os.environ.items() if k not in SITE_VARS}
    environ["DJANGO_SETTINGS_MODULE"] = "authsite.settings"
    environ.update(variables)
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=timeout
    )
