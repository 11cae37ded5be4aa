"""Real-browser test helpers: where Debian's Chromium is, its flags, whether the browser tests
can run here (the Playwright package, Chromium and zbarimg), and the sign-in form's first step."""

from __future__ import annotations

import os
import shutil
from importlib.util import find_spec
from typing import TYPE_CHECKING

import pytest
from django.urls import reverse

from tests.helpers import PASSWORD

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = "/usr/bin/chromium"
# The network is closed: without the background-networking flags Chromium floods refused
# connections (component updates, sync, QUIC probes).
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--headless", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
TIMEOUT_MS = 10_000


def browser_unavailable() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if find_spec("playwright") is None:
        return "the Python package playwright is not installed (pip install -r requirements-dev.txt)"
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    if shutil.which("zbarimg") is None:
        return "zbarimg is missing (apt-get install zbar-tools)"
    return None


def require_browser() -> None:
    """Called at the top of a browser test module, before it imports Playwright: skip the module
    when the browser cannot run here, or fail it in CI (where it must run)."""
    reason = browser_unavailable()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests cannot run in CI: {reason}", pytrace=False)
        pytest.skip(f"browser tests skipped: {reason}", allow_module_level=True)


def password_step(page: Page, site: str, email: str) -> None:
    """The sign-in page's first step in the browser: email and the suite's password."""
    page.goto(site + reverse("mfa_pages:login"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()


def enable_mfa_now(user) -> str:
    """Turn TOTP on for ``user`` as an app would, confirmed with the previous step's code (so the
    current step's code is still fresh for the login); returns the secret."""
    from datetime import timedelta

    import pyotp
    from django.utils import timezone

    from mfa import flows
    from mfa.events import ClientInfo

    now = timezone.now()
    secret = flows.start_setup(user, now=now).secret
    code = pyotp.TOTP(secret).at(now - timedelta(seconds=30))
    flows.confirm_setup(user, code, now=now, client=ClientInfo(ip="127.0.0.1", user_agent="tests"))
    return secret
