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

from mfa import sessions, tokens
from mfa.exceptions import InvalidToken


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
        return session.user, validated

    def get_raw_token(self, header: bytes) -> bytes | None:
        try:
            return super().get_raw_token(header)
        except exceptions.AuthenticationFailed:
            raise exceptions.AuthenticationFailed(
                "Authorization header must be 'Bearer <token>'.", code="bad_authorization_header"
            ) from None
