"""The MFA use cases: password login, enrolment, second-factor login, disable, new recovery codes.

No HTTP here: callers pass values (``now``, ``client``) and get values back or an
``mfa.exceptions`` error. The JSON API, the browser pages, the admin and management commands all
call these functions, so every door applies the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError
from django.db.models import Exists
from rest_framework_simplejwt.exceptions import TokenError

from mfa import crypto, factors, lockout, password_gate, sessions, tokens
from mfa.adapter import get_adapter
from mfa.conf import mfa_settings
from mfa.events import ClientInfo, emit
from mfa.exceptions import (
    CodeRequired,
    InvalidCode,
    InvalidMFAToken,
    MFAAlreadyEnabled,
    MFANotEnabled,
    NoPendingSetup,
    ReauthenticationRequired,
    SecretUnavailable,
    TOTPDisabled,
)
from mfa.factors import Method
from mfa.methods import recovery_codes, totp
from mfa.models import AuthSession, EventType, RecoveryCode, RevokeReason, TOTPDevice
from mfa.password_gate import Door
from mfa.sessions import TokenPair
from mfa.tokens import AMR


@dataclass(frozen=True)
class MFAChallenge:
    """A correct password for a user with MFA on: only an mfa_token, no session yet."""

    mfa_token: str
    methods: list[Method]


# --- Login ------------------------------------------------------------------------------------------


def check_password_login(
    username: str, password: str, *, now: datetime, client: ClientInfo, door: Door = Door.API_LOGIN
) -> Any:
    """The user whose USERNAME_FIELD and password match, or InvalidCredentials: the password gate
    (mfa.password_gate.check_login) that every login door goes through, backoff and events included."""
    return password_gate.check_login(username, password, now=now, client=client, door=door)


def password_login(
    username: str, password: str, *, now: datetime, client: ClientInfo
) -> TokenPair | MFAChallenge:
    """Step one of an API login: a session (MFA off) or an mfa_token to exchange with a code."""
    user = check_password_login(username, password, now=now, client=client)
    methods = factors.second_factors_of(user)
    if methods:
        return MFAChallenge(tokens.make_mfa_token(user), methods)
    return sessions.create_session_and_tokens(user, amr=[AMR.PASSWORD], now=now, client=client)


def _secret_of(device: TOTPDevice, *, client: ClientInfo) -> str:
    """The device's TOTP secret; when it cannot be decrypted, a ``mfa_secret_unreadable`` event
    (for the admin) before SecretUnavailable goes on (the caller gives back the claimed attempt:
    the user's failure count is left as it was)."""
    try:
        return totp.device_secret(device)
    except SecretUnavailable as exc:
        emit(EventType.MFA_SECRET_UNREADABLE, device.user, client, reason=exc.reason)
        raise


def _verify_second_factor(
    device: TOTPDevice, code: str, *, now: datetime, client: ClientInfo
) -> list[AMR]:
    """Accept a TOTP code or a recovery code for a confirmed device; returns the amr to add.

    The attempt is claimed (counted) before the code is evaluated (mfa.lockout.claim_attempt), so
    locked users are refused before anything is checked and parallel guesses cannot outrun the
    lockout; a success resets the count.
    """
    failures = lockout.claim_attempt(device, now=now)
    six = totp.normalize_code(code)
    if six is not None:
        if lockout.totp_disabled(failures):
            # NIST SP 800-63B 3.2.2: at most 100 consecutive failures, then the authenticator is
            # disabled; a recovery code (which resets the count) brings it back.
            lockout.record_failure(device, now=now, client=client, method=Method.TOTP)
            raise TOTPDisabled()
        # An unreadable secret raises SecretUnavailable here; a recovery code (below) needs no
        # secret, so it still works for that user.
        try:
            secret = _secret_of(device, client=client)
        except SecretUnavailable:
            lockout.release_claim(device, failures)
            raise
        step = totp.matching_step(secret, six, now=now, after_step=device.last_step)
        if step is not None and totp.accept_step(device, step, now=now):
            return [AMR.OTP]
        lockout.record_failure(device, now=now, client=client, method=Method.TOTP)
        raise InvalidCode()
    remaining = recovery_codes.consume(device.user, device, code, now=now)
    if remaining is None:
        lockout.record_failure(device, now=now, client=client, method=Method.RECOVERY_CODE)
        raise InvalidCode()
    emit(EventType.RECOVERY_CODE_USED, device.user, client, remaining=remaining)
    return [AMR.OTP, AMR.RECOVERY_CODE]


def complete_mfa_login(mfa_token: str, code: str, *, now: datetime, client: ClientInfo) -> TokenPair:
    """Step two: exchange a valid mfa_token and a correct code for a session and tokens.

    The mfa_token is used up only by a success (its id is stored with a unique insert).
    """
    try:
        token = tokens.MFAToken(mfa_token)
    except TokenError:
        raise InvalidMFAToken() from None
    user_id, jti = token.get(tokens.user_id_claim()), str(token.get("jti"))
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
        or not tokens.password_fingerprint_matches(device.user, token.get("pwf"))
    ):
        raise InvalidMFAToken()
    amr = [AMR.PASSWORD, *_verify_second_factor(device, code, now=now, client=client)]
    try:
        # The unique mfa_jti settles concurrent uses of one mfa_token: one session, at most.
        return sessions.create_session_and_tokens(device.user, amr=amr, now=now, client=client, mfa_jti=jti)
    except IntegrityError:
        if AMR.RECOVERY_CODE in amr:  # the other request won: this recovery code was not needed
            recovery_codes.release(device.user, device, code)
        raise InvalidMFAToken() from None


