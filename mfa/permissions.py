"""DRF permissions a host site can put on its own views."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.utils import timezone
from rest_framework.permissions import BasePermission


def mfa_device_of(user: Any) -> Any:
    """The user's TOTP device (pending or confirmed), or None; no query when it was loaded with
    ``select_related``."""
    try:
        return user.mfa_device
    except ObjectDoesNotExist:  # no device (RelatedObjectDoesNotExist)
        return None


def user_has_mfa(user: Any) -> bool:
    device = mfa_device_of(user)
    return bool(device is not None and device.confirmed)


class IsMFAComplete(BasePermission):
    """Refuses a token without a second factor when the user has MFA enabled."""

    message = "This action needs a login with a second factor."
    code = "mfa_required"

    def has_permission(self, request: Any, view: Any) -> bool:
        user, token = request.user, request.auth
        if not (user and user.is_authenticated and token is not None):
            return False
        return "otp" in (token.get("amr") or []) or not user_has_mfa(user)


class RecentSecondFactor(BasePermission):
    """Step-up: a second factor given within the last ``max_age`` seconds (``auth_time``).

    Use ``RecentSecondFactor.within(600)`` to make a class with another window.
    """

    max_age = 300
    message = "This action needs a second factor given in the last few minutes. Log in again."
    code = "step_up_required"

    @classmethod
    def within(cls, seconds: int) -> type[RecentSecondFactor]:
        return type(f"RecentSecondFactor{seconds}", (cls,), {"max_age": seconds})

    def has_permission(self, request: Any, view: Any) -> bool:
        token = request.auth
        if token is None or "otp" not in (token.get("amr") or []):
            return False
        auth_time = token.get("auth_time")
        # The site's clock (timezone.now), like every other time check in mfa.
        return isinstance(auth_time, int) and timezone.now().timestamp() - auth_time <= self.max_age
