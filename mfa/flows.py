"""The MFA use cases: password login, enrolment, second-factor login, disable, new recovery codes.

No HTTP here: callers pass values (``now``, ``client``) and get values back or an
``mfa.exceptions`` error. Views, the browser login, the admin and management commands all call
these functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth import authenticate, get_user_model
from django.db import IntegrityError
from django.db.models import Exists
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings

from mfa import crypto, lockout, password_lockout, recovery, sessions, signals, tokens, totp
from mfa.adapter import get_adapter
from mfa.conf import mfa_settings
from mfa.events import Client, emit
from mfa.exceptions import (
    InvalidCode,
    InvalidCredentials,
    InvalidMFAToken,
    InvalidPassword,
    MFAAlreadyEnabled,
    MFANotEnabled,
    NoPendingSetup,
)
from mfa.models import AuthSession, RecoveryCode, TOTPDevice
from mfa.sessions import TokenPair

METHODS = ["totp", "recovery_code"]


@dataclass(frozen=True)
class MFAChallenge:
    """A correct password for a user with MFA on: only an mfa_token, no session yet."""

    mfa_token: str
    methods: list[str]


def confirmed_device(user: Any) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def has_mfa(user: Any) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


# --- Login ------------------------------------------------------------------------------------------


def check_password_login(username: str, password: str, *, now: datetime, client: Client) -> Any:
    """The user whose USERNAME_FIELD and password match, or InvalidCredentials.

    Django's ModelBackend hashes the password for unknown users too, so both failures take about
    the same time; inactive users fail the same way. Repeated failures for one username back off
    (mfa.password_lockout): LockedOut, right password or not.
    """
    password_lockout.ensure_allowed(username, now=now)
    field = get_user_model().USERNAME_FIELD
    user = authenticate(None, **{field: username, "password": password})
    if user is None:
        failures = password_lockout.record_failure(username, now=now)
        emit(signals.login_failed, "login_failed", None, client, consecutive_failures=failures)
        raise InvalidCredentials()
    password_lockout.clear(username)
    return user


def password_login(
    username: str, password: str, *, now: datetime, client: Client
) -> TokenPair | MFAChallenge:
    """Step one of a login: a session (MFA off) or an mfa_token to exchange with a code."""
    user = check_password_login(username, password, now=now, client=client)
    if has_mfa(user):
        return MFAChallenge(tokens.make_mfa_token(user), list(METHODS))
    return sessions.start_session(user, amr=["pwd"], now=now, client=client)


def _verify_second_factor(
    device: TOTPDevice, code: str, *, now: datetime, client: Client
) -> list[str]:
    """Accept a TOTP code or a recovery code for a confirmed device; returns the amr to add.

    Locked users are refused before anything is checked; a wrong code counts towards the lockout.
    """
    lockout.ensure_not_locked(device, now=now)
    six = totp.normalize_code(code)
    if six is not None:
        if lockout.totp_disabled(device):
            # NIST SP 800-63B 3.2.2: at most 100 consecutive failures, then the authenticator is
            # disabled; a recovery code (which resets the count) brings it back.
            lockout.record_failure(device, now=now, client=client, method="totp")
            raise InvalidCode(lockout.TOTP_DISABLED_MESSAGE)
        step = totp.matching_step(
            totp.device_secret(device), six, now=now, after_step=device.last_step
        )
        if step is not None and totp.accept_step(device, step, now=now):
            return ["otp"]
        lockout.record_failure(device, now=now, client=client, method="totp")
        raise InvalidCode()
    remaining = recovery.consume(device.user, device, code, now=now)
    if remaining is None:
        lockout.record_failure(device, now=now, client=client, method="recovery_code")
        raise InvalidCode()
    emit(signals.recovery_code_used, "recovery_code_used", device.user, client, remaining=remaining)
    return ["otp", "rcode"]


def complete_mfa_login(mfa_token: str, code: str, *, now: datetime, client: Client) -> TokenPair:
    """Step two: exchange a valid mfa_token and a correct code for a session and tokens.

    The mfa_token is used up only by a success (its id is stored with a unique insert).
    """
    try:
        token = tokens.MFAToken(mfa_token)
    except TokenError:
        raise InvalidMFAToken() from None
    user_id, jti = token.get(api_settings.USER_ID_CLAIM), str(token.get("jti"))
    device = None
    if isinstance(user_id, (str, int)):
        # One query: the device, its user, and whether this mfa_token already completed a login
        # (checked before any code, so a used token cannot spend a recovery code or a time step).
        # [:1], not first(): a user has one device, so no ORDER BY to build.
        device = next(iter(
            TOTPDevice.objects.select_related("user")
            .annotate(token_used=Exists(AuthSession.objects.filter(mfa_jti=jti)))
            .filter(user_id=user_id, confirmed=True)[:1]
        ), None)
    if (
        device is None
        or device.token_used
        or not device.user.is_active
        or token.get("pwf") != tokens.password_fingerprint(device.user)
    ):
        raise InvalidMFAToken()
    amr = ["pwd", *_verify_second_factor(device, code, now=now, client=client)]
    try:
        # The unique mfa_jti settles concurrent uses of one mfa_token: one session, at most.
        return sessions.start_session(device.user, amr=amr, now=now, client=client, mfa_jti=jti)
    except IntegrityError:
        if "rcode" in amr:  # the other request won: this recovery code was not needed after all
            recovery.release(device.user, device, code)
        raise InvalidMFAToken() from None


def verify_browser_login(user: Any, code: str, *, now: datetime, client: Client) -> list[str]:
    """Second step of a browser (cookie session) login: the full ``amr`` on success.

    Same rules as mfa/login/verify: replay refused, lockout, recovery codes single use.
    """
    device = _require_confirmed(user)
    return ["pwd", *_verify_second_factor(device, code, now=now, client=client)]


def current_enrolment(user: Any, *, now: datetime) -> totp.Enrolment:
    """The pending enrolment to show on a page: the unexpired pending secret if there is one
    (it is not yet in use, so showing it again is safe), else a new one."""
    device = TOTPDevice.objects.filter(user=user).first()
    if device is not None and device.confirmed:
        raise MFAAlreadyEnabled()
    if device is not None and device.setup_at + mfa_settings.SETUP_LIFETIME > now:
        adapter = get_adapter()
        secret = totp.device_secret(device)
        uri = totp.provisioning_uri(secret, adapter.get_account_name(user), adapter.get_issuer(user))
        return totp.Enrolment(secret=secret, otpauth_uri=uri)
    return start_setup(user, now=now)


# --- Enrolment and management --------------------------------------------------------------------


def start_setup(user: Any, *, now: datetime) -> totp.Enrolment:
    """Make a new pending secret (replacing any earlier pending one) and its otpauth URI.

    Raises MFAAlreadyEnabled when a confirmed device exists: its secret is never shown again.
    """
    secret = totp.new_secret()
    encrypted = crypto.encrypt(secret)
    device = TOTPDevice.objects.filter(user=user).first()
    if device is not None and device.confirmed:
        raise MFAAlreadyEnabled()
    if device is None:
        try:
            TOTPDevice.objects.create(user=user, encrypted_secret=encrypted, setup_at=now, created_at=now)
        except IntegrityError:  # a concurrent setup created the row first: replace its secret
            device = TOTPDevice.objects.get(user=user)
    # Replace a pending secret; a device confirmed meanwhile is left alone.
    if device is not None and not TOTPDevice.objects.filter(pk=device.pk, confirmed=False).update(
        encrypted_secret=encrypted, setup_at=now, last_step=0
    ):
        raise MFAAlreadyEnabled()
    adapter = get_adapter()
    uri = totp.provisioning_uri(secret, adapter.get_account_name(user), adapter.get_issuer(user))
    return totp.Enrolment(secret=secret, otpauth_uri=uri)


def confirm_setup(
    user: Any, code: str, *, now: datetime, client: Client, keep_session_id: Any = None
) -> list[str]:
    """Turn MFA on with a first correct code; returns the first recovery codes.

    Ends the user's other sessions (they were authenticated with less than the account now
    requires) and notifies the user.
    """
    device = TOTPDevice.objects.filter(user=user).first()
    if device is not None and device.confirmed:
        raise MFAAlreadyEnabled()
    if device is None or device.setup_at + mfa_settings.SETUP_LIFETIME <= now:
        raise NoPendingSetup()
    device.user = user
    lockout.ensure_not_locked(device, now=now)
    six = totp.normalize_code(code)
    step = None
    if six is not None:
        step = totp.matching_step(totp.device_secret(device), six, now=now, after_step=device.last_step)
    if step is None or not totp.accept_step(device, step, now=now, confirm=True):
        lockout.record_failure(device, now=now, client=client, method="totp")
        raise InvalidCode()
    codes = recovery.replace_codes(user, device)
    sessions.revoke_user_sessions(
        user, now=now, client=client, reason="mfa_enabled", keep_session_id=keep_session_id
    )
    emit(signals.mfa_enabled, "mfa_enabled", user, client)
    get_adapter().notify(user, "mfa_enabled")
    return codes


def _require_confirmed(user: Any) -> TOTPDevice:
    device = confirmed_device(user)
    if device is None:
        raise MFANotEnabled()
    device.user = user
    return device


def disable(
    user: Any, password: str, code: str, *, now: datetime, client: Client, keep_session_id: Any = None
) -> None:
    """Turn MFA off after the password and a current code (TOTP or recovery) are both right."""
    device = _require_confirmed(user)
    lockout.ensure_not_locked(device, now=now)
    if not user.check_password(password):
        lockout.record_failure(device, now=now, client=client, method="password")
        raise InvalidPassword()
    _verify_second_factor(device, code, now=now, client=client)
    remove_mfa(user, now=now, client=client, keep_session_id=keep_session_id, by_admin=False)


def remove_mfa(
    user: Any, *, now: datetime, client: Client, keep_session_id: Any = None, by_admin: bool
) -> None:
    """Delete the user's device and recovery codes and end their other sessions (or all of
    them, for an admin reset). Used by ``disable`` and by the admin's "Reset MFA"."""
    RecoveryCode.objects.filter(user=user).delete()
    TOTPDevice.objects.filter(user=user).delete()
    sessions.revoke_user_sessions(
        user, now=now, client=client, reason="mfa_reset" if by_admin else "mfa_disabled",
        keep_session_id=keep_session_id,
    )
    emit(signals.mfa_disabled, "mfa_disabled", user, client, by_admin=by_admin)
    get_adapter().notify(user, "mfa_disabled")


def regenerate_recovery_codes(user: Any, code: str, *, now: datetime, client: Client) -> list[str]:
    """New recovery codes after a current code; every old code stops working."""
    device = _require_confirmed(user)
    _verify_second_factor(device, code, now=now, client=client)
    codes = recovery.replace_codes(user, device)
    emit(signals.recovery_codes_regenerated, "recovery_codes_regenerated", user, client)
    get_adapter().notify(user, "recovery_codes_regenerated")
    return codes
