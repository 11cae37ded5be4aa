"""DRF permissions a host site can put on its own views (also importable as ``mfa.permissions``)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from rest_framework.permissions import BasePermission

from mfa import factors, sessions
from mfa.adapter import get_adapter
from mfa.conf import mfa_settings
from mfa.exceptions import ReauthenticationRequired
from mfa.tokens import AMR, SECOND_FACTOR_AMR


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
        amr = set(_amr(request))
        if amr & SECOND_FACTOR_AMR:
            return True
        if AMR.TRUSTED_DEVICE in amr and mfa_settings.TRUSTED_DEVICE_COMPLETES_MFA:
            return True  # a login on a device trusted after a second factor (opt out in settings)
        return not factors.has_mfa(user)


class RecentSecondFactor(BasePermission):
    """Step-up: this session gave a second factor within the last ``max_age`` seconds, at its
    login or by ``reauthenticate`` with a code (a password re-authentication never counts). The
    time is the session's own (AuthSession.second_factor_at), so it holds for every access token of
    the session. Refused with 403 ``reauthentication_required``.

    Use ``RecentSecondFactor.within(600)`` to make a class with another window.
    """

    max_age = 300
    code = ReauthenticationRequired.code

    @property
    def message(self) -> str:
        return get_adapter().get_error_message(self.code)

    @classmethod
    def within(cls, seconds: int) -> type[RecentSecondFactor]:
        return type(f"RecentSecondFactor{seconds}", (cls,), {"max_age": seconds})

    def has_permission(self, request: Any, view: Any) -> bool:
        session = getattr(request, "auth_session", None)
        if request.auth is None or session is None:
            return False
        # The site's clock (timezone.now), like every other time check in mfa.
        return sessions.gave_second_factor_within(session, self.max_age, now=timezone.now())
