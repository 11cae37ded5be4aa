"""Re-encrypt every TOTP secret with the newest key in MFA["ENCRYPTION_KEYS"]."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from mfa import crypto
from mfa.models import TOTPDevice


class Command(BaseCommand):
    help = "Re-encrypt TOTP secrets with the first (newest) MFA encryption key."

    def handle(self, *args: Any, **options: Any) -> None:
        done = 0
        unreadable = []
        for device in TOTPDevice.objects.only("id", "encrypted_secret").iterator():
            try:
                rotated = crypto.rotate(device.encrypted_secret)
            except crypto.DecryptionError:
                # Left as it is: the key that reads it may still be added back.
                unreadable.append(str(device.pk))
                continue
            TOTPDevice.objects.filter(pk=device.pk, encrypted_secret=device.encrypted_secret).update(
                encrypted_secret=rotated
            )
            done += 1
        self.stdout.write(f"re-encrypted {done} TOTP secrets")
        if unreadable:
            raise CommandError(
                f"{len(unreadable)} TOTP secrets are not readable with the configured keys and were "
                f"left unchanged (devices {', '.join(unreadable)})"
            )
