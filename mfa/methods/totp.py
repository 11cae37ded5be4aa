"""TOTP (RFC 6238) enrolment and verification, with replay refusal by time step.

SHA1, 6 digits, 30 s steps: what every authenticator app computes (Google Authenticator ignores
the URI's algorithm/digits/period parameters). Codes come from pyotp; this module only decides
which steps are acceptable and records the accepted one with a compare-and-set.
"""

from __future__ import annotations

import hmac
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

import pyotp
import segno

from mfa import crypto
from mfa.conf import mfa_settings
from mfa.exceptions import SecretUnavailable
from mfa.models import MFAAccount, TOTPDevice

logger = logging.getLogger("mfa")

STEP_SECONDS = 30
DIGITS = 6
SECRET_CHARS = 32  # Base32 characters: 160 bits (RFC 4226 4 R6 recommends 160)
_SIX_DIGITS = re.compile(r"[0-9]{6}", re.ASCII)


def normalize_code(code: str) -> str | None:
    """Return the 6 ASCII digits of ``code`` with whitespace removed, or None if it is not one.

    ``int()``, ``str.isdigit()`` and ``\\d`` accept Arabic-Indic or full-width digits; only
    ``0``-``9`` are accepted here.
    """
    if not isinstance(code, str):
        return None
    compact = "".join(code.split())
    return compact if _SIX_DIGITS.fullmatch(compact) else None


def new_secret() -> str:
    """A fresh 160-bit secret as unpadded upper-case Base32 (CSPRNG via ``secrets``)."""
    return pyotp.random_base32(length=SECRET_CHARS)


def time_step(now: datetime) -> int:
    return int(now.timestamp()) // STEP_SECONDS


def code_at(secret: str, step: int) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).generate_otp(step)


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    """The Key Uri Format URI, label and parameters percent-encoded (``%20`` for spaces)."""
    issuer = issuer.replace(":", "").strip()
    account = account.replace(":", "")
    label = f"{quote(issuer, safe='')}:{quote(account, safe='')}"
    return (
        f"otpauth://totp/{label}?secret={secret}&issuer={quote(issuer, safe='')}"
        f"&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}"
    )


def qr_data_uri(uri: str, *, image_format: str = "svg") -> str:
    """A ``data:`` URI of a QR code (SVG or PNG) encoding exactly ``uri``, made on the server."""
    qr = segno.make(uri, error="m", micro=False)
    if image_format == "png":
        return qr.png_data_uri(scale=5, border=4)
    return qr.svg_data_uri(scale=5, border=4)


def matching_step(secret: str, code: str, *, now: datetime, after_step: int) -> int | None:
    """The step within the drift window whose code equals ``code`` and is later than
    ``after_step``, or None. Every candidate is compared in constant time.

    RFC 6238 5.2: at most one step of network delay either side; a code once accepted is never
    accepted again, and neither is an earlier step (a fast phone's T+1 then the slower T).
    """
    drift = mfa_settings.TOTP_DRIFT_STEPS
    current = time_step(now)
    found = None
    for step in range(current - drift, current + drift + 1):
        if hmac.compare_digest(code_at(secret, step), code) and step > after_step:
            found = step
    return found


def accept_step(account: MFAAccount, step: int, *, now: datetime) -> bool:
    """Record ``step`` as the account's last used TOTP step if it is later than the stored one,
    and reset the account's lockout, in one conditional write. Returns False when another
    request got there first (a replay)."""
    changes: dict[str, object] = {
        "totp_last_step": step, "failure_count": 0, "locked_until": None, "last_used_at": now,
    }
    rows = MFAAccount.objects.filter(pk=account.pk, totp_last_step__lt=step).update(**changes)
    if rows:
        for key, value in changes.items():
            setattr(account, key, value)
    return bool(rows)


def device_secret(device: TOTPDevice) -> str:
    """The device's secret in clear. Raises SecretUnavailable when no configured key decrypts it,
    after logging why at ERROR on logger "mfa" (the user id and reason, never the stored value)."""
    try:
        return crypto.decrypt(device.encrypted_secret)
    except crypto.DecryptionError as exc:
        state = "confirmed" if device.confirmed else "pending"
        logger.error(
            "TOTP secret of user %s (%s device %s) is unreadable: %s; restore the key it was "
            "encrypted with to MFA['ENCRYPTION_KEYS'] or SECRET_KEY_FALLBACKS",
            device.user_id, state, device.pk, exc,
        )
        raise SecretUnavailable(reason=str(exc)) from None


@dataclass(frozen=True)
class Enrolment:
    secret: str
    otpauth_uri: str
