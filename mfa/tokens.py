"""JWTs made with djangorestframework-simplejwt: access, refresh and the short mfa_token.

Each kind has its own ``token_type`` claim, and simplejwt refuses a token of another type, so an
mfa_token is never a bearer or refresh token and vice versa (RFC 8725 3.11). Decoding pins the
algorithm in SIMPLE_JWT["ALGORITHM"] and checks ``aud`` and ``iss`` when they are set (RFC 8725 3.1,
3.8, 3.9). Claims hold ids only:

- ``user_id``, ``jti``, ``exp``, ``iat``, ``token_type``, ``aud``, ``iss``;
- access and refresh: ``sid`` (the AuthSession id), ``amr`` (RFC 8176: ``["pwd"]``,
  ``["pwd", "otp", "mfa"]``, ``["pwd", "otp", "rcode", "mfa"]`` after a recovery code, ``hwk``/``swk``
  (and ``pin`` with user verification) for a security key; "rcode" is ours, RFC 8176
  has no value for look-up secrets) and ``auth_time`` (when the user last authenticated: the login,
  or a later ``reauthenticate``);
- mfa_token: ``pwf``, a keyed fingerprint of the password hash, so a password change voids it.

simplejwt's settings are read at call time (``jwt_settings()``), never bound at import: simplejwt
rebuilds its settings object when SIMPLE_JWT changes, so a name imported from it would keep the
old lifetimes, key and audience.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any
from uuid import uuid4

from rest_framework_simplejwt import settings as simplejwt_settings
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import Token
from rest_framework_simplejwt.utils import datetime_to_epoch

from mfa import crypto
from mfa.conf import mfa_settings


class AMR(StrEnum):
    """Authentication method references (RFC 8176) in the ``amr`` claim."""

    PASSWORD = "pwd"
    OTP = "otp"  # a one-time code: TOTP, or a recovery code (with RECOVERY_CODE as well)
    RECOVERY_CODE = "rcode"  # ours: RFC 8176 has no value for look-up secrets
    HARDWARE_KEY = "hwk"  # a security key that cannot be copied (not backup-eligible)
    SOFTWARE_KEY = "swk"  # a backup-eligible (synced) key: a passkey in a password manager
    PIN = "pin"  # the key verified its user (PIN or biometric: the two cannot be told apart)
    MULTIPLE_FACTORS = "mfa"  # every login with more than one factor
    TRUSTED_DEVICE = "tdev"  # ours: a password login on a trusted device (never a second factor)


# The values that stand for a second factor (what IsMFAComplete and step-up look for).
SECOND_FACTOR_AMR = frozenset({AMR.OTP, AMR.HARDWARE_KEY, AMR.SOFTWARE_KEY})


def login_amr(first: str | None, factor: list[str]) -> list[str]:
    """The ``amr`` of a login: its first factor (``pwd``, or none for a passkey login), the factor
    methods, and ``mfa`` when there are two factors or more (RFC 8176)."""
    amr: list[str] = []
    for method in ([first] if first else []) + list(factor):
        if str(method) not in amr:
            amr.append(str(method))
    # Something known (a password, or a key's user verification) plus something held (a code or a
    # key): two factors.
    knows = AMR.PASSWORD in amr or AMR.PIN in amr
    has = bool(set(amr) & SECOND_FACTOR_AMR)
    if knows and has and AMR.MULTIPLE_FACTORS not in amr:
        amr.append(str(AMR.MULTIPLE_FACTORS))
    return amr


def jwt_settings() -> Any:
    """simplejwt's current settings object (SIMPLE_JWT merged over its defaults)."""
    return simplejwt_settings.api_settings


@lru_cache(maxsize=4)
def _backend_for(settings_object: Any) -> TokenBackend:
    s = settings_object
    return TokenBackend(
        s.ALGORITHM, s.SIGNING_KEY, s.VERIFYING_KEY, s.AUDIENCE, s.ISSUER, s.JWK_URL, s.LEEWAY,
        s.JSON_ENCODER,
    )


def user_id_claim() -> str:
    return jwt_settings().USER_ID_CLAIM


