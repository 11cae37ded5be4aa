"""mfa: TOTP multi-factor authentication and JWT sessions for Django (distribution django-mfa-sessions)."""

__version__ = "0.1.0"
