"""Setting a user's password: the one write behind a password reset and a password change.

The new password is NFC-normalised (NIST SP 800-63B-4 3.1.1.2: Unicode passwords normalised
before hashing, so the same characters typed on another keyboard still match) and checked by
Django's AUTH_PASSWORD_VALIDATORS against the user. The write is conditional on the hash the
caller loaded, so two concurrent changes cannot both succeed. The user's sessions end (all but
``keep_session_id``) and the owner is told (NIST SP 800-63B-4 4.6: notify of a changed
authenticator).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth import password_validation

from mfa import password_gate, sessions, trusted_devices
from mfa.adapter import get_adapter
from mfa.events import ClientInfo, emit
from mfa.exceptions import MFAError
from mfa.models import EventType, RevokeReason


class PasswordChangedMeanwhile(MFAError):
    """The stored password changed after ``user`` was loaded (a concurrent change won)."""

    code = "password_changed_meanwhile"


def set_new_password(
    user: Any, raw_password: str, *, now: datetime, client: ClientInfo, keep_session_id: Any = None,
    reason: RevokeReason,
) -> None:
    """Give ``user`` the password ``raw_password`` (normalised, validated, hashed, saved).

    Raises django.core.exceptions.ValidationError with the validators' messages (callers report
    them as the password field's errors), or PasswordChangedMeanwhile when the stored hash is no
    longer the one ``user`` was loaded with. Then ends every session of the user except
    ``keep_session_id`` (recorded with ``reason``) and notifies the owner.

    It writes with ``update()``, not ``save()``: the pre_save receiver of mfa.receivers, which
    ends *all* sessions on a password change, is for other doors (the admin, ``changepassword``);
    here the sessions are ended below, honouring ``keep_session_id``.
    """
    password = password_gate.normalize_password(raw_password)
    password_validation.validate_password(password, user)
    old_hash = user.password
    user.set_password(password)
    new_hash = user.password
    user._password = None  # written below; a later save() must not see a pending change
    model = user._meta.model  # (request.user is a lazy proxy: not type(user))
    # One racing state change, one conditional write (compare-and-set on the old hash).
    if not model._default_manager.filter(pk=user.pk, password=old_hash).update(password=new_hash):
        user.password = old_hash
        raise PasswordChangedMeanwhile()
    password_validation.password_changed(password, user)
    sessions.revoke_user_sessions(
        user, now=now, client=client, reason=reason, keep_session_id=keep_session_id
    )
    # A device trusted under the old password is trusted no more.
    trusted_devices.revoke_all(user, client=client, reason="password_changed")
    get_adapter().notify(user, "password_changed")


def change_password(
    user: Any, current_password: str, new_password: str, *, now: datetime, client: ClientInfo,
    keep_session_id: Any = None,
) -> None:
    """A signed-in user changes their password: the current one through the password gate (a wrong
    one is InvalidPassword and counts in the backoff; LoginLocked while it lasts), then
    ``set_new_password``: every other session ends, ``keep_session_id`` stays, the owner is told,
    and a ``password_changed`` event is stored. MFA is untouched."""
    password_gate.check_account_password(
        user, current_password, now=now, client=client, door=password_gate.Door.PASSWORD_CHANGE
    )
    set_new_password(
        user, new_password, now=now, client=client, keep_session_id=keep_session_id,
        reason=RevokeReason.PASSWORD_CHANGED,
    )
    emit(EventType.PASSWORD_CHANGED, user, client)
