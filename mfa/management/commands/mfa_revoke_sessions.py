"""End every session of a user (e.g. after a suspected compromise)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from mfa import sessions
from mfa.events import UNKNOWN_CLIENT
from mfa.models import RevokeReason


class Command(BaseCommand):
    help = "End every session of the user with the given username (email for authsite)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, username: str, **options: Any) -> None:
        model = get_user_model()
        try:
            user = model._default_manager.get_by_natural_key(username)
        except model.DoesNotExist:
            raise CommandError(f"no user {username!r}") from None
        count = sessions.revoke_user_sessions(
            user, now=timezone.now(), client=UNKNOWN_CLIENT, reason=RevokeReason.ADMIN_COMMAND
        )
        self.stdout.write(f"ended {count} sessions of {username}")
