"""Trusted devices ("remember this device"): a server-side registry the user can see and revoke.

After a second factor, a client may ask to trust the device it is on: it gets a 256-bit token once,
of which only a keyed hash is stored. A later password login that presents that token for the same
user (password still checked and backed off as always) gets a session without the second factor,
until the device's absolute expiry (MFA["TRUST_DAYS"], counted from the second factor). A token for
another user, revoked, expired, or bound to an old password or an old set of factors is ignored
silently. Its sessions carry ``tdev`` in ``amr``: never a second factor (step-up still needs one).

A device ends on password change or reset, a factor added or removed, MFA disabled or reset,
``logout/all``, and refresh-token reuse in a session it started. No HTTP here.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from mfa import crypto, factors, sessions, tokens
from mfa.adapter import get_adapter
from mfa.conf import mfa_settings
from mfa.db import parse_uuid
from mfa.events import ClientInfo, emit
from mfa.exceptions import TrustedDeviceNotFound
from mfa.models import AuthSession, EventType, TrustedDevice, WebAuthnCredential
from mfa.sessions import TokenPair
from mfa.tokens import AMR

try:  # optional: pip install mfa[ua]
    from ua_parser import parse as _ua_parse
except ImportError:  # pragma: no cover - the marks below name the common browsers
    _ua_parse = None

# At most this many trusted devices per user: trusting one more forgets the oldest.
MAX_PER_USER = 10


def enabled() -> bool:
    return bool(mfa_settings.TRUST_DAYS)


def _hash(token: str) -> str:
    return crypto.lookup_tag(token, purpose="trusted-device")[:64]


def factors_fingerprint(user: Any) -> str:
    """A keyed fingerprint of the user's set of factors (the TOTP device and each key): adding or
    removing one changes it. Recovery codes are not part of it."""
    parts = []
    device = factors.confirmed_totp_device_of(user)
    if device is not None:
        parts.append(f"totp:{device.pk}")
    parts += [f"key:{pk}" for pk in WebAuthnCredential.objects.filter(user=user).values_list("pk", flat=True)]
    return crypto.lookup_tag(",".join(sorted(parts)), purpose="factors")[:64]


def device_name(user_agent: str) -> str:
    """A short, never empty name from a user agent: "Firefox on Linux", "Chrome on Android", ...
    Read by ``ua-parser`` (a maintained parser, the optional dependency ``mfa[ua]``) when it is
    installed, else by the few marks below. The name is for the user's lists only."""
    return _parsed_name(user_agent or "")


@lru_cache(maxsize=512)
def _parsed_name(agent: str) -> str:
    browser, system = _ua_parser_names(agent) if _ua_parse is not None else ("", "")
    if not browser and not system:
        browser, system = _marked_names(agent)
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or "Unknown device"


# ua-parser's families that read better under the name people know the browser by. Headless
# Chromium ("HeadlessChrome") is Chrome like any other.
_BROWSER_NAMES = {"HeadlessChrome": "Chrome", "Chrome Mobile": "Chrome", "Chrome Mobile iOS": "Chrome",
                  "Mobile Safari": "Safari", "Firefox Mobile": "Firefox", "Edge Mobile": "Edge",
                  "Python Requests": "Python"}
_SYSTEM_NAMES = {"Mac OS X": "macOS", "Chrome OS": "ChromeOS"}


def _ua_parser_names(agent: str) -> tuple[str, str]:
    result = _ua_parse(agent)
    browser = result.user_agent.family if result.user_agent else ""
    system = result.os.family if result.os else ""
    browser = "" if browser == "Other" else _BROWSER_NAMES.get(browser, browser)
    system = "" if system == "Other" else _SYSTEM_NAMES.get(system, system)
    return browser, system


