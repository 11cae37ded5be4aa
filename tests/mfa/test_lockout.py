"""The code lockout's limits: TOTP disabled after 100 failures (BRU-01), the owner told, no off switch."""

import pytest
from django.core import mail
from django.urls import reverse

from mfa import lockout
from mfa.models import MFAAccount
from tests.helpers import login, totp_now
from tests.mfa.helpers import account_of

pytestmark = pytest.mark.django_db(transaction=True)


def _verify(api, token: str, code: str):
    return api.post(reverse("mfa:mfa-login-verify"), {"mfa_token": token, "code": code}, format="json")


def test_totp_is_refused_after_100_failures_until_a_recovery_code_is_used(api, user_with_mfa, clock):
    MFAAccount.objects.filter(user=user_with_mfa.user).update(failure_count=100, locked_until=None)
    token = login(api, user_with_mfa.email).json()["mfa_token"]
    r = _verify(api, token, totp_now(user_with_mfa.secret, clock.now))
    assert r.status_code == 401 and r.json()["code"] == "invalid_code"
    assert "recovery code" in r.json()["detail"]
    clock.advance(3601)  # past the backoff the 101st failure started
    token = login(api, user_with_mfa.email).json()["mfa_token"]
    r = _verify(api, token, user_with_mfa.recovery_codes[0])
    assert r.status_code == 200
    assert account_of(user_with_mfa.user).failure_count == 0
    clock.advance(30)
    token = login(api, user_with_mfa.email).json()["mfa_token"]
    assert _verify(api, token, totp_now(user_with_mfa.secret, clock.now)).status_code == 200


def test_below_the_limit_totp_still_works_after_the_wait(api, user_with_mfa, clock):
    MFAAccount.objects.filter(user=user_with_mfa.user).update(failure_count=99, locked_until=None)
    token = login(api, user_with_mfa.email).json()["mfa_token"]
    assert _verify(api, token, totp_now(user_with_mfa.secret, clock.now)).status_code == 200


def test_the_owner_is_emailed_once_when_the_lockout_starts(api, user_with_mfa, clock):
    mail.outbox.clear()
    token = login(api, user_with_mfa.email).json()["mfa_token"]
    for _ in range(5):
        _verify(api, token, "000000")
    locked = [m for m in mail.outbox if "wrong two-factor codes" in m.subject]
    assert len(locked) == 1 and locked[0].to == [user_with_mfa.email]
    assert "000000" not in locked[0].body
    clock.advance(31)
    _verify(api, token, "000000")  # 6th failure: the lock extends, no second email
    assert len([m for m in mail.outbox if "wrong two-factor codes" in m.subject]) == 1


@pytest.mark.parametrize("threshold", [0, None])
def test_the_code_lockout_cannot_be_switched_off_by_a_zero_threshold(settings, threshold):
    """The password backoff has an off switch (threshold 0); the code lockout has none: a
    threshold below 1 counts as 1, so the first wrong code already waits."""
    settings.MFA = {**settings.MFA, "LOCKOUT_THRESHOLD": threshold}
    assert lockout.wait_seconds(1) == 30 and lockout.wait_seconds(2) == 60
    assert lockout.backoff_seconds(50, threshold) == 0  # the shared schedule's "off", for passwords
