"""Migration 0005 carries every TOTP user over unchanged: data made by the old schema (0004: the
lockout, the recovery-code count and the last step on the TOTP device) ends up on the new
MFAAccount, and the user still signs in with TOTP and recovery codes. On every database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from tests.helpers import PASSWORD, login, totp_now

pytestmark = pytest.mark.django_db(transaction=True)

OLD = [("mfa", "0004_password_backoff_and_step_up")]
NEW = [("mfa", "0005_several_factors")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_totp_users_of_the_old_schema_are_carried_over(api, make_user, clock):
    import pyotp

    from mfa import crypto

    alice, bob, carol = make_user("alice@example.com"), make_user("bob@example.com"), make_user("carol@example.com")
    secret = pyotp.random_base32(32)
    locked = clock.now + timedelta(minutes=10)
    step = int(clock.now.timestamp()) // 30 - 5
    try:
        old = migrate(OLD)
        old_device = old.get_model("mfa", "TOTPDevice")
        old_code = old.get_model("mfa", "RecoveryCode")
        old_device.objects.create(user_id=alice.pk, encrypted_secret=crypto.encrypt(secret), confirmed=True,
                              confirmed_at=clock.now, failure_count=2, recovery_codes_left=7, last_step=step,
                              last_used_at=clock.now)
        old_device.objects.create(user_id=bob.pk, encrypted_secret=crypto.encrypt(secret), confirmed=True,
                              failure_count=9, locked_until=locked, recovery_codes_left=3)
        old_device.objects.create(user_id=carol.pk, encrypted_secret=crypto.encrypt(secret), confirmed=False)
        from django.contrib.auth.hashers import make_password

        from mfa.methods import recovery_codes

        norm = recovery_codes.normalize("ABCDE-FGHJK-MNPQR")
        old_code.objects.create(user_id=alice.pk, lookup=crypto.lookup_tag(norm, purpose=f"recovery:{alice.pk}"),
                            code_hash=make_password(norm))
        new = migrate(NEW)
        new_account = new.get_model("mfa", "MFAAccount")
        accounts = {a.user_id: a for a in new_account.objects.all()}
        assert set(accounts) == {alice.pk, bob.pk, carol.pk}
        a, b = accounts[alice.pk], accounts[bob.pk]
        assert (a.failure_count, a.recovery_codes_left, a.totp_last_step, a.locked_until) == (2, 7, step, None)
        assert (b.failure_count, b.recovery_codes_left) == (9, 3) and b.locked_until == locked
        assert a.last_used_at == clock.now
        assert len({x.user_handle for x in accounts.values()}) == 3 and all(
            len(x.user_handle) >= 86 for x in accounts.values()
        )
    finally:
        migrate(executor_leaf())
    # Alice still signs in with TOTP and with her recovery code; Bob is still locked.
    token = login(api, alice.email, PASSWORD).json()["mfa_token"]
    r = api.post(reverse("mfa:mfa-login-verify"), {"mfa_token": token, "code": totp_now(secret, clock.now)},
                 format="json")
    assert r.status_code == 200, r.content
    token = login(api, alice.email, PASSWORD).json()["mfa_token"]
    r = api.post(reverse("mfa:mfa-login-verify"), {"mfa_token": token, "code": "abcde-fghjk-mnpqr"}, format="json")
    assert r.status_code == 200, r.content
    token = login(api, bob.email, PASSWORD).json()["mfa_token"]
    r = api.post(reverse("mfa:mfa-login-verify"), {"mfa_token": token, "code": totp_now(secret, clock.now)},
                 format="json")
    assert r.status_code == 429


def executor_leaf():
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()
