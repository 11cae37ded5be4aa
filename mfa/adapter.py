"""The adapter: what a host site customises, by subclassing and naming it in MFA["ADAPTER"]."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.mail import send_mail

from mfa.conf import mfa_settings

logger = logging.getLogger("mfa.adapter")


class DefaultMFAAdapter:
    """Default behaviour; override any method in a subclass."""

    notification_subjects = {
        "mfa_enabled": "Two-factor authentication was turned on",
        "mfa_disabled": "Two-factor authentication was turned off",
        "recovery_codes_regenerated": "New recovery codes were created",
        "mfa_locked": "Several wrong two-factor codes were entered",
    }

    def get_issuer(self, user: Any) -> str:
        """The issuer shown by authenticator apps (Key Uri Format ``issuer``)."""
        return mfa_settings.ISSUER

    def get_account_name(self, user: Any) -> str:
        """The account name in the otpauth label: the email, else the username."""
        email_field = user.get_email_field_name()
        return getattr(user, email_field, "") or user.get_username()

    def notify(self, user: Any, event: str) -> None:
        """Tell the user by email about a change to their second factor (NIST 800-63B 4.6)."""
        address = getattr(user, user.get_email_field_name(), "")
        subject = self.notification_subjects.get(event)
        if not address or not subject:
            return
        body = (
            f"{subject} for your account {address}.\n\n"
            "If this was not you, reset your password and contact support at once."
        )
        try:
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [address])
        except OSError:
            logger.warning("could not send the %s notification email", event)


def get_adapter() -> DefaultMFAAdapter:
    return mfa_settings.ADAPTER()
