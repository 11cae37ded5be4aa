"""Mandatory MFA: whether a user must enrol now, soon, or not at all.

Who must use MFA is the adapter's call (``is_mfa_required``; by default MFA["REQUIRED"]); this
module adds the grace period and turns both into an EnrolmentState, which the API's
authentication and the pages' middleware enforce.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from django.utils.dateparse import parse_date, parse_datetime
from django.utils.timezone import is_naive, make_aware

from mfa import factors
from mfa.adapter import get_adapter
from mfa.conf import mfa_settings


class EnrolmentState(StrEnum):
    OK = "ok"  # MFA not required, or already on
    GRACE = "grace"  # required, but the grace period has not ended: remind
    REQUIRED = "required"  # required now: only enrolment (and signing out) is allowed


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


def enrolment_state(user: Any, *, now: datetime) -> EnrolmentState:
    """OK (not required, or MFA on), GRACE (must enrol soon) or REQUIRED (must enrol now).

    No query for a user the policy does not cover; one at most otherwise (none when the user's
    TOTP device was loaded with the user)."""
    if not get_adapter().is_mfa_required(user) or factors.has_mfa(user):
        return EnrolmentState.OK
    ends = grace_ends_at(user)
    return EnrolmentState.GRACE if ends is not None and now < ends else EnrolmentState.REQUIRED
