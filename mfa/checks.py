"""System checks for a host site's configuration.

- mfa.E001: simplejwt's password-only token views routed (a side door around MFA and sessions).
- mfa.E002: PartialLoginMiddleware without mfa's pages in the URLconf.
- mfa.E003: one MFA setting given under two of its names (ENROLMENT_LIFETIME and ENROLLMENT_LIFETIME).
- mfa.E004 (``check --deploy``): DEBUG off and no MFA["ENCRYPTION_KEYS"], so TOTP secrets are
  encrypted with a key derived from SECRET_KEY.
- mfa.W004 (``check --deploy``): DEBUG off and no MFA["SITE_URL"], so no password reset email can be
  sent (every request is still answered 202).
- mfa.E005: a WebAuthn RP ID that is not a host name, or an origin that is not https (http only for
  localhost) or whose host is neither the RP ID nor under it.
- mfa.E006: a rate (MFA["IP_RATES"], MFA["PASSWORD_RESET_RATE"]) that mfa.ratelimit.parse_rate
  refuses: every request it limits would answer 500.
- mfa.W001: the JWT signing key is SECRET_KEY or shorter than 256 bits.
- mfa.W002: an unknown key in the MFA settings dict (a typo is otherwise silently ignored).
"""

from __future__ import annotations

import difflib
from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.urls import URLPattern, URLResolver, get_resolver

from mfa import conf, ratelimit

FORBIDDEN_VIEWS = {
    "rest_framework_simplejwt.views.TokenObtainPairView",
    "rest_framework_simplejwt.views.TokenObtainSlidingView",
    "rest_framework_simplejwt.views.TokenRefreshView",
    "rest_framework_simplejwt.views.TokenRefreshSlidingView",
}


