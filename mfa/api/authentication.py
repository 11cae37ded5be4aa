"""DRF authentication by Bearer access token, checked against its database session.

One query per request loads the session, its user and the user's TOTP device together, so a
revoked session's access tokens fail on the very next request.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from rest_framework import exceptions
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import TokenError

from mfa import policy, sessions, tokens
from mfa.adapter import get_adapter
from mfa.exceptions import InvalidToken
from mfa.policy import EnrolmentState


def _token_not_valid() -> exceptions.AuthenticationFailed:
    return exceptions.AuthenticationFailed(InvalidToken().detail, code=InvalidToken.code)


class SessionJWTAuthentication(JWTAuthentication):
    """``Authorization: Bearer <access>``; sets ``request.auth`` to the validated token and
    ``request.auth_session`` to its AuthSession."""

    www_authenticate_realm = "api"

    def authenticate(self, request: Any) -> tuple[Any, Any] | None:
        header = self.get_header(request)
        if header is None:
            return None
        raw = self.get_raw_token(header)
        if raw is None:
            return None
        try:
            validated = tokens.AccessToken(raw)
        except TokenError:
            raise _token_not_valid() from None
        try:
            session = sessions.session_for_access_token(validated, now=timezone.now())
        except InvalidToken:
            raise _token_not_valid() from None
        request._request.auth_session = session
        request.auth_session = session
        self.enforce_policy(request, session)
        return session.user, validated

    def enforce_policy(self, request: Any, session: Any) -> None:
        """Mandatory MFA (the adapter's is_mfa_required, MFA["REQUIRED"] by default): past the
        grace period a user without MFA may only enrol, read ``me`` and log out; everything else
        answers 403 ``mfa_enrollment_required``."""
        state = policy.enrolment_state(session.user, now=timezone.now())
        if state == EnrolmentState.OK:
            return
        view = (request.parser_context or {}).get("view")
        if state == EnrolmentState.GRACE:
            request._request.mfa_enrolment_reminder = True
            return
        if not getattr(view, "allow_without_required_mfa", False):
            raise exceptions.PermissionDenied(
                get_adapter().get_error_message("mfa_enrollment_required"),
                code="mfa_enrollment_required",
            )

    def get_raw_token(self, header: bytes) -> bytes | None:
        try:
            return super().get_raw_token(header)
        except exceptions.AuthenticationFailed:
            raise exceptions.AuthenticationFailed(
                get_adapter().get_error_message("bad_authorization_header"),
                code="bad_authorization_header",
            ) from None
