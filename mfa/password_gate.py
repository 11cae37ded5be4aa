"""The one password check behind every door: API login, browser login, admin login, password
change, mfa/disable and re-authentication.

Each door hands over what the user typed; the gate applies the same rules everywhere:

- the identifier is normalised once (mfa.password_lockout.normalize_identifier: NFKC, trimmed) and
  that one value is both authenticated and counted, so a look-alike spelling that signs into an
  account shares that account's backoff;
- the password is NFC-normalised (NIST SP 800-63B 3.1.1.2); a stored password set before
  normalisation (in another form) still verifies;
- a backoff in force refuses right and wrong passwords alike (LoginLocked) before any hash is
  computed;
- every failure is counted and stored as a ``login_failed`` event that names the account when one
  exists (the caller's answer is the same either way), with the door it came through; when a
  backoff starts, a ``login_locked`` event is stored and the account owner is told once per streak.

No HTTP here: the per-IP limits belong to the doors (mfa.http.ip_rate_wait).
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from enum import StrEnum
from typing import Any

from django.contrib.auth import authenticate, get_user_model
from django.core.exceptions import ValidationError

from mfa import password_lockout
from mfa.adapter import get_adapter
from mfa.conf import mfa_settings
from mfa.events import ClientInfo, emit
from mfa.exceptions import InvalidCredentials, InvalidPassword
from mfa.models import EventType


class Door(StrEnum):
    """Where a password was typed (stored in the ``door`` detail of the events)."""

    API_LOGIN = "api_login"
    BROWSER_LOGIN = "browser_login"
    ADMIN_LOGIN = "admin_login"
    PASSWORD_CHANGE = "password_change"  # noqa: S105 - a door name, not a secret
    MFA_DISABLE = "mfa_disable"
    REAUTHENTICATE = "reauthenticate"


def normalize_password(password: str) -> str:
    """The form every password is checked and stored in: Unicode NFC."""
    return unicodedata.normalize("NFC", password)


def _candidates(password: str) -> list[str]:
    """NFC first; the text as typed too when it differs (a password stored un-normalised, e.g.
    through a form that does not normalise, must keep working)."""
    nfc = normalize_password(password)
    return [nfc] if nfc == password else [nfc, password]


def account_named(identifier: str) -> Any:
    """The account ``identifier`` names, active or not, or None (for the audit record only)."""
    model = get_user_model()
    try:
        return model._default_manager.get_by_natural_key(identifier)
    except (model.DoesNotExist, model.MultipleObjectsReturned, ValidationError, ValueError, TypeError):
        return None


def check_login(identifier: str, password: str, *, now: datetime, client: ClientInfo, door: Door) -> Any:
    """The active user whose USERNAME_FIELD and password match, or InvalidCredentials.

    Django's ModelBackend hashes the password for unknown users too, so unknown and wrong take
    about the same time; inactive users fail the same way. LoginLocked during a backoff.
    """
    identifier = password_lockout.normalize_identifier(identifier)
    on_record = password_lockout.ensure_allowed(identifier, now=now)
    field = get_user_model().USERNAME_FIELD
    user = None
    for candidate in _candidates(password):
        user = authenticate(None, **{field: identifier, "password": candidate})
        if user is not None:
            break
    if user is None:
        _failed(identifier, account_named(identifier), now=now, client=client, door=door)
        raise InvalidCredentials()
    if on_record:
        password_lockout.clear(identifier)
    return user


def check_account_password(
    user: Any, password: str, *, now: datetime, client: ClientInfo, door: Door
) -> None:
    """Confirm the signed-in ``user``'s password (InvalidPassword), under the same backoff as
    their logins: the streak of their login identifier."""
    identifier = user.get_username()
    on_record = password_lockout.ensure_allowed(identifier, now=now)
    if not (user.is_active and any(user.check_password(c) for c in _candidates(password))):
        _failed(identifier, user, now=now, client=client, door=door)
        raise InvalidPassword()
    if on_record:
        password_lockout.clear(identifier)


def _failed(identifier: str, account: Any, *, now: datetime, client: ClientInfo, door: Door) -> None:
    failure = password_lockout.record_failure(identifier, now=now)
    emit(EventType.LOGIN_FAILED, account, client, consecutive_failures=failure.count, door=str(door))
    if failure.wait:
        emit(EventType.LOGIN_LOCKED, account, client, retry_after=failure.wait, door=str(door))
        if account is not None and failure.count == mfa_settings.PASSWORD_LOCKOUT_THRESHOLD:
            # Someone is guessing this account's password: tell the owner once per streak (ASVS
            # 6.3.5), not on every guess.
            get_adapter().notify(account, EventType.LOGIN_LOCKED)
