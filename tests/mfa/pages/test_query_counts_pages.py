"""Database round trips per page: the middleware's read of the browser's session row (with the
user's MFA rows) is the one the views use (mfa.pages.views.browser_session)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.helpers import PASSWORD, totp_now

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("queries_are_captured")]


@pytest.fixture
def signed_in(user_with_mfa, clock) -> Client:
    browser = Client()
    browser.post(reverse("mfa_pages:login"), {"username": user_with_mfa.email, "password": PASSWORD})
    r = browser.post(reverse("mfa_pages:challenge"), {"code": totp_now(user_with_mfa.secret, clock.now)})
    assert r.status_code == 302
    return browser


def get(browser: Client, name: str) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        assert browser.get(reverse(f"mfa_pages:{name}")).status_code == 200
    return [str(q["sql"]) for q in ctx.captured_queries]


def reading(sql: list[str], table: str) -> list[str]:
    return [q for q in sql if table in q]


def test_the_account_page_reads_the_session_row_once_and_no_factor_row_again(signed_in):
    sql = get(signed_in, "home")
    # Django's session, the user, the session row with the user's MFA rows: the page's factor
    # questions are answered from that row.
    assert len(sql) == 3, sql
    (row,) = reading(sql, "mfa_authsession")
    assert [q for q in sql if "mfa_totpdevice" in q or "mfa_mfaaccount" in q] == [row], sql


@pytest.mark.parametrize("page", ["keys", "trusted_devices"])
def test_pages_with_the_browsers_session_read_its_row_once(signed_in, page):
    sql = get(signed_in, page)
    assert len(reading(sql, "mfa_authsession")) == 1, sql