class _LiveLifetime:
    """Read a lifetime from settings at use time, not at import time."""

    def __init__(self, getter):
        self.getter = getter

    def __get__(self, instance: Any, owner: type) -> timedelta:
        return self.getter()


class _Token(Token):
    """simplejwt's Token, refusing text that is not valid Unicode with TokenError like any other
    malformed token (PyJWT raises UnicodeEncodeError on a str holding a lone surrogate), and
    signing and verifying with the current SIMPLE_JWT (simplejwt's own backend is built once, at
    import)."""

    def __init__(self, token: Any = None, verify: bool = True) -> None:
        if isinstance(token, str):
            try:
                token.encode("utf-8")
            except UnicodeEncodeError:
                raise TokenError("Token is invalid") from None
        super().__init__(token, verify=verify)

    def get_token_backend(self) -> TokenBackend:
        return _backend_for(jwt_settings())


class AccessToken(_Token):
    token_type = "access"
    lifetime = _LiveLifetime(  # type: ignore[assignment]
        lambda: mfa_settings.ACCESS_TOKEN_LIFETIME or jwt_settings().ACCESS_TOKEN_LIFETIME
    )


class RefreshToken(_Token):
    token_type = "refresh"
    lifetime = _LiveLifetime(  # type: ignore[assignment]
        lambda: mfa_settings.REFRESH_TOKEN_LIFETIME or jwt_settings().REFRESH_TOKEN_LIFETIME
    )


class MFAToken(_Token):
    token_type = "mfa"
    lifetime = _LiveLifetime(lambda: mfa_settings.MFA_TOKEN_LIFETIME)  # type: ignore[assignment]


PWF_LENGTH = 32


def password_fingerprint(user: Any) -> str:
    """The ``pwf`` claim for ``user``: a keyed tag of the password hash, made with SECRET_KEY."""
    return crypto.lookup_tag(user.password or "", purpose="pwf")[:PWF_LENGTH]


def password_fingerprint_matches(user: Any, pwf: object) -> bool:
    """Whether ``pwf`` (an mfa_token's claim) fingerprints ``user``'s current password hash, made
    with SECRET_KEY or one of SECRET_KEY_FALLBACKS (a token issued just before a rotation)."""
    return crypto.matches_lookup_tag(pwf, user.password or "", purpose="pwf", length=PWF_LENGTH)


def _user_id(user: Any) -> str | int:
    pk = getattr(user, jwt_settings().USER_ID_FIELD)
    return pk if isinstance(pk, int) else str(pk)


def new_jti() -> str:
    return uuid4().hex


def make_mfa_token(user: Any) -> str:
    token = MFAToken()
    token[user_id_claim()] = _user_id(user)
    token["jti"] = new_jti()
    token["pwf"] = password_fingerprint(user)
    return str(token)


def _session_token(
    token: _Token, user: Any, *, sid: str, amr: list[str], auth_time: datetime, jti: str,
    session_expires_at: datetime,
) -> str:
    """``token`` (a new access or refresh token) with the session's claims, never outliving the
    session."""
    token[user_id_claim()] = _user_id(user)
    token["sid"] = sid
    token["amr"] = amr
    token["auth_time"] = datetime_to_epoch(auth_time)
    token["exp"] = min(token["exp"], datetime_to_epoch(session_expires_at))
    token["jti"] = jti
    return str(token)


def make_pair(
    user: Any, *, sid: str, amr: list[str], auth_time: datetime, refresh_jti: str,
    session_expires_at: datetime,
) -> tuple[str, str]:
    """An (access, refresh) pair for a session; neither outlives ``session_expires_at``."""
    access = make_access(user, sid=sid, amr=amr, auth_time=auth_time, session_expires_at=session_expires_at)
    refresh = _session_token(
        RefreshToken(), user, sid=sid, amr=amr, auth_time=auth_time, jti=refresh_jti,
        session_expires_at=session_expires_at,
    )
    return access, refresh


def make_access(
    user: Any, *, sid: str, amr: list[str], auth_time: datetime, session_expires_at: datetime
) -> str:
    """A new access token for a session (alone after re-authentication: its refresh token stays)."""
    return _session_token(
        AccessToken(), user, sid=sid, amr=amr, auth_time=auth_time, jti=new_jti(),
        session_expires_at=session_expires_at,
    )
