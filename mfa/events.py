"""Security events: each is stored as a SecurityEvent, logged, and sent as a signal.

Callers pass only facts that are safe to keep forever: never a secret, code, password or token.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.dispatch import Signal
from django.utils import timezone

from mfa.models import SecurityEvent

logger = logging.getLogger("mfa.events")


@dataclass(frozen=True)
class Client:
    """What is known about the caller: its IP address and user agent (either may be empty)."""

    ip: str | None = None
    user_agent: str = ""


NO_CLIENT = Client()


def emit(signal: Signal | None, event_type: str, user: Any, client: Client, **details: Any) -> None:
    """Store the audit record, log one line, then send ``signal`` (if any) with the details."""
    SecurityEvent.objects.create(
        created_at=timezone.now(),
        type=event_type,
        user=user if user is not None and user.pk is not None else None,
        ip=client.ip,
        user_agent=client.user_agent[:512],
        details=details,
    )
    logger.info(
        "security event %s user=%s ip=%s %s",
        event_type,
        getattr(user, "pk", None),
        client.ip,
        " ".join(f"{k}={v}" for k, v in sorted(details.items())),
    )
    if signal is not None:
        signal.send(
            sender=get_user_model(),
            user=user,
            ip=client.ip,
            user_agent=client.user_agent,
            **details,
        )
