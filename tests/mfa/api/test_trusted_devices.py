"""Trusted devices over the API (issue 14): trust after a second factor, a password login with the
device token skips the code, and every way the trust ends."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from mfa.models import SecurityEvent, TOTPDevice, TrustedDevice, WebAuthnCredential
from tests.helpers import PASSWORD, bearer, claims, login, mfa_login, totp_now
from tests.webauthn_authenticator import SoftAuthenticator

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls("tests.mfa.api.urls_permissions")]

AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36"


def trusting_login(api, mfa_user, clock, *, trust=True, code=None):
    token = login(api, mfa_user.email).json()["mfa_token"]
    r = api.post(reverse("mfa:mfa-login-verify"), {
        "mfa_token": token, "code": code or totp_now(mfa_user.secret, clock.now), "trust_device": trust,
    }, format="json", HTTP_USER_AGENT=AGENT)
    assert r.status_code == 200, r.content
    return r.json()


def device_login(api, email, device_token, password=PASSWORD):
    return api.post(reverse("mfa:auth-login"), {"email": email, "password": password, "device_token": device_token},
                    format="json")


@pytest.fixture
def webauthn_on(settings):
    settings.MFA = {**settings.MFA, "WEBAUTHN_RP_ID": "localhost", "WEBAUTHN_ORIGINS": ["http://localhost:8000"]}


def add_key(api, access, name="Blue key"):
    """Register a security key over the API from a session that has just given a second factor."""
    bearer(api, access)
    options = api.post(reverse("mfa:webauthn-register-options"), {}, format="json").json()
    r = api.post(reverse("mfa:webauthn-register-verify"), {
        "ceremony_id": options["ceremony_id"], "credential": SoftAuthenticator().create(options["publicKey"]),
        "name": name,
    }, format="json")
    api.credentials()
    assert r.status_code == 201, r.content
    return r.json()


@pytest.fixture
def totp_and_key(api, user_with_mfa, clock, webauthn_on):
    """``user_with_mfa`` with a security key too, added before any device is trusted."""
    add_key(api, mfa_login(api, user_with_mfa, clock)["access"])
    clock.advance(30)  # that login's TOTP step is used
    return user_with_mfa


def trust_revocations():
    return [e.details for e in SecurityEvent.objects.filter(type="trusted_devices_revoked")]


def test_trust_then_a_password_login_skips_the_code(api, user_with_mfa, clock):
    body = trusting_login(api, user_with_mfa, clock)
    token = body["device_token"]
    assert len(token) >= 43 and set(body) == {"access", "refresh", "device_token"}
    assert token not in str(list(TrustedDevice.objects.values()))  # only a keyed hash is stored
    r = device_login(api, user_with_mfa.email, token)
    assert r.status_code == 200 and r.json()["requires_mfa"] is False
    amr = claims(r.json()["access"])["amr"]
    assert amr == ["pwd", "tdev"] and "otp" not in amr and "mfa" not in amr
    # The password is still checked: a wrong one is refused and counted.
    r = device_login(api, user_with_mfa.email, token, password="wrong wrong wrong")
    assert r.status_code == 401
    assert SecurityEvent.objects.filter(type="login_failed").count() == 1
    assert SecurityEvent.objects.filter(type="device_trusted").count() == 1
    assert any("trusted" in m.subject for m in mail.outbox)


def test_without_the_flag_nothing_is_trusted(api, user_with_mfa, clock):
    body = trusting_login(api, user_with_mfa, clock, trust=False)
    assert "device_token" not in body and not TrustedDevice.objects.exists()


def test_trust_days_zero_ignores_the_flag(api, user_with_mfa, clock, settings):
    settings.MFA = {**settings.MFA, "TRUST_DAYS": 0}
    assert "device_token" not in trusting_login(api, user_with_mfa, clock)


def test_a_recovery_code_login_may_trust_too(api, user_with_mfa, clock):
    body = trusting_login(api, user_with_mfa, clock, code=user_with_mfa.recovery_codes[0])
    assert body["device_token"]


def test_another_users_password_with_the_token_still_needs_the_code(api, user_with_mfa, clock, make_user):
    from tests.helpers import enable_mfa

    token = trusting_login(api, user_with_mfa, clock)["device_token"]
    bob = enable_mfa(api, make_user("bob@example.com"), clock)
    r = device_login(api, bob.email, token)
    assert r.status_code == 200 and r.json()["requires_mfa"] is True


@pytest.mark.parametrize("token", ["", "x" * 43, "not a token", "A" * 300])
def test_a_wrong_token_is_ignored_silently(api, user_with_mfa, clock, token):
    trusting_login(api, user_with_mfa, clock)
    r = device_login(api, user_with_mfa.email, token)
    if len(token) > 256:  # longer than any token mfa makes
        assert r.status_code == 400  # a field error, never a 500
    else:
        assert r.status_code == 200 and r.json()["requires_mfa"] is True


def test_the_trust_expires(api, user_with_mfa, clock, settings):
    settings.MFA = {**settings.MFA, "TRUST_DAYS": 1}
    token = trusting_login(api, user_with_mfa, clock)["device_token"]
    clock.advance(86400 - 1)
    assert device_login(api, user_with_mfa.email, token).json()["requires_mfa"] is False
    clock.advance(2)
    assert device_login(api, user_with_mfa.email, token).json()["requires_mfa"] is True


def test_list_and_revoke_one_or_all(api, user_with_mfa, clock, make_user):
    first = trusting_login(api, user_with_mfa, clock)
    clock.advance(30)
    second = trusting_login(api, user_with_mfa, clock)
    bearer(api, second["access"])
    rows = api.get(reverse("mfa:trusted-devices-list")).json()
    assert [set(r) for r in rows] == [{"id", "name", "created_at", "last_used_at", "expires_at", "current"}] * 2
    assert [r["current"] for r in rows] == [True, False]
    assert rows[0]["name"] == "Chrome on Linux"
    # Another user's device is 404.
    other = make_user("other@example.com")
    bearer(api, login(api, other.email).json()["access"])
    assert api.delete(reverse("mfa:trusted-devices-detail", kwargs={"pk": rows[1]["id"]})).status_code == 404
    bearer(api, second["access"])
    assert api.delete(reverse("mfa:trusted-devices-detail", kwargs={"pk": rows[1]["id"]})).status_code == 204
    api.credentials()
    assert device_login(api, user_with_mfa.email, first["device_token"]).json()["requires_mfa"] is True
    assert device_login(api, user_with_mfa.email, second["device_token"]).json()["requires_mfa"] is False
    bearer(api, second["access"])
    assert api.delete(reverse("mfa:trusted-devices-list")).status_code == 204
    api.credentials()
    assert device_login(api, user_with_mfa.email, second["device_token"]).json()["requires_mfa"] is True


def test_at_most_ten_devices_the_oldest_goes(api, user_with_mfa, clock):
    tokens = []
    for _ in range(11):
        clock.advance(30)
        tokens.append(trusting_login(api, user_with_mfa, clock)["device_token"])
    assert TrustedDevice.objects.count() == 10
    assert device_login(api, user_with_mfa.email, tokens[0]).json()["requires_mfa"] is True
    assert device_login(api, user_with_mfa.email, tokens[-1]).json()["requires_mfa"] is False


def test_a_password_change_ends_the_trust(api, user_with_mfa, clock):
    body = trusting_login(api, user_with_mfa, clock)
    bearer(api, body["access"])
    r = api.post(reverse("mfa:password-change"),
                 {"current_password": PASSWORD, "new_password": "a fresh long passphrase"}, format="json")
    assert r.status_code == 204
    api.credentials()
    r = device_login(api, user_with_mfa.email, body["device_token"], password="a fresh long passphrase")
    assert r.json()["requires_mfa"] is True


def test_logout_all_ends_the_trust_but_logout_does_not(api, user_with_mfa, clock):
    body = trusting_login(api, user_with_mfa, clock)
    bearer(api, body["access"])
    assert api.post(reverse("mfa:auth-logout"), {}, format="json").status_code == 204
    api.credentials()
    again = device_login(api, user_with_mfa.email, body["device_token"]).json()
    assert again["requires_mfa"] is False
    bearer(api, again["access"])
    assert api.post(reverse("mfa:auth-logout-all"), {}, format="json").status_code == 204
    api.credentials()
    assert device_login(api, user_with_mfa.email, body["device_token"]).json()["requires_mfa"] is True


def test_a_factor_change_ends_the_trust(api, user_with_mfa, clock):
    body = trusting_login(api, user_with_mfa, clock)
    bearer(api, body["access"])  # this session gave a code just now: it may remove TOTP
    # Regenerating recovery codes does not end it.
    assert api.post(reverse("mfa:mfa-recovery-codes"), {}, format="json").status_code == 200
    api.credentials()
    assert device_login(api, user_with_mfa.email, body["device_token"]).json()["requires_mfa"] is False
    bearer(api, body["access"])
    r = api.post(reverse("mfa:mfa-disable"), {"password": PASSWORD}, format="json")
    assert r.status_code == 200
    assert not TrustedDevice.objects.exists()


def test_refresh_reuse_in_a_session_the_device_started_ends_the_trust(api, user_with_mfa, clock):
    body = trusting_login(api, user_with_mfa, clock)
    again = device_login(api, user_with_mfa.email, body["device_token"]).json()
    refresh = again["refresh"]
    assert api.post(reverse("mfa:auth-refresh"), {"refresh": refresh}, format="json").status_code == 200
    assert api.post(reverse("mfa:auth-refresh"), {"refresh": refresh}, format="json").status_code == 401
    assert not TrustedDevice.objects.exists()
    (event,) = SecurityEvent.objects.filter(type="trusted_devices_revoked")
    assert event.user_id == user_with_mfa.user.pk and event.details == {"count": 1, "reason": "refresh_reuse"}
    assert device_login(api, user_with_mfa.email, body["device_token"]).json()["requires_mfa"] is True


def test_a_trusted_device_session_passes_is_mfa_complete_but_never_step_up(api, user_with_mfa, clock, settings):
    token = trusting_login(api, user_with_mfa, clock)["device_token"]
    access = device_login(api, user_with_mfa.email, token).json()["access"]
    bearer(api, access)
    assert api.get("/host/mfa-complete").status_code == 200
    r = api.get("/host/step-up")
    assert r.status_code == 403 and r.json()["code"] == "reauthentication_required"
    clock.advance(30)
    r = api.post(reverse("mfa:auth-reauthenticate"), {"code": totp_now(user_with_mfa.secret, clock.now)},
                 format="json")
    reauthed = r.json()["access"]
    bearer(api, reauthed)
    assert api.get("/host/step-up").status_code == 200
    settings.MFA = {**settings.MFA, "TRUSTED_DEVICE_COMPLETES_MFA": False}
    assert api.get("/host/mfa-complete").status_code == 200  # this token carries the code (otp)
    fresh = device_login(api, user_with_mfa.email, token).json()["access"]
    bearer(api, fresh)
    assert api.get("/host/mfa-complete").status_code == 403


def test_adding_a_factor_ends_the_trust(api, user_with_mfa, clock, webauthn_on):
    body = trusting_login(api, user_with_mfa, clock)
    add_key(api, body["access"])  # this session gave a code just now: it may add a key
    assert not TrustedDevice.objects.exists()  # forgotten (flows.factor_added), not just stale
    assert trust_revocations() == [{"count": 1, "reason": "factors_changed"}]
    assert device_login(api, user_with_mfa.email, body["device_token"]).json()["requires_mfa"] is True


def test_removing_one_of_two_factors_ends_the_trust(api, totp_and_key, clock):
    body = trusting_login(api, totp_and_key, clock)
    assert TrustedDevice.objects.count() == 1
    bearer(api, body["access"])
    assert api.delete(reverse("mfa:mfa-totp")).status_code == 204  # the key remains: MFA stays on
    api.credentials()
    assert WebAuthnCredential.objects.filter(user=totp_and_key.user).exists()
    assert not TrustedDevice.objects.exists()  # forgotten (flows.factor_removed), not just stale
    assert trust_revocations() == [{"count": 1, "reason": "factors_changed"}]
    r = device_login(api, totp_and_key.email, body["device_token"]).json()
    assert r["requires_mfa"] is True and r["methods"] == ["webauthn", "recovery_code"]


def test_a_password_set_without_the_use_case_still_ends_the_trust(api, user_with_mfa, clock):
    """The device is bound to the password it was trusted with: a password set by other code
    (set_password and save, which forgets no device) makes the token stale."""
    token = trusting_login(api, user_with_mfa, clock)["device_token"]
    user_with_mfa.user.set_password("a password set elsewhere")
    user_with_mfa.user.save()
    assert TrustedDevice.objects.count() == 1 and trust_revocations() == []
    r = device_login(api, user_with_mfa.email, token, password="a password set elsewhere")
    assert r.status_code == 200 and r.json()["requires_mfa"] is True


def test_a_factor_set_changed_without_the_use_case_still_ends_the_trust(api, totp_and_key, clock):
    """The device is bound to the set of factors it was trusted with: a key deleted by other code
    (no flows.factor_removed, so no device forgotten) makes the token stale."""
    token = trusting_login(api, totp_and_key, clock)["device_token"]
    WebAuthnCredential.objects.filter(user=totp_and_key.user).delete()
    assert TOTPDevice.objects.filter(user=totp_and_key.user, confirmed=True).exists()
    assert TrustedDevice.objects.count() == 1 and trust_revocations() == []
    assert device_login(api, totp_and_key.email, token).json()["requires_mfa"] is True