def _marked_names(agent: str) -> tuple[str, str]:
    browsers = [("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("HeadlessChrome", "Chrome"),
                ("Chrome/", "Chrome"), ("Safari/", "Safari"), ("curl/", "curl"),
                ("python-requests", "Python")]
    systems = [("Android", "Android"), ("iPhone", "iOS"), ("iPad", "iPadOS"), ("Windows", "Windows"),
               ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"), ("Linux", "Linux")]
    browser = next((name for mark, name in browsers if mark in agent), "")
    system = next((name for mark, name in systems if mark in agent), "")
    return browser, system


def trust(user: Any, session: AuthSession, *, now: datetime, client: ClientInfo) -> str | None:
    """Trust the device that just gave a second factor in ``session``: returns its token (shown
    once), or None when trusted devices are off (MFA["TRUST_DAYS"] = 0)."""
    if not enabled():
        return None
    token = secrets.token_urlsafe(32)  # 256 bits
    device = TrustedDevice.objects.create(
        user=user, token_hash=_hash(token), name=device_name(client.user_agent)[:100], ip=client.ip,
        user_agent=client.user_agent[:512], created_at=now, last_used_at=now,
        expires_at=now + timedelta(days=mfa_settings.TRUST_DAYS), second_factor_at=now,
        password_fingerprint=tokens.password_fingerprint(user), factors_fingerprint=factors_fingerprint(user),
    )
    AuthSession.objects.filter(pk=session.pk).update(trusted_device=device)
    session.trusted_device_id = device.pk
    newest_first = TrustedDevice.objects.filter(user=user).order_by("-created_at")
    oldest = list(newest_first.values_list("pk", flat=True)[MAX_PER_USER:])
    if oldest:
        TrustedDevice.objects.filter(pk__in=oldest).delete()
    emit(EventType.DEVICE_TRUSTED, user, client, device_id=str(device.pk), name=device.name)
    get_adapter().notify(user, EventType.DEVICE_TRUSTED)
    return token


def device_for_login(user: Any, token: Any, *, now: datetime) -> TrustedDevice | None:
    """The user's live trusted device that ``token`` names, or None (never an error: a token for
    another user, revoked, expired, or bound to an old password or factor set is just ignored)."""
    if not enabled() or not isinstance(token, str) or not 20 <= len(token) <= 128:
        return None
    device = TrustedDevice.objects.filter(token_hash=_hash(token), user=user, expires_at__gt=now).first()
    if device is None:
        return None
    if not tokens.password_fingerprint_matches(user, device.password_fingerprint):
        return None
    if device.factors_fingerprint != factors_fingerprint(user):
        return None
    return device


def login(user: Any, device: TrustedDevice, *, now: datetime, client: ClientInfo) -> TokenPair:
    """An API password login on a trusted device: ``start_session``'s session and its first
    token pair."""
    return sessions.token_pair(start_session(user, device, now=now, client=client))


def start_session(user: Any, device: TrustedDevice, *, now: datetime, client: ClientInfo) -> AuthSession:
    """A password login on a trusted device (the browser's, and the API's through ``login``): a
    session whose ``amr`` says so (``pwd tdev``), no second-factor time, and the device's last use
    recorded. Its absolute expiry never moves: it counts from the second factor it was trusted
    after, however often it is used."""
    TrustedDevice.objects.filter(pk=device.pk).update(last_used_at=now)
    return sessions.create_session(
        user, amr=[AMR.PASSWORD, AMR.TRUSTED_DEVICE], now=now, client=client, trusted_device=device
    )


def live_devices(user: Any, *, now: datetime):
    return TrustedDevice.objects.filter(user=user, expires_at__gt=now).order_by("-created_at")


def revoke(user: Any, device_id: Any, *, client: ClientInfo) -> None:
    pk = parse_uuid(device_id)
    if pk is None or not TrustedDevice.objects.filter(pk=pk, user=user).delete()[0]:
        raise TrustedDeviceNotFound()
    emit(EventType.TRUSTED_DEVICES_REVOKED, user, client, count=1, reason="revoked")


def revoke_all(user: Any, *, client: ClientInfo, reason: str) -> int:
    """Forget every trusted device of ``user`` (the reason is recorded when there were some)."""
    count, _ = TrustedDevice.objects.filter(user=user).delete()
    if count:
        emit(EventType.TRUSTED_DEVICES_REVOKED, user, client, count=count, reason=reason)
    return count
