"""Print the Fernet key mfa derives from SECRET_KEY, for a site about to set MFA["ENCRYPTION_KEYS"]."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from mfa import crypto
from mfa.conf import mfa_settings


class Command(BaseCommand):
    help = (
        "Print the Fernet key derived from SECRET_KEY: the key that encrypts TOTP secrets while "
        'MFA["ENCRYPTION_KEYS"] is unset. Set ENCRYPTION_KEYS to it to keep existing secrets readable.'
    )
    # Runs on a site whose checks fail for want of ENCRYPTION_KEYS (mfa.E004): that is its purpose.
    requires_system_checks: list[str] = []

    def handle(self, *args: Any, **options: Any) -> None:
        key = crypto.derived_key()
        self.stdout.write(key)
        if mfa_settings.ENCRYPTION_KEYS:
            if crypto.encryption_key() != key:
                self.stderr.write(
                    'Note: MFA["ENCRYPTION_KEYS"] is set and its first key differs from this derived '
                    "key; secrets are encrypted with the configured key."
                )
        elif getattr(settings, "SECRET_KEY_FALLBACKS", None):
            self.stderr.write(
                "Note: SECRET_KEY_FALLBACKS is set, so some secrets may still be under a key derived "
                "from a fallback: run mfa_rotate_keys before switching ENCRYPTION_KEYS to this key."
            )