def verify_browser_login(user: Any, code: str, *, now: datetime, client: ClientInfo) -> list[AMR]:
    """Second step of a browser (cookie session) login: the full ``amr`` on success.

    Same rules as mfa/login/verify: replay refused, lockout, recovery codes single use.
    """
    device = _require_confirmed(user)
    return [AMR.PASSWORD, *_verify_second_factor(device, code, now=now, client=client)]


# --- Enrolment and management --------------------------------------------------------------------


def _enrolment(user: Any, secret: str) -> totp.Enrolment:
    adapter = get_adapter()
    uri = totp.provisioning_uri(secret, adapter.get_account_name(user), adapter.get_issuer(user))
    return totp.Enrolment(secret=secret, otpauth_uri=uri)


def current_enrolment(user: Any, *, now: datetime) -> totp.Enrolment:
    """The pending enrolment to show on a page: the unexpired pending secret if there is one
    (it is not yet in use, so showing it again is safe), else a new one."""
    device = factors.totp_device_of(user)
    if device is not None and device.confirmed:
        raise MFAAlreadyEnabled()
    if device is not None and device.setup_at + mfa_settings.ENROLMENT_LIFETIME > now:
        try:
            return _enrolment(user, totp.device_secret(device))
        except SecretUnavailable:
            pass  # logged; a pending secret is in no app yet: replace it
    return start_setup(user, now=now)


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
    return _enrolment(user, secret)


def confirm_setup(
    user: Any, code: str, *, now: datetime, client: ClientInfo, keep_session_id: Any = None
) -> list[str]:
    """Turn MFA on with a first correct code; returns the first recovery codes.

    Ends the user's other sessions (they were authenticated with less than the account now
    requires) and notifies the user.
    """
    device = TOTPDevice.objects.filter(user=user).first()
    if device is not None and device.confirmed:
        raise MFAAlreadyEnabled()
    if device is None or device.setup_at + mfa_settings.ENROLMENT_LIFETIME <= now:
        raise NoPendingSetup()
    device.user = user
    failures = lockout.claim_attempt(device, now=now)
    six = totp.normalize_code(code)
    step = None
    if six is not None:
        try:
            secret = _secret_of(device, client=client)
        except SecretUnavailable:
            lockout.release_claim(device, failures)
            # Only a pending secret is lost: a new setup (mfa/setup, the enrol page) replaces it.
            raise NoPendingSetup() from None
        step = totp.matching_step(secret, six, now=now, after_step=device.last_step)
    if step is None or not totp.accept_step(device, step, now=now, confirm=True):
        lockout.record_failure(device, now=now, client=client, method=Method.TOTP)
        raise InvalidCode()
    codes = recovery_codes.replace_codes(user, device)
    sessions.revoke_user_sessions(
        user, now=now, client=client, reason=RevokeReason.MFA_ENABLED, keep_session_id=keep_session_id
    )
    emit(EventType.MFA_ENABLED, user, client)
    get_adapter().notify(user, EventType.MFA_ENABLED)
    return codes


