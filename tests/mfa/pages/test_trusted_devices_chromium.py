"""Trusted devices in a real browser (issue 14): headless Chromium (Playwright) on the live server.
Trust the browser at the challenge, sign out, sign in again without a code; a second person on that
browser still gets the challenge. Also with a security key (a CDP virtual authenticator), where the
page's script sends the box's state. Codes come from pyotp, as an authenticator app computes them."""

from __future__ import annotations

from urllib.parse import urlsplit

import pyotp
import pytest
from django.urls import reverse
from django.utils import timezone

from tests.mfa.pages.helpers import enable_mfa_now, password_step, require_browser

require_browser()

from playwright.sync_api import Page, expect  # noqa: E402 - only once playwright is known to exist

from mfa.models import AuthSession, TrustedDevice  # noqa: E402

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

CODE_LABEL = "Code from your authenticator app, or a recovery code"


def expect_challenge(page: Page) -> None:
    expect(page.get_by_role("heading", name="Two-factor authentication")).to_be_visible()
    assert urlsplit(page.url).path == reverse("mfa_pages:challenge")


def expect_signed_in(page: Page, email: str) -> None:
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    expect(page.get_by_text(email)).to_be_visible()


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)


def trust_cookie(page: Page) -> dict:
    (cookie,) = [c for c in page.context.cookies() if c["name"] in ("mfa_trust", "__Host-mfa_trust")]
    return cookie


def test_trust_the_browser_then_sign_in_without_a_code_and_a_second_user_is_still_asked(
    page, site, make_user
):
    alice, bob = make_user("alice@example.com"), make_user("bob@example.com")
    alice_secret, bob_secret = enable_mfa_now(alice), enable_mfa_now(bob)

    password_step(page, site, alice.email)
    expect_challenge(page)
    page.get_by_label(CODE_LABEL).fill(pyotp.TOTP(alice_secret).now())
    page.get_by_label("Trust this browser for 30 days").check()
    page.get_by_role("button", name="Verify").click()
    expect_signed_in(page, alice.email)
    cookie = trust_cookie(page)
    # Over plain http://localhost the browser takes no Secure cookie: the plain name (DEBUG-like).
    assert cookie["name"] == "mfa_trust" and cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert cookie["path"] == "/" and 29 < (cookie["expires"] - timezone.now().timestamp()) / 86400 <= 30
    assert page.evaluate("document.cookie").find("mfa_trust") == -1  # HttpOnly: no script sees it

    sign_out(page)  # signing out does not forget trust
    password_step(page, site, alice.email)
    expect_signed_in(page, alice.email)  # no code asked
    row = AuthSession.objects.filter(user=alice, revoked_at=None).order_by("-created_at").first()
    assert row.amr_list == ["pwd", "tdev"] and row.trusted_device_id == TrustedDevice.objects.get(user=alice).pk

    page.get_by_role("link", name="Trusted devices").click()
    expect(page.get_by_role("heading", name="Trusted devices")).to_be_visible()
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody tr")).to_contain_text("Chrome on Linux (this browser)")

    # Bob, on the browser that trusts Alice, still meets the challenge.
    sign_out(page)
    password_step(page, site, bob.email)
    expect_challenge(page)
    page.get_by_label(CODE_LABEL).fill(pyotp.TOTP(bob_secret).now())
    page.get_by_role("button", name="Verify").click()
    expect_signed_in(page, bob.email)
    assert not TrustedDevice.objects.filter(user=bob).exists()

    # And Alice still skips it.
    sign_out(page)
    password_step(page, site, alice.email)
    expect_signed_in(page, alice.email)


def test_trust_with_a_security_key_at_the_challenge_then_sign_out_everywhere(page, site, make_user):
    user = make_user("keys@example.com")
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {"protocol": "u2f", "transport": "usb"}})
    password_step(page, site, user.email)
    page.goto(site + reverse("mfa_pages:keys"))
    page.get_by_label("Name of the new key").fill("Blue key")
    page.get_by_role("button", name="Add a security key").click()
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    page.get_by_role("link", name="I have saved them, continue").click()

    sign_out(page)
    password_step(page, site, user.email)
    expect_challenge(page)
    page.get_by_label("Trust this browser for 30 days").check()
    page.get_by_role("button", name="Use a security key").click()
    expect_signed_in(page, user.email)
    assert trust_cookie(page)["httpOnly"]

    sign_out(page)
    password_step(page, site, user.email)
    expect_signed_in(page, user.email)  # no key asked

    page.goto(site + reverse("mfa_pages:sessions"))
    page.get_by_role("button", name="Sign out everywhere").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert not TrustedDevice.objects.exists()
    password_step(page, site, user.email)
    expect_challenge(page)
