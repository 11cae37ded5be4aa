"""Per-IP throttles of the unauthenticated endpoints: a flood of register, login or token/refresh
from one IP gets 429 with Retry-After after N requests per period, other IPs are unaffected
(SECURITY-CHECKS BRU-06, BRU-05 per-IP part; ASVS 2.4.1, 6.1.1). The production rates are
20/hour, 30/min and 60/min (authsite.settings); the tests use 3/min."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.urls import reverse

from tests.helpers import PASSWORD, login

pytestmark = pytest.mark.django_db(transaction=True)

RATES = {"register": "3/min", "login": "3/min", "refresh": "3/min", "code_failures": None}


@pytest.fixture
def throttled(settings):
    settings.MFA = {**settings.MFA, "IP_RATES": RATES}
    cache.clear()
    yield
    cache.clear()


def _assert_throttled(r) -> None:
    assert r.status_code == 429, r.content
    assert int(r["Retry-After"]) > 0
    assert r["Content-Type"].startswith("application/json")
    assert r.json()["code"] == "throttled"


def test_register_flood_from_one_ip_is_throttled(api, throttled):
    for n in range(3):
        r = api.post(reverse("register"), {"email": f"f{n}@example.com", "password": PASSWORD}, format="json",
                     REMOTE_ADDR="198.51.100.1")
        assert r.status_code == 201, r.content
    r = api.post(reverse("register"), {"email": "f9@example.com", "password": PASSWORD}, format="json",
                 REMOTE_ADDR="198.51.100.1")
    _assert_throttled(r)
    r = api.post(reverse("register"), {"email": "g1@example.com", "password": PASSWORD}, format="json",
                 REMOTE_ADDR="198.51.100.2")
    assert r.status_code == 201, r.content


def test_login_flood_from_one_ip_is_throttled_right_password_included(api, user, throttled):
    for _ in range(3):
        r = api.post(reverse("mfa:auth-login"), {"email": user.email, "password": "wrong password"}, format="json",
                     REMOTE_ADDR="198.51.100.3")
        assert r.status_code == 401
    r = api.post(reverse("mfa:auth-login"), {"email": user.email, "password": PASSWORD}, format="json",
                 REMOTE_ADDR="198.51.100.3")
    _assert_throttled(r)
    assert "access" not in r.json()
    r = api.post(reverse("mfa:auth-login"), {"email": user.email, "password": PASSWORD}, format="json",
                 REMOTE_ADDR="198.51.100.4")
    assert r.status_code == 200, r.content


def test_forged_forwarded_for_does_not_escape_the_login_throttle(api, user, throttled):
    for n in range(3):
        api.post(reverse("mfa:auth-login"), {"email": user.email, "password": "wrong"}, format="json",
                 REMOTE_ADDR="198.51.100.5", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
    r = api.post(reverse("mfa:auth-login"), {"email": user.email, "password": PASSWORD}, format="json",
                 REMOTE_ADDR="198.51.100.5", HTTP_X_FORWARDED_FOR="203.0.113.99")
    _assert_throttled(r)


def test_refresh_flood_from_one_ip_is_throttled(api, user, throttled):
    r = login(api, user.email)  # the login counts towards "login", not "refresh"
    refresh = r.json()["refresh"]
    for _ in range(3):
        r = api.post(reverse("mfa:auth-refresh"), {"refresh": refresh}, format="json")
        assert r.status_code == 200, r.content
        refresh = r.json()["refresh"]
    _assert_throttled(api.post(reverse("mfa:auth-refresh"), {"refresh": refresh}, format="json"))


def test_every_scope_reads_rates_as_mfa_does(api, user, settings):
    """A multiple of the unit ("2/10m", as password_reset takes) limits any scope, and "off" turns
    one off: DRF's own parser answered 500 to both (KeyError, ValueError)."""
    settings.MFA = {**settings.MFA, "IP_RATES": {**RATES, "login": "2/10m", "register": "off"}}
    for _ in range(2):
        r = api.post(reverse("mfa:auth-login"), {"email": user.email, "password": PASSWORD}, format="json",
                     REMOTE_ADDR="198.51.100.5")
        assert r.status_code == 200, r.content
    r = api.post(reverse("mfa:auth-login"), {"email": user.email, "password": PASSWORD}, format="json",
                 REMOTE_ADDR="198.51.100.5")
    _assert_throttled(r)
    assert 590 <= int(r["Retry-After"]) <= 600
    for n in range(5):
        r = api.post(reverse("register"), {"email": f"off{n}@example.com", "password": PASSWORD}, format="json",
                     REMOTE_ADDR="198.51.100.5")
        assert r.status_code == 201, r.content