def _require_confirmed(user: Any) -> TOTPDevice:
    # The device the request's authentication already loaded, if it did (no second read).
    device = factors.confirmed_totp_device_of(user)
    if device is None:
        raise MFANotEnabled()
    device.user = user
    return device


def disable(
    user: Any, password: str, code: str, *, now: datetime, client: ClientInfo, keep_session_id: Any = None
) -> None:
    """Turn MFA off after the password and a current code (TOTP or recovery) are both right."""
    device = _require_confirmed(user)
    password_gate.check_account_password(user, password, now=now, client=client, door=Door.MFA_DISABLE)
    _verify_second_factor(device, code, now=now, client=client)
    remove_mfa(user, now=now, client=client, keep_session_id=keep_session_id, by_admin=False)


def remove_mfa(
    user: Any, *, now: datetime, client: ClientInfo, keep_session_id: Any = None, by_admin: bool
) -> None:
    """Delete the user's device and recovery codes and end their other sessions (or all of
    them, for an admin reset). Used by ``disable`` and by the admin's "Reset MFA"."""
    RecoveryCode.objects.filter(user=user).delete()
    TOTPDevice.objects.filter(user=user).delete()
    sessions.revoke_user_sessions(
        user, now=now, client=client,
        reason=RevokeReason.MFA_RESET if by_admin else RevokeReason.MFA_DISABLED,
        keep_session_id=keep_session_id,
    )
    emit(EventType.MFA_DISABLED, user, client, by_admin=by_admin)
    get_adapter().notify(user, EventType.MFA_DISABLED)


def regenerate_recovery_codes(
    user: Any, code: str | None, *, now: datetime, client: ClientInfo, session: AuthSession | None = None
) -> list[str]:
    """New recovery codes after a current code, or with no code when ``session`` gave a second
    factor within the last 5 minutes (ReauthenticationRequired otherwise); every old code stops
    working."""
    device = _require_confirmed(user)
    if code is not None:
        _verify_second_factor(device, code, now=now, client=client)
    elif session is None or not sessions.gave_second_factor_within(session, STEP_UP_SECONDS, now=now):
        raise ReauthenticationRequired()
    codes = recovery_codes.replace_codes(user, device)
    emit(EventType.RECOVERY_CODES_REGENERATED, user, client)
    get_adapter().notify(user, EventType.RECOVERY_CODES_REGENERATED)
    return codes


# --- Re-authentication (step-up) -------------------------------------------------------------------

# How recent a second factor the built-in step-up actions need (NIST SP 800-63B 4.1.2.1 asks for
# one within the last 5 minutes before a new authenticator is bound).
STEP_UP_SECONDS = 300


def reauthenticate(
    user: Any, session: AuthSession, *, code: str | None, password: str | None, now: datetime,
    client: ClientInfo,
) -> str:
    """Prove it is still the user, inside their current session; returns a new access token.

    A user with MFA gives a code (TOTP or recovery, counted like every code): the session's
    second-factor time and auth_time become now, which is what step-up actions read. A user
    without MFA gives the password (through the password gate): auth_time only, never a second
    factor. CodeRequired when a user with MFA sends only a password; MFANotEnabled when a user
    without MFA sends only a code.
    """
    if factors.has_mfa(user):
        if code is None:
            raise CodeRequired()
        device = _require_confirmed(user)
        factor = _verify_second_factor(device, code, now=now, client=client)
        access = sessions.reauthenticate(session, now=now, factor_amr=factor)
    else:
        if password is None:
            raise MFANotEnabled()
        password_gate.check_account_password(user, password, now=now, client=client, door=Door.REAUTHENTICATE)
        access = sessions.reauthenticate(session, now=now)
    emit(EventType.REAUTHENTICATED, user, client, session_id=str(session.pk), amr=session.amr_list,
         second_factor=code is not None)
    return access
