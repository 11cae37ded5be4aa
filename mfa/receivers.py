"""Signal receivers: a password change or a deactivation ends the user's sessions."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.hashers import check_password
from django.utils import timezone

from mfa import sessions
from mfa.events import UNKNOWN_CLIENT
from mfa.models import RevokeReason


def end_sessions_on_password_change(sender: Any, instance: Any, raw: bool = False, **kwargs: Any) -> None:
    """pre_save of the user model: when ``set_password()`` gave the user a *different* password,
    end every session (ASVS 7.4.2; RFC 9700 4.14.2). A re-hash of the same password (Django
    upgrading an old hasher at login) is not a change and ends nothing."""
    new_raw = getattr(instance, "_password", None)
    if raw or new_raw is None or instance.pk is None:
        return
    old_hash = (
        sender._default_manager.filter(pk=instance.pk).values_list("password", flat=True).first()
    )
    if old_hash is None or check_password(new_raw, old_hash):
        return
    sessions.revoke_user_sessions(
        instance, now=timezone.now(), client=UNKNOWN_CLIENT, reason=RevokeReason.PASSWORD_CHANGED
    )


def end_sessions_on_deactivation(sender: Any, instance: Any, raw: bool = False, **kwargs: Any) -> None:
    """pre_save of the user model: saving an inactive user ends every session for good (ASVS
    7.4.2; SECURITY-CHECKS SES-08, TOK-09), so reactivating the account brings no old token back."""
    if raw or instance.pk is None or getattr(instance, "is_active", True):
        return
    sessions.revoke_user_sessions(
        instance, now=timezone.now(), client=UNKNOWN_CLIENT, reason=RevokeReason.USER_DEACTIVATED
    )
