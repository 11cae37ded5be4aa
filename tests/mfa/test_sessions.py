"""Session rows: one liveness rule, read by the queryset, the per-request check and the purge."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from mfa import sessions
from mfa.events import UNKNOWN_CLIENT
from mfa.models import AuthSession, RevokeReason
from mfa.tokens import AMR

pytestmark = pytest.mark.django_db

IDLE = timedelta(hours=24)


def make_states(user, now):
    """One session per state, named: live, revoked, past its absolute end, idle, and each limit
    one second either side."""
    def row(name, *, age=timedelta(minutes=1), used=timedelta(seconds=1), lifetime=timedelta(days=7),
            revoked=False):
        created = now - age
        return name, AuthSession.objects.create(
            user=user, created_at=created, last_used_at=now - used, expires_at=created + lifetime,
            amr="pwd", refresh_jti=name, revoked_at=now if revoked else None,
        )

    return dict([
        row("live"),
        row("revoked", revoked=True),
        row("expired", age=timedelta(days=8)),
        row("expires_in_a_second", age=timedelta(days=7) - timedelta(seconds=1)),
        row("expired_a_second_ago", age=timedelta(days=7) + timedelta(seconds=1)),
        row("idle", age=timedelta(days=2), used=IDLE + timedelta(seconds=1)),
        row("nearly_idle", age=timedelta(days=2), used=IDLE - timedelta(seconds=1)),
    ])


def test_queryset_and_instance_agree_on_which_sessions_are_live(user, settings):
    settings.MFA = {**settings.MFA, "SESSION_IDLE_TIMEOUT": IDLE}
    now = timezone.now()
    rows = make_states(user, now)
    live = {str(pk) for pk in AuthSession.objects.live(now).values_list("pk", flat=True)}
    by_instance = {str(s.pk) for s in AuthSession.objects.all() if s.is_live(now)}
    assert live == by_instance == {str(rows[n].pk) for n in ("live", "expires_in_a_second", "nearly_idle")}


def test_expired_is_exactly_past_the_absolute_end_or_idle(user, settings):
    settings.MFA = {**settings.MFA, "SESSION_IDLE_TIMEOUT": IDLE}
    now = timezone.now()
    rows = make_states(user, now)
    expired = {str(pk) for pk in AuthSession.objects.expired(now).values_list("pk", flat=True)}
    assert expired == {str(rows[n].pk) for n in ("expired", "expired_a_second_ago", "idle")}


def test_purge_deletes_expired_and_idle_rows_and_keeps_the_rest(user, settings):
    settings.MFA = {**settings.MFA, "SESSION_IDLE_TIMEOUT": IDLE}
    now = timezone.now()
    rows = make_states(user, now)
    out = StringIO()
    call_command("mfa_purge", stdout=out)
    assert "deleted 3 expired or idle sessions" in out.getvalue()
    left = {str(pk) for pk in AuthSession.objects.values_list("pk", flat=True)}
    assert left == {str(rows[n].pk) for n in ("live", "revoked", "expires_in_a_second", "nearly_idle")}


def test_purge_keeps_a_young_row_that_records_a_used_mfa_token(user, settings):
    """A row also records its mfa_token as used: it outlives the token even when idle at once."""
    settings.MFA = {**settings.MFA, "SESSION_IDLE_TIMEOUT": timedelta(seconds=1)}
    now = timezone.now()
    AuthSession.objects.create(user=user, created_at=now, last_used_at=now - timedelta(seconds=5),
                               expires_at=now + timedelta(days=1), amr="pwd otp", refresh_jti="x", mfa_jti="j")
    call_command("mfa_purge", stdout=StringIO())
    assert AuthSession.objects.filter(mfa_jti="j").exists()


def test_live_session_refuses_an_inactive_users_session(user):
    now = timezone.now()
    row = sessions.create_session(user, amr=[AMR.PASSWORD], now=now, client=UNKNOWN_CLIENT)
    assert sessions.live_session(str(row.pk), now=now) is not None
    type(user).objects.filter(pk=user.pk).update(is_active=False)  # no pre_save: rows stay unrevoked
    assert sessions.live_session(str(row.pk), now=now) is None


def test_revoke_reason_is_a_choice_with_a_label(user):
    now = timezone.now()
    row = sessions.create_session(user, amr=[AMR.PASSWORD], now=now, client=UNKNOWN_CLIENT)
    sessions.revoke_session(user, str(row.pk), now=now, client=UNKNOWN_CLIENT, reason=RevokeReason.REVOKED)
    row.refresh_from_db()
    assert row.revoke_reason == "revoked" and row.get_revoke_reason_display() == "Ended by the user"
