"""The browser pages and the Django admin in a real browser: headless Chromium, Playwright.

Enrolment with a QR code read back by zbar, the admin login with a TOTP code, a half-authenticated
session kept out of the admin, and the admin's "Reset MFA" action. Codes come from pyotp, as an
authenticator app computes them, never from mfa.totp.
"""

from __future__ import annotations

import re
import subprocess
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from django.urls import reverse
from django.utils import timezone

from tests.helpers import PASSWORD
from tests.mfa.pages.helpers import enable_mfa_now, require_browser

require_browser()

from playwright.sync_api import Page, expect  # noqa: E402 - only once playwright is known to exist

from mfa import sessions  # noqa: E402
from mfa.events import ClientInfo  # noqa: E402
from mfa.models import AuthSession, RecoveryCode, TOTPDevice  # noqa: E402

# A real browser: slow, so it runs once in CI (the MongoDB pass), not again per database.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

CLIENT = ClientInfo(ip="127.0.0.1", user_agent="tests")


def challenge_url() -> re.Pattern[str]:
    """The MFA challenge page with a ``next`` parameter (where a half-authenticated session goes)."""
    return re.compile(re.escape(reverse("mfa_pages:challenge")) + r"\?next=")


def admin_password_step(page: Page, email: str, next_url: str = "/admin/") -> None:
    page.goto(f"/admin/login/?next={next_url}")
    page.locator("#id_username").fill(email)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_staff_user_enrols_with_a_qr_code_that_decodes_to_the_otpauth_uri(page, make_user, tmp_path):
    staff = make_user("staff@example.com", is_staff=True)
    page.goto(reverse("mfa_pages:login"))
    page.get_by_label("Email").fill(staff.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()

    page.goto(reverse("mfa_pages:enrol"))
    qr = page.locator("img#qr")
    expect(qr).to_be_visible()
    page.screenshot(path=tmp_path / "enrol-page.png", full_page=True)
    qr.screenshot(path=tmp_path / "qr.png")
    decoded = subprocess.run(
        ["zbarimg", "--raw", "-q", str(tmp_path / "qr.png")],
        capture_output=True, text=True, timeout=30, check=True,
    ).stdout.strip()

    secret = page.locator("#secret").get_attribute("data-secret")
    assert secret and re.fullmatch(r"[A-Z2-7]{32}", secret)
    # Key Uri Format, as mfa.totp.provisioning_uri writes it: label and issuer percent-encoded.
    assert decoded == (
        f"otpauth://totp/AuthSite:staff%40example.com?secret={secret}&issuer=AuthSite"
        "&algorithm=SHA1&digits=6&period=30"
    )
    # The key shown for manual entry is the same secret, in groups of four.
    assert page.locator("#secret").inner_text().replace(" ", "") == secret

    app_secret = parse_qs(urlsplit(decoded).query)["secret"][0]
    page.get_by_label("6-digit code shown by your authenticator app").fill(pyotp.TOTP(app_secret).now())
    page.get_by_role("button", name="Turn on").click()

    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    codes = page.locator("#recovery-codes li").all_inner_texts()
    assert len(codes) == 10 and len(set(codes)) == 10
    link = page.get_by_role("link", name="Download as a text file")
    assert link.get_attribute("download") == "recovery-codes.txt"
    with page.expect_download() as download_info:
        link.click()
    download = download_info.value
    assert download.suggested_filename == "recovery-codes.txt"
    with open(download.path(), encoding="utf-8") as f:
        assert f.read().split("\n")[1:11] == codes
    device = TOTPDevice.objects.get(user=staff)
    assert device.confirmed and RecoveryCode.objects.filter(user=staff).count() == 10


def test_admin_login_with_a_totp_code_reaches_the_admin_index(page, make_user):
    staff = make_user("staff@example.com", is_staff=True)
    secret = enable_mfa_now(staff)

    admin_password_step(page, staff.email)
    expect(page).to_have_url(challenge_url())
    expect(page.get_by_role("heading", name="Two-factor authentication")).to_be_visible()
    page.get_by_label("Code from your authenticator app, or a recovery code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Verify").click()

    expect(page).to_have_url(re.compile(r"/admin/$"))
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    assert AuthSession.objects.filter(user=staff, revoked_at=None, amr="pwd otp mfa").count() == 1


def test_half_authenticated_session_is_sent_from_admin_pages_to_the_challenge(page, make_user):
    staff = make_user("staff@example.com", is_staff=True, is_superuser=True)
    secret = enable_mfa_now(staff)
    admin_password_step(page, staff.email)
    expect(page).to_have_url(challenge_url())

    for path in ("/admin/accounts/user/", "/admin/auth/group/", "/admin/mfa/authsession/"):
        page.goto(path)
        assert urlsplit(page.url).path == reverse("mfa_pages:challenge"), path
        assert parse_qs(urlsplit(page.url).query)["next"] == [path]
        expect(page.get_by_role("heading", name="Two-factor authentication")).to_be_visible()
        expect(page.get_by_text(staff.email)).to_have_count(0)

    # The code completes the login and goes on to the admin page asked for last.
    page.get_by_label("Code from your authenticator app, or a recovery code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(r"/admin/mfa/authsession/$"))


def test_admin_reset_mfa_removes_device_codes_and_sessions_after_confirmation(
    page, second_page, make_user
):
    from django.contrib.admin.models import LogEntry

    admin = make_user("admin@example.com", is_staff=True, is_superuser=True)
    bob = make_user("bob@example.com")
    bob_secret = enable_mfa_now(bob)
    sessions.create_session(bob, amr=["pwd", "otp"], now=timezone.now(), client=CLIENT)  # an API login
    assert RecoveryCode.objects.filter(user=bob).count() == 10
    # Bob is also signed in with a browser of his own.
    bob_page = second_page
    bob_page.goto(reverse("mfa_pages:login"))
    bob_page.get_by_label("Email").fill(bob.email)
    bob_page.get_by_label("Password").fill(PASSWORD)
    bob_page.get_by_role("button", name="Sign in").click()
    bob_page.get_by_label("Code from your authenticator app, or a recovery code").fill(
        pyotp.TOTP(bob_secret).now()
    )
    bob_page.get_by_role("button", name="Verify").click()
    expect(bob_page.get_by_role("heading", name="Your account")).to_be_visible()

    device = TOTPDevice.objects.get(user=bob)
    secret_material = [bob_secret, device.encrypted_secret,
                       *RecoveryCode.objects.filter(user=bob).values_list("code_hash", flat=True)]

    def assert_no_secret_material() -> None:
        html = page.content()
        assert not [s for s in secret_material if s in html]

    admin_password_step(page, admin.email, "/admin/accounts/user/")
    expect(page).to_have_url(re.compile(r"/admin/accounts/user/$"))
    expect(page.locator("th.column-mfa_enabled")).to_have_text("MFA")
    bob_row = page.locator("#result_list tbody tr", has_text=bob.email)
    expect(bob_row.locator("td.field-mfa_enabled img")).to_have_attribute("alt", "True")
    expect(bob_row.locator("td.field-mfa_recovery_codes_left")).to_have_text("10")
    admin_row = page.locator("#result_list tbody tr", has_text=admin.email)
    expect(admin_row.locator("td.field-mfa_enabled img")).to_have_attribute("alt", "False")
    expect(page.locator("#changelist-filter")).to_contain_text("By MFA")
    assert_no_secret_material()
    page.goto(f"/admin/accounts/user/{bob.pk}/change/")
    expect(page.locator("#id_email")).to_have_value(bob.email)
    assert_no_secret_material()
    page.goto("/admin/accounts/user/")

    # The filter shows only users with MFA on.
    page.locator("#changelist-filter").get_by_role("link", name="Enabled", exact=True).click()
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    expect(page.locator("#result_list")).to_contain_text(bob.email)

    bob_row.locator("input.action-select").check()
    page.locator("select[name=action]").select_option("reset_mfa")
    page.get_by_role("button", name="Go").click()

    expect(page.get_by_role("heading", name="Reset MFA?")).to_be_visible()
    expect(page.locator("#content")).to_contain_text(bob.email)
    assert_no_secret_material()
    assert TOTPDevice.objects.filter(user=bob).exists()  # nothing happens before the confirmation
    page.get_by_role("button", name="Yes, reset MFA").click()

    expect(page.locator("ul.messagelist")).to_contain_text("MFA was reset for 1 user.")
    assert not TOTPDevice.objects.filter(user=bob).exists()
    assert not RecoveryCode.objects.filter(user=bob).exists()
    bob_sessions = list(AuthSession.objects.filter(user=bob))
    assert len(bob_sessions) == 2  # the API login and the browser one
    assert all(s.revoked_at is not None and s.revoke_reason == "mfa_reset" for s in bob_sessions)
    bob_page.goto(reverse("mfa_pages:home"))  # his browser session has ended too
    expect(bob_page).to_have_url(re.compile(re.escape(reverse("mfa_pages:login"))))
    expect(bob_page.locator(".messages")).to_contain_text("Your session has ended")
    assert AuthSession.objects.filter(user=admin, revoked_at=None).count() == 1  # the admin's own
    entry = LogEntry.objects.get(object_id=str(bob.pk))
    assert entry.user_id == admin.pk and "Reset MFA" in entry.get_change_message()
