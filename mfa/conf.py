"""The mfa app's settings: one ``MFA = {...}`` dict in the host's settings, merged over DEFAULTS.

Values are read at call time (``mfa_settings.ISSUER``), never copied at import, and the cache is
dropped when a test changes ``settings.MFA``. A key may be spelt with either English spelling
where it has one (``ENROLMENT_LIFETIME`` / ``ENROLLMENT_LIFETIME``), and a renamed key keeps
working under its old name (ALIASES). Unknown keys are reported by the system check ``mfa.W002``.

This module imports nothing else of mfa, so any module may read settings.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

DEFAULTS: dict[str, Any] = {
    # Shown by authenticator apps above the account name (Key Uri Format "issuer"); None: the
    # site's name (django.contrib.sites when installed, else the project's name), per the adapter.
    "ISSUER": None,
    # Time steps accepted either side of the server's step (RFC 6238 5.2 recommends at most 1).
    "TOTP_DRIFT_STEPS": 1,
    # A pending (unconfirmed) enrolment expires after this long (NIST 800-63B 4.1.2.1: at most 10 min).
    "ENROLMENT_LIFETIME": timedelta(minutes=10),
    # Consecutive wrong codes before the backoff starts; the first wait; the longest wait.
    "LOCKOUT_THRESHOLD": 5,
    "LOCKOUT_BASE_SECONDS": 30,
    "LOCKOUT_MAX_SECONDS": 3600,
    # After this many consecutive failures TOTP codes are refused until a recovery code succeeds
    # (NIST SP 800-63B 3.2.2: at most 100); None or 0 turns it off.
    "TOTP_MAX_FAILURES": 100,
    # Consecutive wrong passwords for one username before the same backoff applies to logins
    # (None or 0 turns the per-account password limit off; the per-IP throttles stay).
    "PASSWORD_LOCKOUT_THRESHOLD": 10,
    # Number of recovery codes issued at once.
    "RECOVERY_CODE_COUNT": 10,
    # Fernet keys (URL-safe base64, 32 bytes), newest first; None derives one from SECRET_KEY.
    "ENCRYPTION_KEYS": None,
    # Access and refresh token lifetimes; None uses SIMPLE_JWT's (5 minutes and 7 days here).
    "ACCESS_TOKEN_LIFETIME": None,
    "REFRESH_TOKEN_LIFETIME": None,
    # The half-authenticated state (mfa_token, browser partial login) lives this long.
    "MFA_TOKEN_LIFETIME": timedelta(minutes=5),
    # Database sessions: absolute lifetime and idle timeout (NIST AAL2 profile: 24 h and 1 h).
    "SESSION_ABSOLUTE_LIFETIME": timedelta(days=7),
    "SESSION_IDLE_TIMEOUT": timedelta(hours=24),
    # Per-IP rates ("N/period", a multiple of the unit allowed: "20/min", "5/10m"; read by
    # mfa.ratelimit.parse_rate), None disables one.
    "IP_RATES": {
        "register": "20/hour", "login": "30/min", "refresh": "60/min", "code_failures": "30/hour",
        # Password reset requests from one IP.
        "password_reset": "10/hour",
        # Passkey login (options and verify calls both count) from one IP.
        "passkey_login": "30/min",
    },
    # Password reset requests for one email address, known or not ("5/10m": 5 per 10 minutes);
    # None turns it off.
    "PASSWORD_RESET_RATE": "5/10m",
    # The site's own origin (scheme://host[:port]) that links in emails start with; never taken
    # from a request's Host header. None: no reset email can be sent (an error is logged).
    "SITE_URL": None,
    # Reverse proxies in front of the site whose X-Forwarded-For entries are trusted (0: none).
    "TRUSTED_PROXIES": 0,
    # Mandatory MFA: None (optional for everyone), "staff", "all", or a list of group names
    # (the adapter's is_mfa_required() applies it; a host may decide otherwise).
    "REQUIRED": None,
    # Days a user who falls under REQUIRED may still work without MFA (reminded on every page),
    # counted from the later of REQUIRED_SINCE (an ISO date, when the policy started) and the
    # user's date_joined.
    "REQUIRED_GRACE_DAYS": 0,
    "REQUIRED_SINCE": None,
    # Trusted devices ("remember this device"): days a device trusted after a second factor skips
    # it (counted from that second factor, never extended); 0 turns the feature off.
    "TRUST_DAYS": 30,
    # Whether IsMFAComplete accepts a login on a trusted device (amr "tdev"). RecentSecondFactor
    # never does.
    "TRUSTED_DEVICE_COMPLETES_MFA": True,
    # "Create an account" on the sign-in page: a URL name or path; None: the URL named "signup" if
    # the site has one, else no link.
    "SIGNUP_URL": None,
    # WebAuthn relying party: the RP ID is a host name every origin is equal to or under
    # (WebAuthn L3 5.1.2), fixed here and never taken from a request's Host header.
    "WEBAUTHN_RP_ID": "localhost",
    # The name browsers show when making a key; None: ISSUER, else the site's name.
    "WEBAUTHN_RP_NAME": None,
    # The exact origins ("https://example.com") ceremonies may come from (system check mfa.E005).
    # None: "http://localhost:8000" with DEBUG on; with DEBUG off WebAuthn answers 503
    # webauthn_not_configured until it is set.
    "WEBAUTHN_ORIGINS": None,
    # "Sign in with a passkey" (no password); registering passkeys works either way.
    "PASSKEY_LOGIN": False,
    # Dotted path of the adapter class (mfa.adapter.DefaultMFAAdapter) a host may subclass.
    "ADAPTER": "mfa.adapter.DefaultMFAAdapter",
}

# Other accepted names of a key: the other English spelling, and names from earlier releases.
ALIASES: dict[str, str] = {
    "ENROLLMENT_LIFETIME": "ENROLMENT_LIFETIME",
    "SETUP_LIFETIME": "ENROLMENT_LIFETIME",  # its name up to 0.1.0
}

IMPORT_STRINGS = {"ADAPTER"}


def user_settings() -> dict[str, Any]:
    """The host's ``settings.MFA`` dict (empty when unset)."""
    value = getattr(settings, "MFA", None)
    return value if isinstance(value, dict) else {}


def names_for(key: str) -> list[str]:
    """``key`` and every alias of it, canonical name first."""
    return [key, *(alias for alias, canonical in ALIASES.items() if canonical == key)]


def given_names(key: str, user: dict[str, Any] | None = None) -> list[str]:
    """The names under which the host set ``key`` (several means a conflict, see checks)."""
    user = user_settings() if user is None else user
    return [name for name in names_for(key) if name in user]


def unknown_keys(user: dict[str, Any] | None = None) -> list[str]:
    user = user_settings() if user is None else user
    return sorted(str(k) for k in user if k not in DEFAULTS and k not in ALIASES)


class MFASettings:
    """Attribute access to the merged settings, with import strings resolved."""

    def __init__(self) -> None:
        self._cache: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"Unknown mfa setting {name!r}")
        try:
            return self._cache[name]
        except KeyError:
            pass
        user = user_settings()
        given = given_names(name, user)
        value = user[given[0]] if given else DEFAULTS[name]
        if name == "IP_RATES":
            value = {**DEFAULTS["IP_RATES"], **(value or {})}
        if name in IMPORT_STRINGS and isinstance(value, str):
            value = import_string(value)
        self._cache[name] = value
        return value

    def reload(self) -> None:
        self._cache.clear()


mfa_settings = MFASettings()


def _reload(*, setting: str, **kwargs: Any) -> None:
    if setting == "MFA":
        mfa_settings.reload()


setting_changed.connect(_reload)
