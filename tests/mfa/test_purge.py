"""``mfa_purge`` on SQL databases does what MongoDB's TTL indexes do by themselves (mfa.indexes):
rows past ``expires_at`` go, the rest stay. Sessions: tests/mfa/test_sessions.py."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from mfa.models import AuthSession, TrustedDevice, WebAuthnCeremony

pytestmark = pytest.mark.django_db

SECOND = timedelta(seconds=1)


def purge() -> str:
    out = StringIO()
    call_command("mfa_purge", stdout=out)
    return out.getvalue()


def test_purge_deletes_expired_trusted_devices_and_keeps_the_rest(user):
    now = timezone.now()

    def device(name, expires_at):
        return TrustedDevice.objects.create(
            user=user, token_hash=name, name=name, created_at=now - timedelta(days=30), last_used_at=now,
            expires_at=expires_at, second_factor_at=now - timedelta(days=30), password_fingerprint="p",
            factors_fingerprint="f",
        )

    expired = device("expired", now - timedelta(days=1))
    just_expired = device("just_expired", now - SECOND)
    live = device("live", now + SECOND)
    session = AuthSession.objects.create(
        user=user, created_at=now, last_used_at=now, expires_at=now + timedelta(days=1), amr="pwd tdev",
        refresh_jti="r", trusted_device=expired,
    )
    assert "deleted 2 expired trusted devices" in purge()
    assert list(TrustedDevice.objects.values_list("pk", flat=True)) == [live.pk]
    assert not TrustedDevice.objects.filter(pk__in=[expired.pk, just_expired.pk]).exists()
    session.refresh_from_db()  # the session it started lives on, its device forgotten
    assert session.trusted_device_id is None and session.revoked_at is None


def test_purge_deletes_expired_security_key_ceremonies_and_keeps_the_rest(user):
    now = timezone.now()

    def ceremony(challenge, expires_at, **extra):
        return WebAuthnCeremony.objects.create(
            kind="register", challenge=challenge, user=user, created_at=now - timedelta(minutes=10),
            expires_at=expires_at, **extra,
        )

    ceremony("expired", now - timedelta(minutes=5))
    ceremony("used_and_expired", now - SECOND, used_at=now - timedelta(minutes=6))
    live = ceremony("live", now + SECOND)
    assert "deleted 2 expired security key ceremonies" in purge()
    assert list(WebAuthnCeremony.objects.values_list("pk", flat=True)) == [live.pk]
