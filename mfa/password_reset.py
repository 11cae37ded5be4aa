"""Password reset over email: ask for a link, then set a new password with it.

``request_reset`` applies the limits (per IP and per address, the same count for known and unknown
addresses) and queues the rest for after the answer (mfa.background): looking the address up,
the ``password_reset_requested`` event and the email. The answer is the same, and takes the same
time, whether the address names an account or not (NIST SP 800-63B-4 and OWASP ASVS 2.5: no
account enumeration).

The link carries ``uid`` (the account's pk in base64url, as Django's reset views make it) and a
token from Django's PasswordResetTokenGenerator: an HMAC over the user's pk, password hash,
last_login and email with a timestamp, so it expires after settings.PASSWORD_RESET_TIMEOUT and
dies once the password changes (it is single use without a stored record). ``confirm_reset`` sets
the new password through mfa.passwords.set_new_password: every session ends and MFA stays on, so
nobody is signed in by a reset and the next login still asks for the second factor.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.exceptions import ValidationError
from django.urls import get_script_prefix, set_script_prefix
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from mfa import background, password_lockout, ratelimit
from mfa.adapter import get_adapter
from mfa.conf import mfa_settings
from mfa.events import ClientInfo, emit
from mfa.exceptions import InvalidResetToken, PasswordResetThrottled
from mfa.models import EventType, RevokeReason
from mfa.passwords import PasswordChangedMeanwhile, set_new_password

logger = logging.getLogger("mfa.password_reset")

# Longer values are refused unread: a base64url pk and a Django reset token are far shorter.
MAX_UID_LENGTH = 64
MAX_TOKEN_LENGTH = 128


class _TokenGenerator(PasswordResetTokenGenerator):
    """Django's reset tokens with the clock given as a value (the test seam Django labels
    ``_now``): tokens are made and checked at ``now`` (naive UTC, as Django's own arithmetic
    needs), so expiry follows the caller's ``now`` and the frozen clock of the tests."""

    def __init__(self, now: datetime) -> None:
        super().__init__()
        self._at = now.astimezone(UTC).replace(tzinfo=None)

    def _now(self) -> datetime:
        return self._at


def uid_of(user: Any) -> str:
    """The ``uid`` of ``user``'s reset links: its pk in base64url, the same in every email."""
    return urlsafe_base64_encode(force_bytes(user.pk))


def make_token(user: Any, *, now: datetime) -> str:
    return _TokenGenerator(now).make_token(user)


def request_reset(email: str, *, now: datetime, client: ClientInfo) -> None:
    """Accept a request for a reset link to ``email``, or raise PasswordResetThrottled.

    Limits: MFA["IP_RATES"]["password_reset"] per client IP and MFA["PASSWORD_RESET_RATE"] per
    address (counted for unknown addresses too, so the limit reveals nothing). An accepted request
    returns at once; the account is looked up and emailed by the background worker.
    """
    ip_rate = ratelimit.parse_rate(mfa_settings.IP_RATES.get("password_reset"))
    address_rate = ratelimit.parse_rate(mfa_settings.PASSWORD_RESET_RATE)
    ip_key = ratelimit.cache_key("reset-ip", client.ip or "unknown")
    # One count per address however it is spelt: the password gate's normalisation, without case.
    address = password_lockout.normalize_identifier(email).casefold()
    address_key = ratelimit.cache_key("reset-address", address)
    wait = ratelimit.hit({ip_key: ip_rate, address_key: address_rate}, now=now.timestamp())
    if wait is not None:
        raise PasswordResetThrottled(wait)
    prefix = get_script_prefix()  # reverse() in the worker thread builds the same paths

    def job() -> None:
        set_script_prefix(prefix)
        send_reset_email(email, now=now, client=client)

    background.submit(job)


def _accounts_for(email: str) -> list[Any]:
    """Active accounts with a usable password whose email (the user model's EMAIL_FIELD) is
    ``email`` after NFKC and without case: Django's own rule (PasswordResetForm.get_users)."""
    return list(PasswordResetForm().get_users(email.strip()))


def send_reset_email(email: str, *, now: datetime, client: ClientInfo) -> None:
    """The part of a request done after the answer: record the event and send each account
    for ``email`` a link. A mail failure is logged by the adapter."""
    accounts = _accounts_for(email)
    if not accounts:
        emit(EventType.PASSWORD_RESET_REQUESTED, None, client)
        return
    adapter = get_adapter()
    for user in accounts:
        emit(EventType.PASSWORD_RESET_REQUESTED, user, client)
        try:
            url = adapter.get_password_reset_url(uid_of(user), make_token(user, now=now))
        except Exception:
            logger.exception("cannot build a password reset link")
            return
        address = getattr(user, user.get_email_field_name())
        adapter.send_password_reset(user, address, url)


def _user_for_uid(uid: Any) -> Any:
    """The user ``uid`` names, or None (it does not decode, is not a pk of this model's type, or
    names nobody). Never raises: any pk type (int, ObjectId, UUID) is parsed by the model."""
    if not isinstance(uid, str) or not uid or len(uid) > MAX_UID_LENGTH:
        return None
    try:
        pk = urlsafe_base64_decode(uid).decode()
        model = get_user_model()
        pk = model._meta.pk.to_python(pk)
        return next(iter(model._default_manager.filter(pk=pk)[:1]), None)
    except (TypeError, ValueError, OverflowError, ValidationError):
        return None


def _valid_token(user: Any, token: Any, *, now: datetime) -> bool:
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        return False
    return user.is_active and _TokenGenerator(now).check_token(user, token)


def user_for_link(uid: Any, token: Any, *, now: datetime) -> Any:
    """The account a reset link would reset, or None when the link is not (or no longer) valid.
    Records nothing: the pages use it to show the form or the "invalid link" page."""
    user = _user_for_uid(uid)
    return user if user is not None and _valid_token(user, token, now=now) else None


def confirm_reset(uid: Any, token: Any, new_password: str, *, now: datetime, client: ClientInfo) -> Any:
    """Set ``new_password`` for the account of a valid link; returns the user.

    Raises InvalidResetToken (recorded as ``password_reset_failed``) for a link that is wrong,
    used, expired or names no active account, and django.core.exceptions.ValidationError for a
    password the validators refuse (the link stays valid then). Never signs anyone in.
    """
    user = _user_for_uid(uid)
    if user is None or not _valid_token(user, token, now=now):
        emit(EventType.PASSWORD_RESET_FAILED, user, client)
        raise InvalidResetToken()
    try:
        set_new_password(
            user, new_password, now=now, client=client, keep_session_id=None,
            reason=RevokeReason.PASSWORD_RESET,
        )
    except PasswordChangedMeanwhile:  # a concurrent use of the same link won
        emit(EventType.PASSWORD_RESET_FAILED, user, client)
        raise InvalidResetToken() from None
    # The wrong-password backoff of this account ends with the new password.
    password_lockout.clear(getattr(user, get_user_model().USERNAME_FIELD))
    emit(EventType.PASSWORD_RESET, user, client)
    return user
