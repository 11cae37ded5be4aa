"""Security events: each is stored as a SecurityEvent, logged, and sent as a signal.

``EVENTS`` is the one registry of event types: for each, the signal it sends and the keyword
arguments that go with it. ``emit`` refuses details that differ from the registry, so a type, its
signal and its documented arguments (docs/using-mfa.md, "Signals") cannot drift apart.

Callers pass only facts that are safe to keep forever: never a secret, code, password or token.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.dispatch import Signal
from django.utils import timezone

from mfa import signals
from mfa.models import EventType, SecurityEvent

logger = logging.getLogger("mfa.events")


@dataclass(frozen=True)
class ClientInfo:
    """What is known about the caller: its IP address and user agent (either may be empty)."""

    ip: str | None = None
    user_agent: str = ""


# A caller with nothing to report (a management command, a signal receiver).
UNKNOWN_CLIENT = ClientInfo()


@dataclass(frozen=True)
class EventSpec:
    signal: Signal
    # Keyword arguments sent with the signal (besides sender, user, ip, user_agent) and stored as
    # the event's details.
    args: tuple[str, ...] = ()


EVENTS: dict[EventType, EventSpec] = {
    EventType.LOGIN: EventSpec(signals.login_succeeded, ("session_id", "amr")),
    EventType.LOGIN_FAILED: EventSpec(signals.login_failed, ("consecutive_failures", "door")),
    EventType.LOGIN_LOCKED: EventSpec(signals.login_locked, ("retry_after", "door")),
    EventType.MFA_ENABLED: EventSpec(signals.mfa_enabled),
    EventType.MFA_DISABLED: EventSpec(signals.mfa_disabled, ("by_admin",)),
    EventType.DEVICE_TRUSTED: EventSpec(signals.device_trusted, ("device_id", "name")),
    EventType.TRUSTED_DEVICES_REVOKED: EventSpec(signals.trusted_devices_revoked, ("count", "reason")),
    EventType.FACTOR_ADDED: EventSpec(signals.factor_added, ("method", "name")),
    EventType.FACTOR_REMOVED: EventSpec(signals.factor_removed, ("method", "name")),
    EventType.KEY_RENAMED: EventSpec(signals.key_renamed, ("credential_id", "name")),
    EventType.KEY_COUNTER_REGRESSION: EventSpec(
        signals.key_counter_regression, ("credential_id", "stored", "received")
    ),
    EventType.MFA_FAILED: EventSpec(signals.mfa_failed, ("method", "failure_count")),
    EventType.MFA_LOCKED: EventSpec(signals.mfa_locked, ("retry_after",)),
    EventType.REAUTHENTICATED: EventSpec(signals.reauthenticated, ("session_id", "amr", "second_factor")),
    EventType.RECOVERY_CODE_USED: EventSpec(signals.recovery_code_used, ("remaining",)),
    EventType.RECOVERY_CODES_REGENERATED: EventSpec(signals.recovery_codes_regenerated),
    EventType.REFRESH_REUSE: EventSpec(signals.refresh_reuse_detected, ("session_id",)),
    EventType.SESSION_REVOKED: EventSpec(signals.session_revoked, ("session_id", "reason")),
    EventType.SESSIONS_REVOKED: EventSpec(signals.session_revoked, ("session_id", "count", "reason")),
    EventType.MFA_SECRET_UNREADABLE: EventSpec(signals.mfa_secret_unreadable, ("reason",)),
    EventType.PASSWORD_CHANGED: EventSpec(signals.password_changed),
    EventType.PASSWORD_RESET_REQUESTED: EventSpec(signals.password_reset_requested),
    EventType.PASSWORD_RESET: EventSpec(signals.password_reset_completed),
    EventType.PASSWORD_RESET_FAILED: EventSpec(signals.password_reset_failed),
}


def emit(event_type: EventType, user: Any, client: ClientInfo, **details: Any) -> None:
    """Store the audit record, log one line, then send the event type's signal with the details.

    Raises TypeError when ``details`` are not exactly the registry's arguments for the type.
    """
    spec = EVENTS[event_type]
    if set(details) != set(spec.args):
        raise TypeError(f"event {event_type} takes {spec.args}, got {tuple(sorted(details))}")
    SecurityEvent.objects.create(
        created_at=timezone.now(),
        type=event_type.value,
        user=user if user is not None and user.pk is not None else None,
        ip=client.ip,
        user_agent=client.user_agent[:512],
        details=details,
    )
    if logger.isEnabledFor(logging.INFO):  # the details are formatted only for a line that is kept
        logger.info(
            "security event %s user=%s ip=%s %s",
            event_type.value,
            getattr(user, "pk", None),
            client.ip,
            " ".join(f"{k}={v}" for k, v in sorted(details.items())),
        )
    spec.signal.send(
        sender=get_user_model(),
        user=user,
        ip=client.ip,
        user_agent=client.user_agent,
        **details,
    )
