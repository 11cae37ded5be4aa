"""The browser's side of trusted devices: the cookie holding this browser's device tokens.

One cookie per browser, holding a token per user: a signed JSON object mapping a keyed tag of the
user's id to that user's device token. A sign-in reads only the entry of the user whose password
was just checked, so a second person on a browser that trusts someone else still meets the
challenge. The cookie is HttpOnly and SameSite=Lax; over HTTPS (or with SESSION_COOKIE_SECURE)
it is Secure and named with the ``__Host-`` prefix (Secure, Path=/, no Domain: the browser then
refuses it from a sibling subdomain or over plain HTTP). The registry and its rules are
mfa.trusted_devices; signing out keeps the cookie, "sign out everywhere" revokes the devices.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponseBase
from django.utils import timezone

from mfa import crypto, sessions, trusted_devices
from mfa.conf import mfa_settings
from mfa.http import client_info
from mfa.models import TrustedDevice
from mfa.pages.state import SID_KEY

COOKIE_NAME = "mfa_trust"
SECURE_COOKIE_NAME = "__Host-mfa_trust"
_SALT = "mfa.pages.trust"
# Users remembered by one browser at most (a cookie stays well under the 4 KB browsers keep);
# one more forgets the entry written longest ago.
MAX_USERS = 10


def _secure(request: HttpRequest) -> bool:
    return bool(settings.SESSION_COOKIE_SECURE) or request.is_secure()


def _name(request: HttpRequest) -> str:
    return SECURE_COOKIE_NAME if _secure(request) else COOKIE_NAME


def _user_tag(user: Any) -> str:
    # A keyed tag, not the user id: the cookie does not say whose accounts this browser holds.
    return crypto.lookup_tag(str(user.pk), purpose="trusted-browser-user")[:22]


def _entries(request: HttpRequest) -> dict[str, str]:
    """This browser's {user tag: device token}; empty when absent, tampered with or unreadable."""
    value = request.COOKIES.get(_name(request))
    if not value:
        return {}
    try:
        entries = signing.loads(value, salt=_SALT)
    except (signing.BadSignature, ValueError):
        return {}
    if not isinstance(entries, dict):
        return {}
    return {k: v for k, v in entries.items() if isinstance(k, str) and isinstance(v, str)}


def _write(request: HttpRequest, response: HttpResponseBase, entries: dict[str, str]) -> None:
    name = _name(request)
    if not entries:
        if name in request.COOKIES:
            response.delete_cookie(name, path="/", samesite="Lax")
        return
    response.set_cookie(
        name, signing.dumps(entries, salt=_SALT, compress=True),
        max_age=int(mfa_settings.TRUST_DAYS) * 24 * 3600, path="/", domain=None,
        secure=_secure(request), httponly=True, samesite="Lax",
    )


def token_for(request: HttpRequest, user: Any) -> str | None:
    """The device token this browser holds for ``user``, or None."""
    return _entries(request).get(_user_tag(user))


def remember(request: HttpRequest, response: HttpResponseBase, user: Any, token: str) -> None:
    """Put ``user``'s device token in this browser's cookie (the other users' entries stay)."""
    entries = _entries(request)
    entries.pop(_user_tag(user), None)
    entries[_user_tag(user)] = token  # the newest last
    while len(entries) > MAX_USERS:
        entries.pop(next(iter(entries)))
    _write(request, response, entries)


def forget(request: HttpRequest, response: HttpResponseBase, user: Any) -> None:
    """Drop ``user``'s entry from this browser's cookie (the cookie goes with its last entry)."""
    entries = _entries(request)
    if entries.pop(_user_tag(user), None) is not None:
        _write(request, response, entries)


def device_of(request: HttpRequest, user: Any) -> TrustedDevice | None:
    """The live trusted device this browser's cookie names for ``user`` (its token checked by
    mfa.trusted_devices.device_for_login: another user's, revoked, expired or stale is None)."""
    token = token_for(request, user)
    if token is None:
        return None
    return trusted_devices.device_for_login(user, token, now=timezone.now())


def trust_this_browser(request: HttpRequest, response: HttpResponseBase, user: Any) -> None:
    """Right after a login completed with a second factor (``login()`` has recorded the session
    row in ``request.session``): trust this browser for that row and keep the token in the cookie.
    Nothing happens when trusted devices are off."""
    row = sessions.live_session(request.session.get(SID_KEY), now=timezone.now())
    if row is None:
        return
    token = trusted_devices.trust(user, row, now=timezone.now(), client=client_info(request))
    if token is not None:
        remember(request, response, user, token)
