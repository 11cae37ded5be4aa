"""DRF authentication by Bearer access token, checked against its database session.

One query per request loads the session, its user and the user's MFA device together, so a
revoked session's access tokens fail on the very next request.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from rest_framework import exceptions
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import TokenError

from mfa import policy, sessions, tokens
from mfa.conf import mfa_settings
from mfa.exceptions import InvalidToken
from mfa.permissions import user_has_mfa


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
            raise exceptions.AuthenticationFailed(InvalidToken.message, code="token_not_valid") from None
        try:
            session = sessions.session_for_access_token(validated, now=timezone.now())
        except InvalidToken:
            raise exceptions.AuthenticationFailed(InvalidToken.message, code="token_not_valid") from None
        request._request.auth_session = session
        request.auth_session = session
        self.enforce_policy(request, session)
        return session.user, validated

    def enforce_policy(self, request: Any, session: Any) -> None:
        """Mandatory MFA (MFA["REQUIRED"]): past the grace period a user without MFA may only
        enrol, read ``me`` and log out; everything else answers 403 ``mfa_enrollment_required``."""
        if not mfa_settings.REQUIRED:
            return
        state = policy.enrolment_state(session.user, has_mfa=user_has_mfa(session.user), now=timezone.now())
        if state == "ok":
            return
        view = (request.parser_context or {}).get("view")
        if state == "grace":
            request._request.mfa_enrolment_reminder = True
            return
        if not getattr(view, "allow_without_required_mfa", False):
            raise exceptions.PermissionDenied(
                "Multi-factor authentication is required for this account: enrol first "
                "(mfa/setup, then mfa/verify).",
                code="mfa_enrollment_required",
            )

    def get_raw_token(self, header: bytes) -> bytes | None:
        try:
            return super().get_raw_token(header)
        except exceptions.AuthenticationFailed:
            raise exceptions.AuthenticationFailed(
                "Authorization header must be 'Bearer <token>'.", code="bad_authorization_header"
            ) from None
