"""Delete what has expired: sessions past their absolute or idle limit, used mfa_token ids.

MongoDB removes rows past ``expires_at`` by itself (TTL indexes); SQL databases need this command
run regularly (e.g. hourly from cron). It works on every backend.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from mfa.conf import mfa_settings
from mfa.models import AuthSession, UsedMFAToken


class Command(BaseCommand):
    help = "Delete expired sessions and used mfa_token ids."

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        expired, _ = AuthSession.objects.filter(expires_at__lte=now).delete()
        idle, _ = AuthSession.objects.filter(
            last_used_at__lte=now - mfa_settings.SESSION_IDLE_TIMEOUT
        ).delete()
        tokens, _ = UsedMFAToken.objects.filter(expires_at__lte=now).delete()
        self.stdout.write(
            f"deleted {expired} expired sessions, {idle} idle sessions, {tokens} used mfa_token ids"
        )
