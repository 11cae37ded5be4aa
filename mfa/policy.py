"""Mandatory MFA: who must have a second factor, and from when (MFA["REQUIRED"])."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils.dateparse import parse_date, parse_datetime
from django.utils.timezone import is_naive, make_aware

from mfa.conf import mfa_settings


def is_required_for(user: Any) -> bool:
    """Whether the policy asks ``user`` to have MFA (whatever the grace period)."""
    rule = mfa_settings.REQUIRED
    if not rule or not getattr(user, "is_authenticated", False):
        return False
    if rule == "all":
        return True
    if rule == "staff":
        return bool(user.is_staff or user.is_superuser)
    if isinstance(rule, (list, tuple, set)):
        return user.groups.filter(name__in=list(rule)).exists()
    return False


def _policy_start() -> datetime | None:
    raw = mfa_settings.REQUIRED_SINCE
    if raw is None or isinstance(raw, datetime):
        value = raw
    else:
        value = parse_datetime(str(raw))
        if value is None and (day := parse_date(str(raw))) is not None:
            value = datetime(day.year, day.month, day.day)
    if value is not None and is_naive(value):
        value = make_aware(value)
    return value


def grace_ends_at(user: Any) -> datetime | None:
    """When the grace period of a user under the policy ends (None: no grace at all)."""
    days = mfa_settings.REQUIRED_GRACE_DAYS
    if not days:
        return None
    starts = [t for t in (_policy_start(), getattr(user, "date_joined", None)) if t is not None]
    if not starts:
        return None
    return max(starts) + timedelta(days=days)


def enrolment_state(user: Any, *, has_mfa: bool, now: datetime) -> str:
    """"ok" (no requirement or MFA on), "grace" (must enrol soon) or "required" (must enrol now)."""
    if has_mfa or not is_required_for(user):
        return "ok"
    ends = grace_ends_at(user)
    return "grace" if ends is not None and now < ends else "required"
