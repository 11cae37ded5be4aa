"""Delete sessions past their absolute or idle limit, forgotten wrong-password streaks, trusted
devices past their expiry and security-key ceremonies past theirs.

MongoDB removes rows past ``expires_at`` by itself (TTL indexes); SQL databases need this command
run regularly (e.g. hourly from cron). It works on every backend.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from mfa import password_lockout
from mfa.conf import mfa_settings
from mfa.models import AuthSession, TrustedDevice, WebAuthnCeremony


class Command(BaseCommand):
    help = (
        "Delete expired and idle sessions, password backoffs past their day, and expired trusted "
        "devices and security key ceremonies."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        # A row also records its mfa_token as used: keep it at least as long as such a token lives.
        young = now - mfa_settings.MFA_TOKEN_LIFETIME
        deleted, _ = AuthSession.objects.expired(now).filter(created_at__lte=young).delete()
        self.stdout.write(f"deleted {deleted} expired or idle sessions")
        backoffs = password_lockout.purge(now)
        self.stdout.write(f"deleted {backoffs} expired password backoffs")
        # An expired device or ceremony is already refused (their queries read expires_at): this
        # only clears the rows, as MongoDB's TTL indexes do, so no revocation event.
        devices, _ = TrustedDevice.objects.filter(expires_at__lte=now).delete()
        self.stdout.write(f"deleted {devices} expired trusted devices")
        ceremonies, _ = WebAuthnCeremony.objects.filter(expires_at__lte=now).delete()
        self.stdout.write(f"deleted {ceremonies} expired security key ceremonies")
