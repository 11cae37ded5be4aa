"""Database sessions behind the JWTs: start, authenticate, rotate (with reuse detection), revoke.

A session row is the server's truth: every access token names its session (``sid``), so revoking
the row takes effect on the next request, and every refresh token is the session's current one or
evidence of theft (RFC 9700 4.14.2). The session's absolute end never moves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rest_framework_simplejwt.exceptions import TokenError

from mfa import tokens
from mfa.conf import mfa_settings
from mfa.db import parse_uuid
from mfa.events import ClientInfo, emit
from mfa.exceptions import InvalidToken, SessionNotFound
from mfa.factors import USER_ROWS
from mfa.models import AuthSession, EventType, RevokeReason, TrustedDevice


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str
    session: AuthSession
    # A trusted device's token, when the login asked to trust its device (shown once).
    device_token: str | None = None


def _is_usable(session: AuthSession, now: datetime) -> bool:
    """Live (AuthSession.is_live, the one rule) and its user still active."""
    return session.is_live(now) and session.user.is_active


def create_session(
    user: Any, *, amr: list[str], now: datetime, client: ClientInfo, auth_time: datetime | None = None,
    mfa_jti: str | None = None, trusted_device: Any = None,
) -> AuthSession:
    """Record a completed login as a new session row (API and browser logins alike).

    ``mfa_jti`` is the id of the mfa_token the login used: its unique index raises IntegrityError
    when that token already completed a login.
    """
    session = AuthSession.objects.create(
        mfa_jti=mfa_jti,
        user=user,
        created_at=now,
        last_used_at=now,
        expires_at=now + mfa_settings.SESSION_ABSOLUTE_LIFETIME,
        ip=client.ip,
        user_agent=client.user_agent[:512],
        amr=" ".join(str(m) for m in amr),
        auth_time=auth_time or now,
        second_factor_at=(auth_time or now) if set(amr) & tokens.SECOND_FACTOR_AMR else None,
        refresh_jti=tokens.new_jti(),
        trusted_device=trusted_device,
    )
    emit(EventType.LOGIN, user, client, session_id=str(session.pk), amr=session.amr_list)
    return session


def create_session_and_tokens(
    user: Any, *, amr: list[str], now: datetime, client: ClientInfo, auth_time: datetime | None = None,
    mfa_jti: str | None = None, trusted_device: Any = None,
) -> TokenPair:
    """Create a session for a completed API login and return its first token pair."""
    return token_pair(create_session(
        user, amr=amr, now=now, client=client, auth_time=auth_time, mfa_jti=mfa_jti,
        trusted_device=trusted_device,
    ))


def token_pair(session: AuthSession) -> TokenPair:
    """The first token pair of a session just created (its user loaded)."""
    access, refresh = _pair(session)
    return TokenPair(access, refresh, session)


def live_session(sid: Any, *, now: datetime) -> AuthSession | None:
    """The session named ``sid`` (with its user) if it can still be used, else None."""
    session = _load(sid)
    return session if session is not None and _is_usable(session, now) else None


def _pair(session: AuthSession) -> tuple[str, str]:
    return tokens.make_pair(
        session.user,
        sid=str(session.pk),
        amr=session.amr_list,
        auth_time=session.auth_time,
        refresh_jti=session.refresh_jti,
        session_expires_at=session.expires_at,
    )


def reauthenticate(
    session: AuthSession, *, now: datetime, factor_amr: list[str] | None = None
) -> str:
    """Record a fresh authentication in a live session: ``auth_time`` is now and, when a second
    factor was given (``factor_amr``), the session's second-factor time too and its ``amr`` gains
    the factor. Returns a new access token; the refresh token stays, and later refreshes carry the
    new times (they are the session's). InvalidToken if the session ended meanwhile."""
    changes: dict[str, Any] = {"auth_time": now}
    if factor_amr:
        amr = tokens.login_amr(None, session.amr_list + [str(m) for m in factor_amr])
        changes.update(second_factor_at=now, amr=" ".join(amr))
    if not AuthSession.objects.filter(pk=session.pk, revoked_at=None).update(**changes):
        raise InvalidToken()
    for field, value in changes.items():
        setattr(session, field, value)
    return tokens.make_access(
        session.user, sid=str(session.pk), amr=session.amr_list, auth_time=session.auth_time,
        session_expires_at=session.expires_at,
    )


def gave_second_factor_within(session: AuthSession, seconds: float, *, now: datetime) -> bool:
    """Whether ``session`` gave a second factor in the last ``seconds`` (the step-up rule)."""
    at = session.second_factor_at
    return at is not None and 0 <= (now - at).total_seconds() <= seconds


def _session_of(token: Any, *, now: datetime, with_device: bool) -> AuthSession:
    """The live session a validated access or refresh token names (its ``sid`` and user), with
    the user loaded in the same query. Raises InvalidToken if it is gone, revoked, expired, idle,
    another user's, or the user is inactive."""
    session = _load(token.get("sid"), with_device=with_device)
    if (
        session is None
        or str(session.user_id) != str(token.get(tokens.user_id_claim()))
        or not _is_usable(session, now)
    ):
        raise InvalidToken()
    return session


def session_for_access_token(validated: Any, *, now: datetime) -> AuthSession:
    """The live session of an access token, its user and MFA device loaded in one query."""
    return _session_of(validated, now=now, with_device=True)


def _load(sid: Any, *, with_device: bool = True) -> AuthSession | None:
    pk = parse_uuid(sid)
    if pk is None:
        return None
    related = ("user", *(f"user__{row}" for row in USER_ROWS)) if with_device else ("user",)
    # [:1] rather than first(): one row at most, so no ORDER BY to build (a quarter of the query's
    # CPU time on every authenticated request, measured in BENCHMARKS.md).
    return next(iter(AuthSession.objects.select_related(*related).filter(pk=pk)[:1]), None)


def rotate_refresh(raw: str, *, now: datetime, client: ClientInfo) -> TokenPair:
    """Exchange a refresh token for a new pair; the presented one stops working.

    A refresh token that is not the session's current one was already rotated, so someone else
    holds it: the whole session is revoked (RFC 9700 4.14.2). Two concurrent exchanges of one token
    race on a single conditional write; the loser is treated as reuse.
    """
    try:
        token = tokens.RefreshToken(raw)
    except TokenError:
        raise InvalidToken() from None
    session = _session_of(token, now=now, with_device=False)  # rotation needs no device
    old_jti = token.get("jti")
    new_jti = tokens.new_jti()
    rotated = 0
    if session.refresh_jti == old_jti:
        rotated = AuthSession.objects.filter(
            pk=session.pk, refresh_jti=old_jti, revoked_at=None
        ).update(refresh_jti=new_jti, last_used_at=now)
    if not rotated:
        if _revoke(session, now=now, reason=RevokeReason.REFRESH_REUSE):
            emit(EventType.REFRESH_REUSE, session.user, client, session_id=str(session.pk))
            if session.trusted_device_id is not None:
                _forget_device(session, client)
        raise InvalidToken()
    session.refresh_jti = new_jti
    session.last_used_at = now
    access, refresh = _pair(session)
    return TokenPair(access, refresh, session)


def _forget_device(session: AuthSession, client: ClientInfo) -> None:
    """Someone else holds the refresh token of a session a trusted device started: that device is
    trusted no more, recorded as every other revocation is (mfa.trusted_devices.revoke_all's event;
    that module builds on this one, so it cannot be called from here)."""
    if TrustedDevice.objects.filter(pk=session.trusted_device_id).delete()[0]:
        emit(EventType.TRUSTED_DEVICES_REVOKED, session.user, client, count=1, reason="refresh_reuse")


def _revoke(session: AuthSession, *, now: datetime, reason: RevokeReason) -> bool:
    return bool(
        AuthSession.objects.filter(pk=session.pk, revoked_at=None).update(
            revoked_at=now, revoke_reason=reason
        )
    )


def revoke_session(
    user: Any, session_id: str, *, now: datetime, client: ClientInfo,
    reason: RevokeReason = RevokeReason.LOGOUT,
) -> None:
    """End one of ``user``'s live sessions. Raises SessionNotFound if it is not theirs or gone."""
    pk = parse_uuid(session_id)
    rows = 0
    if pk is not None:
        rows = AuthSession.objects.filter(pk=pk, user=user, revoked_at=None).update(
            revoked_at=now, revoke_reason=reason
        )
    if not rows:
        raise SessionNotFound()
    emit(
        EventType.SESSION_REVOKED, user, client, session_id=str(session_id), reason=str(reason)
    )


def revoke_user_sessions(
    user: Any, *, now: datetime, client: ClientInfo, reason: RevokeReason, keep_session_id: Any = None
) -> int:
    """End every live session of ``user`` except ``keep_session_id``. Returns how many ended."""
    live = AuthSession.objects.filter(user=user, revoked_at=None)
    if keep_session_id is not None:
        live = live.exclude(pk=keep_session_id)
    rows = live.update(revoked_at=now, revoke_reason=reason)
    if rows:
        emit(
            EventType.SESSIONS_REVOKED, user, client, session_id=None, count=rows, reason=str(reason)
        )
    return rows


def live_sessions(user: Any, *, now: datetime):
    """The user's sessions that can still be used, most recently used first."""
    return AuthSession.objects.live(now).filter(user=user).order_by("-last_used_at")

