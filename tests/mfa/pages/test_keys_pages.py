"""Security keys and passkeys on the browser pages (test client): the keys page, its JSON
endpoints, a key at the challenge, "Sign in with a passkey", driven by the software authenticator."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client
from django.urls import reverse

from mfa.models import AuthSession, WebAuthnCeremony, WebAuthnCredential
from tests.helpers import PASSWORD
from tests.mfa.helpers import account_of
from tests.webauthn_authenticator import SoftAuthenticator

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("webauthn_on")]

ORIGIN = "http://localhost:8000"  # the soft authenticator's origin; py_webauthn compares it exactly


@pytest.fixture
def passkey_login_on(settings):
    settings.MFA = {**settings.MFA, "PASSKEY_LOGIN": True}


def post_json(browser: Client, name: str, body: dict | None = None):
    return browser.post(reverse(f"mfa_pages:{name}"), json.dumps(body or {}), content_type="application/json")


def password_step(browser: Client, email: str, follow: bool = False):
    return browser.post(
        reverse("mfa_pages:login"), {"username": email, "password": PASSWORD}, follow=follow
    )


def signed_in(email: str) -> Client:
    browser = Client()
    assert password_step(browser, email).status_code == 302
    return browser


def add_key(browser: Client, device: SoftAuthenticator, *, passkey: bool = False, name: str = "Blue key"):
    r = post_json(browser, "key_register_options", {"passkey": passkey})
    assert r.status_code == 200, r.content
    options = r.json()
    credential = device.create(options["publicKey"])
    return post_json(browser, "key_register_verify",
                     {"ceremony_id": options["ceremony_id"], "credential": credential, "name": name})


def key_at_challenge(browser: Client, device: SoftAuthenticator, next_url: str = ""):
    r = post_json(browser, "challenge_key_options")
    assert r.status_code == 200, r.content
    options = r.json()
    return post_json(browser, "challenge_key_verify", {
        "ceremony_id": options["ceremony_id"], "credential": device.get(options["publicKey"]), "next": next_url,
    })


@pytest.fixture
def keyed(user, clock):
    """``user`` whose first factor is a security key added on the keys page."""
    device = SoftAuthenticator(resident=False)
    browser = signed_in(user.email)
    assert add_key(browser, device).status_code == 201
    return user, device, browser


def key_signed_in(user, device) -> Client:
    browser = Client()
    password_step(browser, user.email)
    assert key_at_challenge(browser, device).status_code == 200
    return browser


# --- Adding keys -------------------------------------------------------------------------------------


def test_the_first_key_shows_the_recovery_codes_once_and_is_listed(user, clock):
    browser = signed_in(user.email)
    page = browser.get(reverse("mfa_pages:keys")).content.decode()
    assert "Add a security key" in page and "Add a passkey" in page and "No security keys yet." in page
    assert "mfa/webauthn.js" in page

    r = add_key(browser, SoftAuthenticator(resident=False), name="Blue key")
    assert r.status_code == 201 and r.json() == {"redirect": reverse("mfa_pages:new_codes")}
    r = browser.get(reverse("mfa_pages:new_codes"))
    assert r.status_code == 200 and "no-store" in r["Cache-Control"]
    assert r.content.decode().count("<li>") >= 10 and account_of(user).recovery_codes_left == 10
    assert browser.get(reverse("mfa_pages:new_codes")).status_code == 302  # shown once

    page = browser.get(reverse("mfa_pages:keys")).content.decode()
    assert "Blue key" in page and "Security key" in page and "never" in page
    assert browser.get(reverse("mfa_pages:home")).status_code == 200  # this browser stayed signed in


def test_a_second_key_needs_a_recent_second_factor_with_a_clear_json_error(keyed, clock):
    user, device, enrolled = keyed
    r = post_json(enrolled, "key_register_options", {"passkey": True})
    assert r.status_code == 403 and r.json()["code"] == "reauthentication_required"
    assert "sign in again" in r.json()["detail"]

    browser = key_signed_in(user, device)
    r = add_key(browser, SoftAuthenticator(), passkey=True, name="Phone")
    assert r.status_code == 201 and r.json() == {"redirect": reverse("mfa_pages:keys")}
    assert WebAuthnCredential.objects.get(name="Phone").passkey is True
    assert account_of(user).recovery_codes_left == 10  # the codes stay


def test_registration_refusals_answer_json(user, clock):
    browser = signed_in(user.email)
    r = post_json(browser, "key_register_options")
    options = r.json()
    wrong = SoftAuthenticator(origin="http://evil.localhost:8000")
    r = post_json(browser, "key_register_verify", {
        "ceremony_id": options["ceremony_id"], "credential": wrong.create(options["publicKey"]), "name": "x",
    })
    assert r.status_code == 400 and r.json()["code"] == "invalid_credential" and r.json()["detail"]
    r = browser.post(reverse("mfa_pages:key_register_verify"), "not json", content_type="application/json")
    assert r.status_code == 400 and r.json()["code"] == "invalid_request"
    assert browser.get(reverse("mfa_pages:key_register_options")).status_code == 405
    assert not WebAuthnCredential.objects.exists()


def test_json_endpoints_need_a_signed_in_browser_and_the_csrf_token(user, clock):
    r = post_json(Client(), "key_register_options")
    assert r.status_code == 401 and r.json()["code"] == "not_authenticated"
    browser = Client(enforce_csrf_checks=True)
    assert password_step(browser, user.email).status_code == 403  # no token: refused, as every form
    browser = signed_in(user.email)
    browser.handler.enforce_csrf_checks = True
    assert post_json(browser, "key_register_options").status_code == 403
    token = browser.cookies["csrftoken"].value
    r = browser.post(reverse("mfa_pages:key_register_options"), "{}", content_type="application/json",
                     headers={"X-CSRFToken": token})
    assert r.status_code == 200


# --- The challenge --------------------------------------------------------------------------------


def test_a_key_at_the_challenge_completes_the_browser_login(keyed, clock):
    user, device, _ = keyed
    browser = Client()
    r = password_step(browser, user.email)
    assert r.status_code == 302
    page = browser.get(reverse("mfa_pages:challenge")).content.decode()
    assert "Use a security key" in page
    assert browser.get(reverse("mfa_pages:home")).status_code == 302  # still pending
    r = key_at_challenge(browser, device, next_url=reverse("mfa_pages:sessions"))
    assert r.status_code == 200 and r.json() == {"redirect": reverse("mfa_pages:sessions")}
    assert browser.get(reverse("mfa_pages:home")).status_code == 200
    row = AuthSession.objects.get(pk=browser.session["mfa.sid"])
    assert row.amr_list == ["pwd", "hwk", "pin", "mfa"]
    assert WebAuthnCredential.objects.get().last_used_at is not None


def test_the_challenge_ceremony_is_bound_to_this_pending_login(keyed, clock):
    user, device, _ = keyed
    first, second = Client(), Client()
    password_step(first, user.email)
    password_step(second, user.email)
    options = post_json(first, "challenge_key_options").json()
    r = post_json(second, "challenge_key_verify",
                  {"ceremony_id": options["ceremony_id"], "credential": device.get(options["publicKey"])})
    assert r.status_code == 401 and r.json()["code"] == "invalid_credential"
    assert WebAuthnCeremony.objects.get(pk=options["ceremony_id"]).used_at is not None  # spent
    assert second.get(reverse("mfa_pages:home")).status_code == 302
    # A new password step starts a new binding: the old pending login's ceremony is refused too.
    options = post_json(first, "challenge_key_options").json()
    first.post(reverse("mfa_pages:logout"))  # "Cancel sign-in"
    password_step(first, user.email)
    r = post_json(first, "challenge_key_verify",
                  {"ceremony_id": options["ceremony_id"], "credential": device.get(options["publicKey"])})
    assert r.status_code == 401


def test_challenge_endpoints_without_a_pending_login_answer_401_json(keyed, clock):
    r = post_json(Client(), "challenge_key_options")
    assert r.status_code == 401 and r.json()["code"] == "no_pending_login"


def test_a_totp_only_user_gets_no_key_button(user_with_mfa, clock):
    browser = Client()
    password_step(browser, user_with_mfa.user.email)
    assert "Use a security key" not in browser.get(reverse("mfa_pages:challenge")).content.decode()
    r = post_json(browser, "challenge_key_options")
    assert r.status_code == 400 and r.json()["code"] == "mfa_not_enabled"
    r = post_json(browser, "challenge_key_verify", {"ceremony_id": "x", "credential": {}})
    assert r.status_code == 400 and r.json()["code"] == "mfa_not_enabled"


# --- Rename, remove, confirm ------------------------------------------------------------------------


def test_rename_a_key(keyed):
    _user, _device, browser = keyed
    key = WebAuthnCredential.objects.get()
    r = browser.post(reverse("mfa_pages:key_rename", args=[key.pk]), {f"{key.pk}-name": " Red key "}, follow=True)
    assert "Red key" in r.content.decode()
    key.refresh_from_db()
    assert key.name == "Red key"
    r = browser.post(reverse("mfa_pages:key_rename", args=["nope"]), {"nope-name": "x"}, follow=True)
    assert "not found" in r.content.decode()


def test_remove_needs_a_recent_second_factor_then_confirm_with_the_key(keyed, clock):
    user, device, browser = keyed
    key = WebAuthnCredential.objects.get()
    page = browser.get(reverse("mfa_pages:keys")).content.decode()
    assert "Confirm with a security key" in page
    r = browser.post(reverse("mfa_pages:key_remove", args=[key.pk]), follow=True)
    assert "sign out and sign in again" in r.content.decode()
    assert WebAuthnCredential.objects.filter(pk=key.pk).exists()

    options = post_json(browser, "key_confirm_options").json()
    r = post_json(browser, "key_confirm_verify",
                  {"ceremony_id": options["ceremony_id"], "credential": device.get(options["publicKey"])})
    assert r.status_code == 200 and r.json() == {"redirect": reverse("mfa_pages:keys")}
    assert "Confirm it is you" not in browser.get(reverse("mfa_pages:keys")).content.decode()
    r = browser.post(reverse("mfa_pages:key_remove", args=[key.pk]), follow=True)
    assert "two-factor authentication is off" in r.content.decode()
    assert not WebAuthnCredential.objects.exists()

    # Five minutes after a key login, the confirmation is needed again.
    assert add_key(browser, device).status_code == 201
    browser = key_signed_in(user, device)
    clock.advance(301)
    r = browser.post(reverse("mfa_pages:key_remove", args=[WebAuthnCredential.objects.get().pk]), follow=True)
    assert "sign out and sign in again" in r.content.decode()


def test_confirm_with_a_recovery_code_then_remove(keyed, clock):
    user, _device, browser = keyed
    page = browser.get(reverse("mfa_pages:new_codes")).content.decode()
    codes = re.findall(r"<li>([^<]+)</li>", page)
    assert len(codes) == 10
    r = browser.post(reverse("mfa_pages:key_confirm_code"), {"code": "000000"}, follow=True)
    assert "Invalid code." in r.content.decode()
    assert account_of(user).failure_count == 1
    r = browser.post(reverse("mfa_pages:key_confirm_code"), {"code": codes[0]}, follow=True)
    assert "Confirmed." in r.content.decode()
    key = WebAuthnCredential.objects.get()
    browser.post(reverse("mfa_pages:key_remove", args=[key.pk]))
    assert not WebAuthnCredential.objects.exists()


# --- Passkey login ---------------------------------------------------------------------------------


def test_sign_in_with_a_passkey_alone(user, clock, passkey_login_on):
    device = SoftAuthenticator()
    browser = signed_in(user.email)
    assert add_key(browser, device, passkey=True, name="Phone").status_code == 201

    fresh = Client()
    page = fresh.get(reverse("mfa_pages:login")).content.decode()
    assert "Sign in with a passkey" in page
    options = post_json(fresh, "passkey_options").json()
    assert options["publicKey"]["allowCredentials"] == [] and options["publicKey"]["userVerification"] == "required"
    r = post_json(fresh, "passkey_verify", {"ceremony_id": options["ceremony_id"],
                                            "credential": device.get(options["publicKey"])})
    assert r.status_code == 200 and r.json() == {"redirect": reverse("mfa_pages:home")}
    assert fresh.get(reverse("mfa_pages:home")).status_code == 200
    row = AuthSession.objects.get(pk=fresh.session["mfa.sid"])
    assert row.amr_list == ["hwk", "pin", "mfa"]


def test_passkey_login_refuses_an_answer_without_user_verification(user, clock, passkey_login_on):
    device = SoftAuthenticator()
    assert add_key(signed_in(user.email), device, passkey=True).status_code == 201
    device.uv = False
    fresh = Client()
    options = post_json(fresh, "passkey_options").json()
    r = post_json(fresh, "passkey_verify", {"ceremony_id": options["ceremony_id"],
                                            "credential": device.get(options["publicKey"])})
    assert r.status_code == 401 and r.json()["code"] == "invalid_credential"
    assert fresh.get(reverse("mfa_pages:home")).status_code == 302


def test_passkey_login_off_hides_the_button_and_answers_404(user, clock):
    assert "Sign in with a passkey" not in Client().get(reverse("mfa_pages:login")).content.decode()
    r = post_json(Client(), "passkey_options")
    assert r.status_code == 404 and r.json()["code"] == "passkey_login_disabled"


def test_keys_off_when_webauthn_is_not_configured(user, clock, settings):
    settings.DEBUG = False
    settings.MFA = {**settings.MFA, "WEBAUTHN_ORIGINS": None}
    browser = signed_in(user.email)
    page = browser.get(reverse("mfa_pages:keys")).content.decode()
    assert "not available on this site" in page and "Add a security key" not in page
    r = post_json(browser, "key_register_options")
    assert r.status_code == 503 and r.json()["code"] == "webauthn_not_configured"


def test_the_account_page_links_to_the_keys_page(keyed):
    _user, _device, browser = keyed
    page = browser.get(reverse("mfa_pages:home")).content.decode()
    assert reverse("mfa_pages:keys") in page and "On with security keys" in page
