"""Errors of the mfa domain, each with a stable ``code`` and a default HTTP status.

Domain modules raise these; mfa.exception_handler turns them into ``{"detail": str, "code": str}``
(a view may override the status per code, e.g. a wrong code is 401 at mfa/login/verify but 400 on
endpoints that already hold an access token).
"""

from __future__ import annotations

import math
from http import HTTPStatus


class MFAError(Exception):
    code = "mfa_error"
    status_code = HTTPStatus.BAD_REQUEST
    message = "The request could not be completed."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.message)
        self.detail = message or self.message


class InvalidCode(MFAError):
    code = "invalid_code"
    message = "Invalid code."


class InvalidPassword(MFAError):
    code = "invalid_password"
    message = "Invalid password."


class InvalidCredentials(MFAError):
    code = "invalid_credentials"
    status_code = HTTPStatus.UNAUTHORIZED
    message = "Invalid email or password."


class InvalidMFAToken(MFAError):
    code = "invalid_mfa_token"
    status_code = HTTPStatus.UNAUTHORIZED
    message = "The MFA token is invalid, expired or already used. Log in again."


class InvalidToken(MFAError):
    code = "token_not_valid"
    status_code = HTTPStatus.UNAUTHORIZED
    message = "Token is invalid or expired."


class LockedOut(MFAError):
    code = "mfa_locked"
    status_code = HTTPStatus.TOO_MANY_REQUESTS
    message = "Too many wrong codes. Try again later."

    def __init__(self, retry_after: float, message: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = max(1, math.ceil(retry_after))


class NoPendingSetup(MFAError):
    code = "no_pending_setup"
    message = "There is no pending MFA setup. Call mfa/setup first."


class MFAAlreadyEnabled(MFAError):
    code = "mfa_already_enabled"
    status_code = HTTPStatus.CONFLICT
    message = "MFA is already enabled. Disable it first to enrol a new authenticator."


class MFANotEnabled(MFAError):
    code = "mfa_not_enabled"
    message = "MFA is not enabled for this account."


class SessionNotFound(MFAError):
    code = "not_found"
    status_code = HTTPStatus.NOT_FOUND
    message = "Not found."
