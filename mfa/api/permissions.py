"""DRF permissions a host site can put on its own views (also importable as ``mfa.permissions``)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from rest_framework.permissions import BasePermission

from mfa import factors
from mfa.adapter import get_adapter
from mfa.tokens import AMR


def _amr(request: Any) -> list[str]:
    token = request.auth
    return list(token.get("amr") or []) if token is not None else []


class IsMFAComplete(BasePermission):
    """Refuses a token without a second factor when the user has MFA enabled."""

    code = "mfa_required"

    @property
    def message(self) -> str:
        return get_adapter().get_error_message("second_factor_required")

    def has_permission(self, request: Any, view: Any) -> bool:
        user, token = request.user, request.auth
        if not (user and user.is_authenticated and token is not None):
            return False
        return AMR.OTP in _amr(request) or not factors.has_mfa(user)


class RecentSecondFactor(BasePermission):
    """Step-up: a second factor given within the last ``max_age`` seconds (``auth_time``).

    Use ``RecentSecondFactor.within(600)`` to make a class with another window.
    """

    max_age = 300
    code = "step_up_required"

    @property
    def message(self) -> str:
        return get_adapter().get_error_message("step_up_required")

    @classmethod
    def within(cls, seconds: int) -> type[RecentSecondFactor]:
        return type(f"RecentSecondFactor{seconds}", (cls,), {"max_age": seconds})

    def has_permission(self, request: Any, view: Any) -> bool:
        token = request.auth
        if token is None or AMR.OTP not in _amr(request):
            return False
        auth_time = token.get("auth_time")
        # The site's clock (timezone.now), like every other time check in mfa.
        return isinstance(auth_time, int) and timezone.now().timestamp() - auth_time <= self.max_age
