"""The MFA use cases: password login, enrolment, second-factor login, disable, new recovery codes.

No HTTP here: callers pass values (``now``, ``client``) and get values back or an
``mfa.exceptions`` error. The JSON API, the browser pages, the admin and management commands all
call these functions, so every door applies the same rules.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError
from django.db.models import Exists
from rest_framework_simplejwt.exceptions import TokenError

from mfa import crypto, db, factors, lockout, password_gate, sessions, tokens, trusted_devices
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
from mfa.models import (
    AuthSession,
    EventType,
    MFAAccount,
    RecoveryCode,
    RevokeReason,
    TOTPDevice,
    WebAuthnCredential,
)
from mfa.password_gate import Door
from mfa.sessions import TokenPair
from mfa.tokens import AMR


@dataclass(frozen=True)
class MFAChallenge:
    """A correct password for a user with MFA on: only an mfa_token, no session yet."""

    mfa_token: str
    methods: list[Method]


# --- Login ------------------------------------------------------------------------------------------


def password_login(
    username: str, password: str, *, now: datetime, client: ClientInfo, device_token: str | None = None
) -> TokenPair | MFAChallenge:
    """Step one of an API login: a session (MFA off, or a trusted device's token for this user)
    or an mfa_token to exchange with a second factor."""
    user = password_gate.check_login(username, password, now=now, client=client, door=Door.API_LOGIN)
    methods = factors.second_factors_of(user)
    if methods:
        device = trusted_devices.device_for_login(user, device_token, now=now) if device_token else None
        if device is not None:
            return trusted_devices.login(user, device, now=now, client=client)
        return MFAChallenge(tokens.make_mfa_token(user), methods)
    return sessions.create_session_and_tokens(user, amr=[AMR.PASSWORD], now=now, client=client)


def _accept_totp(
    user: Any, account: MFAAccount, device: TOTPDevice, six: str, failures: int, *, now: datetime,
    client: ClientInfo,
) -> bool:
    """Whether ``six`` is ``device``'s code for a step later than the last one used; if so, that step
    is recorded (``totp.accept_step``, which also resets the lockout). The attempt was claimed
    beforehand (``failures``: the count before it). An unreadable secret is the server's fault, not
    a guess: a ``mfa_secret_unreadable`` event (for the admin), the claim given back, then
    SecretUnavailable."""
    try:
        secret = totp.device_secret(device)
    except SecretUnavailable as exc:
        emit(EventType.MFA_SECRET_UNREADABLE, user, client, reason=exc.reason)
        lockout.release_claim(account, failures)
        raise
    step = totp.matching_step(secret, six, now=now, after_step=account.totp_last_step)
    return step is not None and totp.accept_step(account, step, now=now)


def _verify_code(user: Any, code: str, *, now: datetime, client: ClientInfo) -> list[AMR]:
    """Accept a TOTP code (when the user has TOTP on) or a recovery code; returns the amr to add.
    Inside ``lockout.counted`` (one transaction on PostgreSQL; a refusal is raised after its count
    committed)."""
    with lockout.counted():
        return _check_code(user, code, now=now, client=client)


def _check_code(user: Any, code: str, *, now: datetime, client: ClientInfo) -> list[AMR]:
    """``_verify_code`` without its transaction, for callers that add their own writes to it.

    The attempt is claimed (counted) on the account before the code is evaluated
    (mfa.lockout.claim_attempt), so locked users are refused before anything is checked and
    parallel guesses cannot outrun the lockout; a success resets the count.
    """
    account = factors.account_of(user)
    if account is None:
        raise MFANotEnabled()
    failures = lockout.claim_attempt(account, now=now)
    six = totp.normalize_code(code)
    if six is not None:
        device = factors.confirmed_totp_device_of(user)
        if device is None or lockout.totp_disabled(failures):
            # No TOTP on this account, or (NIST SP 800-63B 3.2.2) at most 100 consecutive
            # failures, then the authenticator is disabled; a recovery code (which resets the
            # count) brings it back.
            lockout.record_failure(account, user, now=now, client=client, method=Method.TOTP)
            raise InvalidCode() if device is None else TOTPDisabled()
        # An unreadable secret raises SecretUnavailable here; a recovery code (below) needs no
        # secret, so it still works for that user.
        if _accept_totp(user, account, device, six, failures, now=now, client=client):
            return [AMR.OTP]
        lockout.record_failure(account, user, now=now, client=client, method=Method.TOTP)
        raise InvalidCode()
    remaining = recovery_codes.consume(user, account, code, now=now)
    if remaining is None:
        lockout.record_failure(account, user, now=now, client=client, method=Method.RECOVERY_CODE)
        raise InvalidCode()
    emit(EventType.RECOVERY_CODE_USED, user, client, remaining=remaining)
    return [AMR.OTP, AMR.RECOVERY_CODE]


def user_of_mfa_token(mfa_token: str) -> tuple[Any, str]:
    """The active user a valid, unused mfa_token names (with their MFA account and TOTP device
    loaded) and the token's id, or InvalidMFAToken (expired, forged, used, password changed,
    user inactive or without MFA)."""
    try:
        token = tokens.MFAToken(mfa_token)
    except TokenError:
        raise InvalidMFAToken() from None
    user_id, jti = token.get(tokens.user_id_claim()), str(token.get("jti"))
    user = None
    if isinstance(user_id, (str, int)):
        # One query: the user, their MFA rows, and whether this mfa_token already completed a
        # login (checked before any factor, so a used token cannot spend a code or a step).
        user = next(iter(
            get_user_model()._default_manager.select_related(*factors.USER_ROWS)
            .annotate(mfa_token_used=Exists(AuthSession.objects.filter(mfa_jti=jti)))
            .filter(pk=user_id)[:1]
        ), None)
    if (
        user is None
        or user.mfa_token_used
        or not user.is_active
        or not factors.has_mfa(user)
        or not tokens.password_fingerprint_matches(user, token.get("pwf"))
    ):
        raise InvalidMFAToken()
    return user, jti


def finish_mfa_login(
    user: Any, jti: str, second_factor: Callable[[], list[AMR]], *, now: datetime, client: ClientInfo,
    on_lost: Callable[[], object] | None = None, trust_device: bool = False,
) -> TokenPair:
    """Check an mfa_token's second factor (``second_factor``: claims the attempt, checks it and
    returns the factor's amr, or raises an MFAError) and start the session, inside
    ``lockout.counted``: on PostgreSQL the claim, the factor's write (TOTP step, recovery code,
    key counter), the session row and the ``login`` event commit together, once; a refusal
    commits only its count and failure event.

    The unique mfa_jti settles concurrent uses of one mfa_token: one session at most. The loser
    gets InvalidMFAToken and is not counted as a wrong code (its code was right, and a used
    mfa_token is refused uncounted when the first read sees it, too). In one transaction the
    loser's writes roll back, step and recovery code included; where each write is its own
    (SQLite, MongoDB) ``on_lost`` gives back what it spent (the recovery code). With
    ``trust_device`` the device is trusted and its token returned once (``device_token``).
    """
    factor: list[AMR] = []
    try:
        with lockout.counted():
            factor = second_factor()
            amr = tokens.login_amr(AMR.PASSWORD, factor)
            session = sessions.create_session(user, amr=amr, now=now, client=client, mfa_jti=jti)
    except IntegrityError:
        if on_lost is not None and not db.attempts_in_one_transaction():
            on_lost()
        raise InvalidMFAToken() from None
    pair = sessions.token_pair(session)
    if trust_device:
        token = trusted_devices.trust(user, pair.session, now=now, client=client)
        if token is not None:
            return dataclasses.replace(pair, device_token=token)
    return pair


def complete_mfa_login(
    mfa_token: str, code: str, *, now: datetime, client: ClientInfo, trust_device: bool = False
) -> TokenPair:
    """Step two: exchange a valid mfa_token and a correct code for a session and tokens.

    The mfa_token is used up only by a success (its id is stored with a unique insert).
    """
    user, jti = user_of_mfa_token(mfa_token)

    def lost() -> None:  # the other request won: a recovery code this one used was not needed
        recovery_codes.release(user, factors.account_of(user), code)

    return finish_mfa_login(
        user, jti, lambda: _check_code(user, code, now=now, client=client), now=now, client=client,
        on_lost=lost, trust_device=trust_device,
    )


def verify_browser_login(user: Any, code: str, *, now: datetime, client: ClientInfo) -> list[AMR]:
    """Second step of a browser (cookie session) login: the full ``amr`` on success.

    Same rules as mfa/login/verify: replay refused, lockout, recovery codes single use.
    """
    if not factors.has_mfa(user):
        raise MFANotEnabled()
    return tokens.login_amr(AMR.PASSWORD, _verify_code(user, code, now=now, client=client))


# --- Enrolment and management --------------------------------------------------------------------


def _enrolment(user: Any, secret: str) -> totp.Enrolment:
    adapter = get_adapter()
    uri = totp.provisioning_uri(secret, adapter.get_account_name(user), adapter.get_issuer(user))
    return totp.Enrolment(secret=secret, otpauth_uri=uri)


def current_enrolment(user: Any, *, now: datetime, session: AuthSession | None = None) -> totp.Enrolment:
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
    return start_setup(user, now=now, session=session)


def require_recent_second_factor(session: AuthSession | None, *, now: datetime) -> None:
    """ReauthenticationRequired unless ``session`` gave a second factor in the last 5 minutes
    (NIST SP 800-63B 4.1.2.1: binding another authenticator needs the account's current level)."""
    if session is None or not sessions.gave_second_factor_within(session, STEP_UP_SECONDS, now=now):
        raise ReauthenticationRequired()


def start_setup(user: Any, *, now: datetime, session: AuthSession | None = None) -> totp.Enrolment:
    """Make a new pending secret (replacing any earlier pending one) and its otpauth URI.

    Raises MFAAlreadyEnabled when TOTP is already on (its secret is never shown again); a user
    who already has another factor (a security key) needs a recent second factor in ``session``.
    """
    device = TOTPDevice.objects.filter(user=user).first()
    if device is not None and device.confirmed:
        raise MFAAlreadyEnabled()
    if factors.has_mfa(user):
        require_recent_second_factor(session, now=now)
    account = factors.account_of(user, create=True)
    secret = totp.new_secret()
    encrypted = crypto.encrypt(secret)
    if device is None:
        try:
            TOTPDevice.objects.create(user=user, encrypted_secret=encrypted, setup_at=now, created_at=now)
        except IntegrityError:  # a concurrent setup created the row first: replace its secret
            device = TOTPDevice.objects.get(user=user)
    # Replace a pending secret; a device confirmed meanwhile is left alone.
    if device is not None and not TOTPDevice.objects.filter(pk=device.pk, confirmed=False).update(
        encrypted_secret=encrypted, setup_at=now
    ):
        raise MFAAlreadyEnabled()
    # No TOTP is on, so no step of it is in use: the new secret starts from step 0.
    MFAAccount.objects.filter(pk=account.pk).update(totp_last_step=0)
    return _enrolment(user, secret)


def confirm_setup(
    user: Any, code: str, *, now: datetime, client: ClientInfo, keep_session_id: Any = None,
    session: AuthSession | None = None,
) -> list[str] | None:
    """Turn TOTP on with a first correct code. When it is the user's first factor, MFA is now on:
    returns the first recovery codes, ends the user's other sessions (they were authenticated with
    less than the account now requires) and notifies the user. When the user already had a factor,
    returns None (their recovery codes stay) and needs a recent second factor in ``session``.
    Enrolling gives no second-factor time to the session."""
    device = TOTPDevice.objects.filter(user=user).first()
    if device is not None and device.confirmed:
        raise MFAAlreadyEnabled()
    if device is None or device.setup_at + mfa_settings.ENROLMENT_LIFETIME <= now:
        raise NoPendingSetup()
    first = not factors.has_mfa(user)
    if not first:
        require_recent_second_factor(session, now=now)
    account = factors.account_of(user, create=True)
    failures = lockout.claim_attempt(account, now=now)
    six = totp.normalize_code(code)
    try:
        accepted = six is not None and _accept_totp(
            user, account, device, six, failures, now=now, client=client
        )
    except SecretUnavailable:
        # Only a pending secret is lost: a new setup (mfa/setup, the enrol page) replaces it.
        raise NoPendingSetup() from None
    if not accepted:
        lockout.record_failure(account, user, now=now, client=client, method=Method.TOTP)
        raise InvalidCode()
    if not TOTPDevice.objects.filter(pk=device.pk, confirmed=False).update(confirmed=True, confirmed_at=now):
        raise MFAAlreadyEnabled()  # a concurrent confirmation won
    factors.forget_related_row(user, TOTPDevice)
    return factor_added(user, account, Method.TOTP, first=first, now=now, client=client,
                        keep_session_id=keep_session_id)


def factor_added(
    user: Any, account: MFAAccount, method: Method, *, first: bool, now: datetime, client: ClientInfo,
    keep_session_id: Any = None, name: str = "",
) -> list[str] | None:
    """After a factor was confirmed: the first one turns MFA on (recovery codes issued, other
    sessions ended, ``mfa_enabled``); a further one is a ``factor_added`` event. The owner is
    told either way. Returns the new recovery codes, or None."""
    trusted_devices.revoke_all(user, client=client, reason="factors_changed")
    if not first:
        emit(EventType.FACTOR_ADDED, user, client, method=str(method), name=name)
        get_adapter().notify(user, EventType.FACTOR_ADDED)
        return None
    codes = recovery_codes.replace_codes(user, account)
    sessions.revoke_user_sessions(
        user, now=now, client=client, reason=RevokeReason.MFA_ENABLED, keep_session_id=keep_session_id
    )
    emit(EventType.MFA_ENABLED, user, client)
    get_adapter().notify(user, EventType.MFA_ENABLED)
    return codes


def disable(
    user: Any, password: str, code: str | None, *, now: datetime, client: ClientInfo,
    keep_session_id: Any = None, session: AuthSession | None = None,
) -> None:
    """Turn MFA off (every factor, every key, the recovery codes) after the password and either a
    current code (TOTP or recovery) or a second factor given in ``session`` within 5 minutes."""
    if not factors.has_mfa(user):
        raise MFANotEnabled()
    password_gate.check_account_password(user, password, now=now, client=client, door=Door.MFA_DISABLE)
    if code is not None:
        _verify_code(user, code, now=now, client=client)
    else:
        require_recent_second_factor(session, now=now)
    remove_mfa(user, now=now, client=client, keep_session_id=keep_session_id, by_admin=False)


def remove_mfa(
    user: Any, *, now: datetime, client: ClientInfo, keep_session_id: Any = None, by_admin: bool
) -> None:
    """Delete every factor of the user (TOTP, security keys) and the recovery codes, and end their
    other sessions (or all of them, for an admin reset). Used by ``disable``, by removing the last
    factor and by the admin's "Reset MFA"."""
    RecoveryCode.objects.filter(user=user).delete()
    TOTPDevice.objects.filter(user=user).delete()
    WebAuthnCredential.objects.filter(user=user).delete()
    MFAAccount.objects.filter(user=user).update(
        recovery_codes_left=0, key_count=0, failure_count=0, locked_until=None
    )
    trusted_devices.revoke_all(user, client=client, reason="mfa_disabled")
    sessions.revoke_user_sessions(
        user, now=now, client=client,
        reason=RevokeReason.MFA_RESET if by_admin else RevokeReason.MFA_DISABLED,
        keep_session_id=keep_session_id,
    )
    emit(EventType.MFA_DISABLED, user, client, by_admin=by_admin)
    get_adapter().notify(user, EventType.MFA_DISABLED)


def factor_removed(
    user: Any, method: Method, *, now: datetime, client: ClientInfo, keep_session_id: Any = None,
    name: str = "",
) -> bool:
    """After one factor was deleted: if it was the last, MFA goes off (``remove_mfa``: recovery
    codes die, other sessions end) and True is returned; else a ``factor_removed`` event and a
    notification."""
    if not factors.has_mfa(user):
        remove_mfa(user, now=now, client=client, keep_session_id=keep_session_id, by_admin=False)
        return True
    trusted_devices.revoke_all(user, client=client, reason="factors_changed")
    emit(EventType.FACTOR_REMOVED, user, client, method=str(method), name=name)
    get_adapter().notify(user, EventType.FACTOR_REMOVED)
    return False


def remove_totp(
    user: Any, *, now: datetime, client: ClientInfo, session: AuthSession | None,
    keep_session_id: Any = None,
) -> None:
    """DELETE mfa/totp: remove the authenticator app alone, after a second factor in ``session``
    within 5 minutes; removing the last factor turns MFA off."""
    if factors.confirmed_totp_device_of(user) is None:
        raise MFANotEnabled()
    require_recent_second_factor(session, now=now)
    TOTPDevice.objects.filter(user=user).delete()
    factors.forget_related_row(user, TOTPDevice)
    factor_removed(user, Method.TOTP, now=now, client=client, keep_session_id=keep_session_id)


def regenerate_recovery_codes(
    user: Any, code: str | None, *, now: datetime, client: ClientInfo, session: AuthSession | None = None
) -> list[str]:
    """New recovery codes after a current code, or with no code when ``session`` gave a second
    factor within the last 5 minutes (ReauthenticationRequired otherwise); every old code stops
    working."""
    if not factors.has_mfa(user):
        raise MFANotEnabled()
    if code is not None:
        _verify_code(user, code, now=now, client=client)
    else:
        require_recent_second_factor(session, now=now)
    codes = recovery_codes.replace_codes(user, factors.account_of(user, create=True))
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
        factor = _verify_code(user, code, now=now, client=client)
        access = sessions.reauthenticate(session, now=now, factor_amr=factor)
    else:
        if password is None:
            raise MFANotEnabled()
        password_gate.check_account_password(user, password, now=now, client=client, door=Door.REAUTHENTICATE)
        access = sessions.reauthenticate(session, now=now)
    emit(EventType.REAUTHENTICATED, user, client, session_id=str(session.pk), amr=session.amr_list,
         second_factor=code is not None)
    return access


def logout_everywhere(user: Any, *, now: datetime, client: ClientInfo) -> None:
    """End every session of ``user`` and forget every device they trusted ("sign out everywhere")."""
    sessions.revoke_user_sessions(user, now=now, client=client, reason=RevokeReason.LOGOUT_ALL)
    trusted_devices.revoke_all(user, client=client, reason="logout_all")
