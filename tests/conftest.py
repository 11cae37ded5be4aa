"""Shared fixtures: the database server, API clients, users in known states, a clock."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from unittest import mock

import pytest
from rest_framework.test import APIClient

from tests.helpers import (
    PASSWORD,
    Clock,
    MFAUser,
    enable_mfa,
    login,
    start_devdb,
    stop_devdb,
    wait_for_background,
)


@pytest.fixture(scope="session")
def database_server() -> Iterator[int | None]:
    """SecantusDB in memory on a free port, unless DATABASE_URL names a database."""
    if os.environ.get("AUTHSITE_TEST_DB_FROM_FIXTURE") != "1":
        yield None
        return
    proc, port = start_devdb("--memory")
    try:
        yield port
    finally:
        stop_devdb(proc)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(database_server: int | None) -> None:
    if database_server is None:
        return
    from django.conf import settings

    db = settings.DATABASES["default"]
    db["HOST"] = db["HOST"].replace("127.0.0.1:1/", f"127.0.0.1:{database_server}/")


# --- Clients, users ----------------------------------------------------------------------------


@pytest.fixture
def api() -> APIClient:
    return APIClient(enforce_csrf_checks=True)


@pytest.fixture
def make_user(db):
    from django.contrib.auth import get_user_model

    counter = iter(range(10**6))

    def make(email: str | None = None, password: str = PASSWORD, **extra):
        email = email or f"user{next(counter)}@example.com"
        return get_user_model().objects.create_user(email, password, **extra)

    return make


@pytest.fixture
def user(make_user):
    return make_user("alice@example.com")


@pytest.fixture
def clock() -> Iterator[Clock]:
    """The site's clock, frozen and moved by the test (Django, simplejwt and PyJWT follow it)."""
    c = Clock()

    class FrozenDatetime(datetime):
        @classmethod
        def now(cls, tz=None):  # type: ignore[override]
            return c.now.astimezone(tz) if tz else c.now.replace(tzinfo=None)

    with mock.patch("django.utils.timezone.now", lambda: c.now), mock.patch(
        "rest_framework_simplejwt.tokens.aware_utcnow", lambda: c.now
    ), mock.patch("jwt.api_jwt.datetime", FrozenDatetime):
        yield c


@pytest.fixture
def pair(api, user, clock) -> dict:
    """An {access, refresh} pair of ``user`` (no MFA) from a password login."""
    r = login(api, user.email)
    assert r.status_code == 200, r.content
    return r.json()


@pytest.fixture
def user_with_mfa(api, user, clock) -> MFAUser:
    mfa_user = enable_mfa(api, user, clock)
    clock.advance(30)  # the enrolment code's step is used; move to a fresh one
    return mfa_user


@pytest.fixture
def webauthn_on(settings):
    """Security keys configured for the software authenticator's browser (tests.webauthn_authenticator:
    RP ID localhost, origin http://localhost:8000, which py_webauthn compares exactly)."""
    settings.MFA = {**settings.MFA, "WEBAUTHN_RP_ID": "localhost", "WEBAUTHN_ORIGINS": ["http://localhost:8000"]}


@pytest.fixture
def queries_are_captured(user):
    """Skip a query-counting test where CaptureQueriesContext does not see the backend's
    operations (checked with one known query)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        type(user).objects.filter(pk=user.pk).exists()
    if len(ctx.captured_queries) != 1:
        pytest.skip(f"{connection.vendor}: CaptureQueriesContext does not see database operations")


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    """Throttle and password-backoff state lives in the cache: no test sees another's."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _background_jobs_finish_inside_their_test():
    """Jobs queued after an answer (mfa.background: the password reset email) finish before the
    test's database is flushed: a job still writing then deadlocks PostgreSQL's TRUNCATE."""
    yield
    wait_for_background()
