"""The browser's side of a login, kept in Django's cookie session.

- ``"mfa.pending"``: a correct password for a user with MFA on, waiting for the second factor
  (who, which backend, since when, and a random ``binding`` its security-key ceremonies are tied
  to); it expires after MFA["MFA_TOKEN_LIFETIME"].
- ``"mfa.sid"``: the AuthSession row of a completed browser login, so ending that session in the
  API, the admin or the sessions page also signs the browser out.
- a request attribute ``_mfa_trusted_device``: set by the sign-in page when this browser's cookie
  holds a live trusted device of the user (mfa.pages.trust); the login then completes without
  the challenge, its row's ``amr`` "pwd tdev".

``on_user_logged_in`` (connected in MFAConfig.ready) decides, at every cookie login, whether the
login is complete or must become pending.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from typing import Any

from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.auth.models import AnonymousUser, update_last_login
from django.http import HttpRequest
from django.utils import timezone

from mfa import factors, sessions, tokens, trusted_devices
from mfa.conf import mfa_settings
from mfa.exceptions import MFAError
from mfa.http import client_info
from mfa.models import RevokeReason
from mfa.tokens import AMR

PENDING_KEY = "mfa.pending"
SID_KEY = "mfa.sid"
REMINDED_KEY = "mfa.reminded"
# The request attribute where the middleware keeps the AuthSession row it found live for the
# cookie's ``"mfa.sid"`` (its user and their MFA rows loaded), so views do not read it again.
LIVE_ROW_ATTR = "_mfa_live_session"


def pending_login(request: HttpRequest) -> dict[str, Any] | None:
    """The half-authenticated state of this browser session, or None (also when expired)."""
    pending = request.session.get(PENDING_KEY)
    if not isinstance(pending, dict):
        return None
    if time.time() - float(pending.get("at", 0)) > mfa_settings.MFA_TOKEN_LIFETIME.total_seconds():
        request.session.pop(PENDING_KEY, None)
        return None
    return pending


def pending_user(request: HttpRequest) -> Any:
    """The user of this browser's unfinished login, or None: none pending, expired, the account
    gone or inactive, or its password changed since the password step (the pending state is
    bound to the password like the API's mfa_token). A dead pending state is dropped."""
    pending = pending_login(request)
    if pending is None:
        return None
    user = get_user_model()._default_manager.filter(pk=pending.get("user")).first()
    bound = user is not None and tokens.password_fingerprint_matches(user, pending.get("pwf"))
    if not bound or not user.is_active:
        request.session.pop(PENDING_KEY, None)
        return None
    return user


def pending_binding(request: HttpRequest) -> str | None:
    """The random id this browser's pending login binds its security-key ceremonies to (made by
    ``begin_partial_login`` with the state), or None when no login is pending."""
    pending = pending_login(request)
    binding = pending.get("binding") if pending is not None else None
    return binding if isinstance(binding, str) else None


def begin_partial_login(request: HttpRequest, user: Any) -> None:
    """Undo a password-only login of a user with MFA on, keeping only the pending state."""
    backend = request.session.get(BACKEND_SESSION_KEY)
    for key in (SESSION_KEY, BACKEND_SESSION_KEY, HASH_SESSION_KEY, SID_KEY):
        request.session.pop(key, None)
    request.session[PENDING_KEY] = {
        "user": str(user.pk), "backend": backend, "at": time.time(),
        "pwf": tokens.password_fingerprint(user),
        "binding": secrets.token_urlsafe(24),
    }
    request.user = AnonymousUser()


def record_browser_session(request: HttpRequest, user: Any, amr: list[str]) -> None:
    """Record a completed browser login as an AuthSession row and remember it in the cookie."""
    row = sessions.create_session(user, amr=amr, now=timezone.now(), client=client_info(request))
    _remember_row(request, row)


def _remember_row(request: HttpRequest, row: Any) -> None:
    request.session[SID_KEY] = str(row.pk)
    request.session.pop(PENDING_KEY, None)


def on_user_logged_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """``user_logged_in`` receiver: decides whether a browser login is complete."""
    if request is None or not hasattr(request, "session"):
        return
    amr = getattr(request, "_mfa_amr", None)
    if amr is not None:  # the challenge view completed the second factor
        record_browser_session(request, user, amr)
        return
    device = getattr(request, "_mfa_trusted_device", None)
    if device is not None and device.user_id == user.pk:  # the sign-in page found this browser trusted
        row = trusted_devices.start_session(user, device, now=timezone.now(), client=client_info(request))
        _remember_row(request, row)
        return
    if factors.has_mfa(user):
        begin_partial_login(request, user)
        return
    record_browser_session(request, user, [AMR.PASSWORD])


def update_last_login_when_complete(
    sender: Any, user: Any, request: HttpRequest | None = None, **kwargs: Any
) -> None:
    """``user_logged_in`` receiver in place of Django's ``update_last_login``: writes last_login
    only for a completed login, not for the password step of an MFA login (which
    on_user_logged_in, connected before it, has just turned into a pending one)."""
    if request is not None and hasattr(request, "session") and pending_login(request) is not None:
        return
    if getattr(user, "_meta", None) is not None and any(f.name == "last_login" for f in user._meta.fields):
        update_last_login(sender, user)


def on_user_logged_out(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """``user_logged_out`` receiver: signing out of any page (the admin's too) ends the browser's
    session row, so it leaves the user's session list at once."""
    if request is None or user is None or not hasattr(request, "session"):
        return
    sid = request.session.get(SID_KEY)
    if sid:
        with contextlib.suppress(MFAError):  # already ended
            sessions.revoke_session(
                user, str(sid), now=timezone.now(), client=client_info(request), reason=RevokeReason.LOGOUT
            )
