"""Errors of the mfa domain, each with a stable ``code`` and a default HTTP status.

Domain modules raise these; mfa.api.exception_handler turns them into ``{"detail": str, "code": str}``
(a view may override the status per code, e.g. a wrong code is 401 at mfa/login/verify but 400 on
endpoints that already hold an access token), and the pages put ``detail`` on their forms.

``detail`` is the adapter's message for ``message_key`` (by default the code), in the active
language, unless a message was given when raising.
"""

from __future__ import annotations

import math
from http import HTTPStatus
from typing import Any

from mfa.adapter import get_adapter


class MFAError(Exception):
    code = "mfa_error"
    status_code = HTTPStatus.BAD_REQUEST
    # Key of the message in the adapter's error_messages; None: the code.
    message_key: str | None = None

    def __init__(self, message: str | None = None, **params: Any) -> None:
        super().__init__(message or self.code)
        self._message = message
        self.params = params

    @property
    def detail(self) -> str:
        if self._message is not None:
            return str(self._message)
        return get_adapter().get_error_message(self.message_key or self.code, **self.params)


class InvalidCode(MFAError):
    code = "invalid_code"


class TOTPDisabled(InvalidCode):
    """A TOTP code after MFA["TOTP_MAX_FAILURES"] consecutive failures: refused unread."""

    message_key = "totp_disabled"


class SecretUnavailable(MFAError):
    """The user's TOTP secret cannot be decrypted with the configured keys (keys changed without
    the old one kept): no code can be checked, through no fault of the user, so a 503, never a
    wrong-code failure. ``reason`` is for logs and the audit record, not for the user."""

    code = "mfa_secret_unavailable"
    status_code = HTTPStatus.SERVICE_UNAVAILABLE

    def __init__(self, reason: str = "", message: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason


class InvalidPassword(MFAError):
    code = "invalid_password"


class CodeRequired(MFAError):
    """A password was given where the account's second factor is needed (re-authentication of a
    user with MFA)."""

    code = "code_required"


class ReauthenticationRequired(MFAError):
    """A step-up action without a recent enough second factor in this session."""

    code = "reauthentication_required"
    status_code = HTTPStatus.FORBIDDEN


class InvalidCredentials(MFAError):
    code = "invalid_credentials"
    status_code = HTTPStatus.UNAUTHORIZED


class InvalidMFAToken(MFAError):
    code = "invalid_mfa_token"
    status_code = HTTPStatus.UNAUTHORIZED


class InvalidToken(MFAError):
    code = "token_not_valid"
    status_code = HTTPStatus.UNAUTHORIZED


class LockedOut(MFAError):
    """Too many wrong codes for this user: wait ``retry_after`` seconds (the code lockout)."""

    code = "mfa_locked"
    status_code = HTTPStatus.TOO_MANY_REQUESTS

    def __init__(self, retry_after: float, message: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = max(1, math.ceil(retry_after))


class LoginLocked(LockedOut):
    """Too many wrong passwords for this username: wait ``retry_after`` seconds (the password
    backoff). A LockedOut with its own code, so clients can tell the two apart."""

    code = "login_locked"


class NoPendingSetup(MFAError):
    code = "no_pending_setup"


class MFAAlreadyEnabled(MFAError):
    code = "mfa_already_enabled"
    status_code = HTTPStatus.CONFLICT


class MFANotEnabled(MFAError):
    code = "mfa_not_enabled"


class SessionNotFound(MFAError):
    code = "not_found"
    status_code = HTTPStatus.NOT_FOUND


class InvalidResetToken(MFAError):
    """A password reset link that is wrong, used, expired, or names no (active) account."""

    code = "invalid_reset_token"


class PasswordResetThrottled(LockedOut):
    """Too many password reset requests from this IP or for this address: wait ``retry_after``."""

    code = "throttled"
    message_key = "password_reset_throttled"


class WebAuthnNotConfigured(MFAError):
    """Security keys and passkeys are off on this site: no WebAuthn origin is configured
    (MFA["WEBAUTHN_ORIGINS"] unset with DEBUG off). The rest of the site works as before."""

    code = "webauthn_not_configured"
    status_code = HTTPStatus.SERVICE_UNAVAILABLE


class InvalidCredential(MFAError):
    """A WebAuthn answer (registration or assertion) that does not verify or is malformed.
    ``reason`` says why, for logs and security events; the user only reads that it failed (telling
    them which check failed would help nobody but someone probing). A view may answer 401 instead."""

    code = "invalid_credential"

    def __init__(self, reason: str = "", message: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason


class CounterRegression(InvalidCredential):
    """A correctly signed assertion whose sign count did not go up (other than 0 to 0): a sign the
    authenticator may have been cloned (WebAuthn L3 6.1.1). The caller records an event."""

    def __init__(self, stored: int, received: int, message: str | None = None) -> None:
        super().__init__(f"sign count {received} after {stored}", message)
        self.stored = stored
        self.received = received


class KeyNotFound(MFAError):
    """No security key with this id belongs to the caller."""

    code = "not_found"
    status_code = HTTPStatus.NOT_FOUND


class PasskeyLoginDisabled(MFAError):
    """Signing in with a passkey alone is off (MFA["PASSKEY_LOGIN"])."""

    code = "passkey_login_disabled"
    status_code = HTTPStatus.NOT_FOUND


class TrustedDeviceNotFound(MFAError):
    """No trusted device with this id belongs to the caller."""

    code = "not_found"
    status_code = HTTPStatus.NOT_FOUND