def _walk(patterns: list[Any], prefix: str = ""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.callback


@register(Tags.security, Tags.urls)
def check_no_password_only_token_view(app_configs: Any = None, **kwargs: Any) -> list:
    """mfa.E001: simplejwt's own obtain/refresh views would issue tokens around MFA and sessions."""
    errors = []
    try:
        resolver = get_resolver()
        patterns = list(_walk(resolver.url_patterns))
    except Exception:  # noqa: BLE001 - a broken URLconf is reported by Django's own checks
        return []
    for route, callback in patterns:
        view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
        if view_class is None:
            continue
        for klass in view_class.__mro__:
            dotted = f"{klass.__module__}.{klass.__qualname__}"
            if dotted in FORBIDDEN_VIEWS:
                errors.append(
                    Error(
                        f"URL pattern {route!r} exposes {dotted}.",
                        hint=(
                            "simplejwt's token views issue tokens from a password alone (no second "
                            "factor) or refresh without sessions; remove the pattern and use "
                            "the endpoints in mfa.urls."
                        ),
                        id="mfa.E001",
                    )
                )
                break
    return errors


@register(Tags.security)
def check_signing_key(app_configs: Any = None, **kwargs: Any) -> list:
    """mfa.W001: the JWT signing key should be its own 256-bit secret, not SECRET_KEY."""
    key = (getattr(settings, "SIMPLE_JWT", {}) or {}).get("SIGNING_KEY", settings.SECRET_KEY)
    if isinstance(key, str) and (key == settings.SECRET_KEY or len(key) < 43):
        return [
            Warning(
                "SIMPLE_JWT['SIGNING_KEY'] is SECRET_KEY or shorter than 256 bits.",
                hint="Set it to its own random value of at least 43 URL-safe characters.",
                id="mfa.W001",
            )
        ]
    return []


MIDDLEWARE_PATH = "mfa.middleware.PartialLoginMiddleware"
MIDDLEWARE_PATHS = {MIDDLEWARE_PATH, "mfa.pages.middleware.PartialLoginMiddleware"}


@register(Tags.urls)
def check_middleware_has_pages(app_configs: Any = None, **kwargs: Any) -> list:
    """mfa.E002: PartialLoginMiddleware sends a half-signed-in browser to the challenge page of
    mfa.pages_urls; without those URLs the first MFA user to sign in would get a server error."""
    if not MIDDLEWARE_PATHS & set(getattr(settings, "MIDDLEWARE", [])):
        return []
    from django.urls import NoReverseMatch, reverse

    try:
        reverse("mfa_pages:challenge")
    except NoReverseMatch:
        return [
            Error(
                f"{MIDDLEWARE_PATH} is in MIDDLEWARE but mfa's pages are not in the URLconf.",
                hint='Add path("account/", include("mfa.pages_urls")) to your URLs, or remove the '
                "middleware.",
                id="mfa.E002",
            )
        ]
    except Exception:  # noqa: BLE001 - a broken URLconf is reported by Django's own checks
        return []
    return []


@register()
def check_mfa_settings_keys(app_configs: Any = None, **kwargs: Any) -> list:
    """mfa.W002: unknown keys in settings.MFA; mfa.E003: a key set under two of its names."""
    user = conf.user_settings()
    messages: list = []
    for key in conf.unknown_keys(user):
        close = difflib.get_close_matches(key, [*conf.DEFAULTS, *conf.ALIASES], n=1)
        hint = f"Did you mean {close[0]!r}?" if close else "See docs/using-mfa.md for every MFA option."
        messages.append(
            Warning(f"MFA[{key!r}] is not an mfa setting; it is ignored.", hint=hint, id="mfa.W002")
        )
    for key in conf.DEFAULTS:
        given = conf.given_names(key, user)
        if len(given) > 1:
            messages.append(
                Error(
                    f"MFA sets {key} under several names: {', '.join(given)}.",
                    hint=f"Keep one of them ({key} is the canonical name).",
                    id="mfa.E003",
                )
            )
    return messages


@register(Tags.security)
def check_rates(app_configs: Any = None, **kwargs: Any) -> list:
    """mfa.E006: every configured rate is read at start-up as the limits read it, so a value such
    as "5 per minute" fails ``check`` instead of every request it limits."""
    rates = {f'MFA["IP_RATES"][{scope!r}]': text for scope, text in conf.mfa_settings.IP_RATES.items()}
    rates['MFA["PASSWORD_RESET_RATE"]'] = conf.mfa_settings.PASSWORD_RESET_RATE
    errors = []
    for name, text in rates.items():
        try:
            ratelimit.parse_rate(text)
        except ValueError:
            errors.append(Error(
                f"{name} is not a rate: {text!r}.",
                hint='Give a count per period such as "30/min", "10/hour" or "5/10m" (5 per 10 '
                'minutes), or None to turn the limit off.',
                id="mfa.E006",
            ))
    return errors


@register(Tags.security, deploy=True)
def check_encryption_keys(app_configs: Any = None, **kwargs: Any) -> list:
    """mfa.E004: in production TOTP secrets need their own keys. Derived from SECRET_KEY, they are
    lost when SECRET_KEY is rotated without keeping the old value in SECRET_KEY_FALLBACKS."""
    if settings.DEBUG or conf.mfa_settings.ENCRYPTION_KEYS:
        return []
    return [
        Error(
            'MFA["ENCRYPTION_KEYS"] is not set: TOTP secrets are encrypted with a key derived from '
            "SECRET_KEY.",
            hint="Set it to a list of Fernet keys, newest first. A site that already has TOTP "
            "secrets first sets it to [the key printed by `python manage.py mfa_derived_key`], "
            "so they stay readable.",
            id="mfa.E004",
        )
    ]


@register(Tags.security, deploy=True)
def check_site_url(app_configs: Any = None, **kwargs: Any) -> list:
    """mfa.W004: reset links are built from MFA["SITE_URL"], never from a request's Host header.
    Without it every reset request is answered 202 as usual, and the email is never sent (an error
    is logged after the answer): in production nobody could reset a password."""
    if settings.DEBUG or conf.mfa_settings.SITE_URL:
        return []
    return [
        Warning(
            'MFA["SITE_URL"] is not set: password reset requests are answered but no reset email '
            "is sent.",
            hint='Set it to the site\'s origin, e.g. "https://example.com" (authsite: the SITE_URL '
            "environment variable). A site whose adapter builds reset links without it may silence "
            "mfa.W004.",
            id="mfa.W004",
        )
    ]


@register(Tags.security)
def check_admin_login_gate(app_configs: Any = None, **kwargs: Any) -> list:
    """mfa.W003: the default admin site signs in with a form that skips the password gate (its
    backoff, per-IP limit and events), e.g. a login_form set by the host."""
    from django.apps import apps

    if not apps.is_installed("django.contrib.admin"):
        return []
    from django.contrib import admin

    from mfa.pages.forms import PasswordLoginForm

    form = admin.site.login_form
    if form is not None and isinstance(form, type) and issubclass(form, PasswordLoginForm):
        return []
    return [
        Warning(
            "The admin login form does not go through mfa's password gate: guesses at staff "
            "passwords there are not backed off, limited per IP or recorded.",
            hint="Set admin.site.login_form (or your AdminSite's) to "
            "mfa.pages.forms.AdminPasswordLoginForm, or a subclass of it.",
            id="mfa.W003",
        )
    ]


@register(Tags.security)
def check_webauthn_origins(app_configs: Any = None, **kwargs: Any) -> list:
    """mfa.E005: a browser refuses a ceremony whose RP ID is not its origin's host or a parent of
    it (WebAuthn L3 5.1.3), and plain http outside localhost is not a secure context: such a
    configuration would fail for every user at the first key, so it is refused at startup."""
    from mfa.methods import webauthn

    rp_id = conf.mfa_settings.WEBAUTHN_RP_ID
    origins = webauthn.configured_origins()
    problem = webauthn.rp_id_problem(rp_id)
    problems = [problem] if problem else []
    if origins and not problem:
        problems += webauthn.origin_problems(rp_id, origins)
    return [
        Error(
            f"WebAuthn: {text}.",
            hint='Set MFA["WEBAUTHN_RP_ID"] to your host name (e.g. "example.com") and '
            'MFA["WEBAUTHN_ORIGINS"] to the exact origins under it (e.g. ["https://example.com", '
            '"https://app.example.com"]); authsite: WEBAUTHN_RP_ID and WEBAUTHN_ORIGINS.',
            id="mfa.E005",
        )
        for text in problems
    ]
