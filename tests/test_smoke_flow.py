"""The whole mission flow over HTTP: register, login, enrol, MFA login with TOTP and recovery."""

import pytest
from django.urls import reverse

from tests.helpers import PASSWORD, bearer, login, totp_now

pytestmark = pytest.mark.django_db(transaction=True)


def test_register_login_enrol_and_mfa_login(api, clock):
    r = api.post(reverse("register"), {"email": "Bob@Example.com", "password": PASSWORD}, format="json")
    assert r.status_code == 201, r.content
    assert r.json()["email"] == "bob@example.com" and r.json()["mfa_enabled"] is False

    r = login(api, "bob@example.com")
    assert r.status_code == 200 and r.json()["requires_mfa"] is False
    bearer(api, r.json()["access"])
    assert api.get(reverse("mfa:auth-me")).json()["mfa_enabled"] is False

    setup = api.post(reverse("mfa:mfa-setup"), {}, format="json").json()
    r = api.post(reverse("mfa:mfa-verify"), {"code": totp_now(setup["secret"], clock.now)}, format="json")
    assert r.status_code == 200, r.content
    codes = r.json()["recovery_codes"]
    assert len(codes) == 10
    api.credentials()

    clock.advance(30)
    r = login(api, "bob@example.com")
    body = r.json()
    assert body["requires_mfa"] is True and body["methods"] == ["totp", "recovery_code"]
    assert "access" not in body
    r = api.post(
        reverse("mfa:mfa-login-verify"),
        {"mfa_token": body["mfa_token"], "code": totp_now(setup["secret"], clock.now)},
        format="json",
    )
    assert r.status_code == 200, r.content
    bearer(api, r.json()["access"])
    me = api.get(reverse("mfa:auth-me")).json()
    assert me["mfa_enabled"] is True and me["recovery_codes_left"] == 10
    api.credentials()

    body = login(api, "bob@example.com").json()
    r = api.post(
        reverse("mfa:mfa-login-verify"), {"mfa_token": body["mfa_token"], "code": codes[0].lower()},
        format="json",
    )
    assert r.status_code == 200, r.content
    bearer(api, r.json()["access"])
    assert api.get(reverse("mfa:auth-me")).json()["recovery_codes_left"] == 9
