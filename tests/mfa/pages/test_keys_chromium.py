"""Security keys and passkeys in a real browser: headless Chromium (Playwright) with a CDP virtual
authenticator, on the pages served by the live server at http://localhost:PORT (an IP address is
not a valid RP ID). The page's own script (mfa/static/mfa/webauthn.js) runs the ceremonies."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.urls import reverse

from tests.mfa.pages.helpers import password_step, require_browser

require_browser()

from playwright.sync_api import Page, expect  # noqa: E402 - only once playwright is known to exist

from mfa.models import AuthSession, WebAuthnCredential  # noqa: E402

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SECURITY_KEY = {"protocol": "u2f", "transport": "usb"}
PASSKEY = {
    "protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
    "isUserVerified": True,
}


def add_authenticator(page: Page, options: dict) -> tuple[object, str]:
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})
    return cdp, added["authenticatorId"]


def add_key_on_the_page(page: Page, site: str, button: str, name: str) -> None:
    page.goto(site + reverse("mfa_pages:keys"))
    page.get_by_label("Name of the new key").fill(name)
    page.get_by_role("button", name=button).click()


def test_register_a_security_key_then_sign_in_with_it_at_the_challenge(page, site, make_user):
    user = make_user("keys@example.com")
    cdp, authenticator = add_authenticator(page, SECURITY_KEY)
    password_step(page, site, user.email)
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    page.get_by_role("link", name="Security keys").click()
    expect(page.get_by_role("heading", name="Security keys")).to_be_visible()

    add_key_on_the_page(page, site, "Add a security key", "Blue key")
    # The first factor: the recovery codes page, then the list shows the key.
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    assert len(page.locator("#recovery-codes li").all_inner_texts()) == 10
    page.get_by_role("link", name="I have saved them, continue").click()
    row = page.locator("#keys tbody tr", has_text="Blue key")
    expect(row).to_contain_text("Security key")
    key = WebAuthnCredential.objects.get(user=user)
    assert key.name == "Blue key" and key.passkey is False
    assert len(cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]) == 1

    page.get_by_role("button", name="Sign out").click()
    password_step(page, site, user.email)
    expect(page.get_by_role("heading", name="Two-factor authentication")).to_be_visible()
    page.get_by_role("button", name="Use a security key").click()
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    assert urlsplit(page.url).path == reverse("mfa_pages:home")
    session = AuthSession.objects.filter(user=user, revoked_at=None).order_by("-created_at").first()
    assert session.amr_list[:2] == ["pwd", "hwk"] and "mfa" in session.amr_list
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_register_a_passkey_then_sign_in_with_it_alone(page, site, make_user, settings):
    settings.MFA = {**settings.MFA, "PASSKEY_LOGIN": True}
    user = make_user("passkey@example.com")
    add_authenticator(page, PASSKEY)
    password_step(page, site, user.email)
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    add_key_on_the_page(page, site, "Add a passkey", "Laptop")
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    key = WebAuthnCredential.objects.get(user=user)
    assert key.passkey is True

    page.get_by_role("button", name="Sign out").click()
    page.goto(site + reverse("mfa_pages:login"))
    page.get_by_role("button", name="Sign in with a passkey").click()  # no email, no password
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    expect(page.get_by_text(user.email)).to_be_visible()
    session = AuthSession.objects.filter(user=user, revoked_at=None).order_by("-created_at").first()
    assert session.amr_list == ["hwk", "pin", "mfa"]


def test_the_buttons_say_so_when_the_browser_has_no_webauthn(page, site, make_user):
    user = make_user("old@example.com")
    page.add_init_script("delete window.PublicKeyCredential;")
    password_step(page, site, user.email)
    page.goto(site + reverse("mfa_pages:keys"))
    expect(page.locator("#webauthn-status")).to_contain_text("cannot use security keys")
    expect(page.get_by_role("button", name="Add a security key")).to_be_disabled()


def test_the_fallback_without_the_json_helpers_still_registers_a_key(page, site, make_user):
    user = make_user("fallback@example.com")
    add_authenticator(page, SECURITY_KEY)
    page.add_init_script(
        "delete PublicKeyCredential.parseCreationOptionsFromJSON;"
        "delete PublicKeyCredential.parseRequestOptionsFromJSON;"
        "delete PublicKeyCredential.prototype.toJSON;"
    )
    password_step(page, site, user.email)
    helpers = page.evaluate(
        "[typeof PublicKeyCredential.parseCreationOptionsFromJSON,"
        " typeof PublicKeyCredential.parseRequestOptionsFromJSON, typeof PublicKeyCredential.prototype.toJSON]"
    )
    assert helpers == ["undefined", "undefined", "undefined"]  # the script's own base64url code runs
    add_key_on_the_page(page, site, "Add a security key", "Old browser key")
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    password_step(page, site, user.email)
    page.get_by_role("button", name="Use a security key").click()
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    assert WebAuthnCredential.objects.get(user=user).name == "Old browser key"
