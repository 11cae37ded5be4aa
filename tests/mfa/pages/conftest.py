"""Fixtures for real-browser tests: Debian's headless Chromium driven by Playwright (Python).

Playwright's own browser download cannot run here, so the tests launch ``/usr/bin/chromium``
(``apt-get install chromium``). The site is served by pytest-django's ``live_server``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.mfa.pages.helpers import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, browser_unavailable


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """One headless Chromium per test module (closed with it, so Playwright's event loop never
    outlives the browser tests)."""
    reason = browser_unavailable()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests cannot run in CI: {reason}", pytrace=False)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop running on this thread (in a greenlet) while
    # it is open; the tests' own database calls stay synchronous, so Django's guard against
    # database calls from async code is lifted for this module only.
    with pytest.MonkeyPatch.context() as mp, sync_playwright() as playwright:
        mp.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _open_page(chromium: Any, live_server: Any) -> Iterator[Any]:
    context = chromium.new_context(base_url=live_server.url, accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def page(chromium: Any, live_server: Any) -> Iterator[Any]:
    """A fresh browser context (no cookies) and page whose relative URLs go to the live server."""
    yield from _open_page(chromium, live_server)


@pytest.fixture
def second_page(chromium: Any, live_server: Any) -> Iterator[Any]:
    """Another browser with its own cookies (a second person on the same site)."""
    yield from _open_page(chromium, live_server)


@pytest.fixture
def site(live_server, settings) -> str:
    """The live server as http://localhost:PORT (a valid WebAuthn RP ID, unlike an IP address),
    configured as the WebAuthn origin."""
    origin = f"http://localhost:{urlsplit(live_server.url).port}"
    settings.MFA = {**settings.MFA, "WEBAUTHN_RP_ID": "localhost", "WEBAUTHN_ORIGINS": [origin]}
    return origin
