"""A new user's whole journey through the pages in real Chromium, at a phone's width (360 px) and
a laptop's (1280 px): sign up, sign out and in, enrol with a code computed from the page's key,
save the recovery codes, sign in with a code (a wrong one first), the sessions page naming this
browser "Chrome on Linux", the password change, and a forgotten password through to the challenge.

On every page: axe-core (the ``axe.min.js`` bundled by axe-playwright-python) finds no serious or
critical violation, nothing scrolls sideways, the page has a title and a ``lang``, and a
screenshot is saved under ``var/screenshots/<width>/`` (the CI artifact folder README names).
Codes come from pyotp, as an authenticator app computes them.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from urllib.parse import urlsplit

import pyotp
import pytest

from tests.helpers import PASSWORD, reset_link, wait_for_background
from tests.mfa.pages.helpers import require_browser

require_browser()
axe_module = pytest.importorskip(
    "axe_playwright_python.sync_playwright", reason="pip install -r requirements-dev.txt"
)

from playwright.sync_api import Page, expect  # noqa: E402 - only once playwright is known to exist

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[3]
SCREENSHOTS = ROOT / "var" / "screenshots"
NEW_PASSWORD = "another quite long passphrase"
BLOCKING = {"serious", "critical"}


class Visit:
    """Checks every page the journey reaches and numbers its screenshots in order."""

    def __init__(self, page: Page, width: int) -> None:
        self.page, self.width, self.count = page, width, 0
        self.folder = SCREENSHOTS / str(width)
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.glob("*.png"):
            old.unlink()
        self.axe = axe_module.Axe()

    def check(self, name: str) -> None:
        page = self.page
        page.wait_for_load_state("load")
        self.count += 1
        page.screenshot(path=self.folder / f"{self.count:02d}-{name}.png", full_page=True)
        results = self.axe.run(page)
        blocking = [
            f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
            for v in results.response["violations"] if v.get("impact") in BLOCKING
        ]
        assert not blocking, f"{name} at {self.width} px: " + "; ".join(blocking)
        sideways = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert sideways <= 0, f"{name} at {self.width} px scrolls sideways by {sideways} px"
        assert page.title().strip(), f"{name} has no title"
        assert page.locator("html").get_attribute("lang"), f"{name} has no lang"


def fill_code(page: Page, code: str, button: str) -> None:
    page.locator("input[name=code]").fill(code)
    page.get_by_role("button", name=button, exact=True).click()


def sign_in(page: Page, email: str, password: str) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()


def sign_out(page: Page) -> None:
    page.locator("header").get_by_role("button", name="Sign out").click()


@pytest.mark.parametrize("width", [360, 1280])
def test_a_new_user_walks_every_page_and_each_passes_axe(chromium, live_server, mailoutbox, settings, width):
    settings.LOGOUT_REDIRECT_URL = None  # authsite sends people to the sign-in page; show "Signed out"
    context = chromium.new_context(
        base_url=live_server.url, viewport={"width": width, "height": 800}, accept_downloads=True
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    visit = Visit(page, width)
    email = f"journey{width}@example.com"
    try:
        # Sign up (a mismatch first: the error sits next to its field and is announced).
        page.goto("/account/signup/")
        visit.check("signup")
        page.locator("input[name=email]").fill(email)
        page.locator("input[name=password1]").fill(PASSWORD)
        page.locator("input[name=password2]").fill(PASSWORD + "x")
        page.get_by_role("button", name="Create account").click()
        error = page.locator("#id_password2-errors[role=alert]")
        expect(error).to_be_visible()
        assert "id_password2-errors" in page.locator("#id_password2").get_attribute("aria-describedby")
        visit.check("signup-error")
        page.locator("input[name=password1]").fill(PASSWORD)
        page.locator("input[name=password2]").fill(PASSWORD)
        page.get_by_role("button", name="Create account").click()
        expect(page.get_by_role("heading", name="Your account")).to_be_visible()
        visit.check("account-home")

        # Sign out, sign in with the password.
        sign_out(page)
        expect(page.get_by_role("heading", name="Signed out")).to_be_visible()
        visit.check("signed-out")
        page.goto("/account/login/")
        assert page.locator("header").get_by_role("button", name="Sign out").count() == 0
        visit.check("login")
        sign_in(page, email, PASSWORD)
        expect(page.get_by_role("heading", name="Your account")).to_be_visible()

        # Enrol with a code computed from the key the page shows; then the recovery codes.
        page.get_by_role("link", name="Set up an authenticator app").first.click()
        visit.check("enrol")
        totp = pyotp.TOTP(page.locator("#secret").get_attribute("data-secret"))
        fill_code(page, "12345", "Turn on")
        expect(page.locator("[role=alert]").first).to_be_visible()
        assert page.locator("input[name=code]").input_value() == ""
        visit.check("enrol-error")
        fill_code(page, totp.now(), "Turn on")
        expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
        assert page.locator("#recovery-codes li").count() == 10
        visit.check("recovery-codes")
        with page.expect_download() as download:
            page.get_by_role("link", name="Download as a text file").click()
        codes = Path(download.value.path()).read_text()
        assert page.locator("#recovery-codes li").first.inner_text() in codes
        page.get_by_role("link", name="I have saved them, continue").click()
        visit.check("account-home-mfa")
        page.goto("/account/keys/")
        visit.check("security-keys")
        page.goto("/account/trusted-devices/")
        visit.check("trusted-devices")

        # Sign out, sign in with the next code (the enrolment used this step's).
        sign_out(page)
        page.goto("/account/login/")
        sign_in(page, email, PASSWORD)
        expect(page).to_have_url(re.compile(r"/account/challenge/"))
        visit.check("challenge")
        fill_code(page, "000000", "Verify")
        expect(page.locator("#id_code-errors[role=alert]")).to_be_visible()
        assert page.locator("input[name=code]").input_value() == ""  # no secret left in the field
        visit.check("challenge-error")
        fill_code(page, totp.at(time.time() + 30), "Verify")
        expect(page.get_by_role("heading", name="Your account")).to_be_visible()

        # Sessions: this browser by name, marked, with the time's zone and how long ago.
        page.goto("/account/sessions/")
        table = page.locator("#sessions")
        expect(table).to_contain_text("Chrome on Linux")
        expect(table).to_contain_text("this device")
        expect(table).to_contain_text("UTC")
        expect(table).to_contain_text(re.compile(r"just now|minute"))
        visit.check("sessions")

        # Change the password.
        page.goto("/account/password/change/")
        visit.check("password-change")
        page.locator("input[name=current_password]").fill(PASSWORD)
        page.locator("input[name=new_password1]").fill(NEW_PASSWORD)
        page.locator("input[name=new_password2]").fill(NEW_PASSWORD)
        page.get_by_role("button", name="Change password").click()
        expect(page.locator(".messages")).to_be_visible()

        # Forgotten password, through to the challenge.
        sign_out(page)
        page.goto("/account/login/")
        page.get_by_role("link", name="Forgot your password?").click()
        visit.check("password-reset")
        page.get_by_label("Email").fill(email)
        page.get_by_role("button", name="Send the link").click()
        expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
        visit.check("password-reset-done")
        wait_for_background()
        message = next(m for m in reversed(mailoutbox) if email in m.to)
        url, _uid, _token = reset_link(message.body)
        page.goto(urlsplit(url).path)
        visit.check("password-reset-confirm")
        page.locator("input[name=new_password1]").fill(PASSWORD)
        page.locator("input[name=new_password2]").fill(PASSWORD)
        page.get_by_role("button", name="Set the new password").click()
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        sign_in(page, email, PASSWORD)
        expect(page).to_have_url(re.compile(r"/account/challenge/"))
        expect(page.get_by_role("heading", name="Two-factor authentication")).to_be_visible()
        page.goto("/account/password/reset/bad/link/")
        visit.check("password-reset-invalid")
    finally:
        context.close()
