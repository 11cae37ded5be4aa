"""Password reset end to end over real SMTP: a gunicorn site (tests.live, on SecantusDB) sends
through Django's SMTP backend to an aiosmtpd listener on loopback; the test reads the message as
a mail client would, takes the link, and (a) confirms over the JSON API, (b) opens it in
Chromium (Playwright), sets a new password, lands on the sign-in page signed out, then signs in.
"""

from __future__ import annotations

import email
import re
import threading
import time
from collections.abc import Iterator
from email import policy
from urllib.parse import urlsplit

import pytest
import requests

from tests.helpers import PASSWORD, reset_link
from tests.live import LiveSite, free_port, live_site

pytestmark = pytest.mark.slow
aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller", reason="pip install -r requirements-dev.txt")

NEW = "a brand new passphrase"


class Mailbox:
    """An aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.arrived = threading.Condition()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        with self.arrived:
            self.messages.append(message)
            self.arrived.notify_all()
        return "250 OK"

    def wait_for(self, to: str, subject: str, timeout: float = 30) -> email.message.EmailMessage:
        """The first message to ``to`` with ``subject``, once it has arrived."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while True:
                for message in self.messages:
                    if message["To"] == to and message["Subject"] == subject:
                        self.messages.remove(message)
                        return message
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {subject!r} message to {to} within {timeout} s")
                self.arrived.wait(left)


@pytest.fixture(scope="module")
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    controller = aiosmtpd_controller.Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def site(mailbox) -> Iterator[LiveSite]:
    _box, port = mailbox
    smtp = {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend", "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(port), "EMAIL_USE_TLS": "0", "DEFAULT_FROM_EMAIL": "AuthSite <no-reply@example.org>",
    }
    with live_site(extra_env=smtp) as live:
        yield live


def register(site: LiveSite, address: str) -> None:
    r = requests.post(f"{site.url}/api/auth/register", json={"email": address, "password": PASSWORD}, timeout=30)
    assert r.status_code == 201, r.text


def emailed_link(site: LiveSite, box: Mailbox, address: str) -> tuple[str, str, str]:
    r = requests.post(f"{site.url}/api/auth/password/reset", json={"email": address}, timeout=30)
    assert r.status_code == 202, r.text
    message = box.wait_for(address, "Reset your password")
    assert message["From"] == "AuthSite <no-reply@example.org>"
    body = message.get_body(preferencelist=("plain",)).get_content()
    url, uid, token = reset_link(body)
    assert url.startswith(site.url + "/account/password/reset/")
    return url, uid, token


def test_reset_over_smtp_then_confirm_over_the_api(site, mailbox):
    box, _port = mailbox
    address = "api-reset@example.org"
    register(site, address)
    _url, uid, token = emailed_link(site, box, address)

    confirm = f"{site.url}/api/auth/password/reset/confirm"
    r = requests.post(confirm, json={"uid": uid, "token": token, "new_password": NEW}, timeout=30)
    assert r.status_code == 204, r.text
    assert r.content == b""
    box.wait_for(address, "Your password was changed")
    r = requests.post(confirm, json={"uid": uid, "token": token, "new_password": NEW + "!"}, timeout=30)
    assert r.status_code == 400 and r.json()["code"] == "invalid_reset_token"

    login = f"{site.url}/api/auth/login"
    assert requests.post(login, json={"email": address, "password": PASSWORD}, timeout=30).status_code == 401
    r = requests.post(login, json={"email": address, "password": NEW}, timeout=30)
    assert r.status_code == 200 and r.json()["requires_mfa"] is False


def test_unknown_address_gets_the_same_answer_and_no_email(site, mailbox):
    box, _port = mailbox
    register(site, "known-live@example.org")
    known = requests.post(f"{site.url}/api/auth/password/reset", json={"email": "known-live@example.org"}, timeout=30)
    unknown = requests.post(f"{site.url}/api/auth/password/reset", json={"email": "nobody@example.org"}, timeout=30)
    assert known.status_code == unknown.status_code == 202 and known.content == unknown.content
    box.wait_for("known-live@example.org", "Reset your password")
    time.sleep(1)  # the unknown address's job ran in the same worker queue, or soon after
    assert not [m for m in box.messages if m["To"] == "nobody@example.org"]


def test_reset_link_in_chromium_then_sign_in_with_the_new_password(site, mailbox, chromium):
    from playwright.sync_api import expect

    from tests.mfa.pages.helpers import TIMEOUT_MS

    box, _port = mailbox
    address = "browser-reset@example.org"
    register(site, address)
    url, _uid, _token = emailed_link(site, box, address)

    context = chromium.new_context(base_url=site.url)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        page.goto(url)
        expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
        page.get_by_label("New password", exact=True).fill(NEW)
        page.get_by_label("New password again", exact=True).fill(NEW)
        page.get_by_role("button", name="Set the new password").click()

        expect(page).to_have_url(re.compile(r"/account/login/$"))
        expect(page.get_by_text("Your password has been changed")).to_be_visible()
        page.goto("/account/")  # not signed in: back to the sign-in page
        assert urlsplit(page.url).path == "/account/login/"

        page.goto(url)  # the link is used up
        expect(page.get_by_role("heading", name="This link does not work")).to_be_visible()

        page.goto("/account/login/")
        page.get_by_label("Email").fill(address)
        page.get_by_label("Password").fill(NEW)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    finally:
        context.close()
    box.wait_for(address, "Your password was changed")
