"""POST /api/auth/login without MFA, and Bearer authentication of GET /api/auth/me."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest
from django.conf import settings as django_settings
from django.urls import reverse

from tests.helpers import PASSWORD, bearer, login

pytestmark = pytest.mark.django_db(transaction=True)


def assert_bearer_401(r) -> None:
    assert r.status_code == 401, (r.status_code, r.content)
    assert r["Content-Type"].startswith("application/json")
    body = r.json()
    assert isinstance(body.get("detail"), str) and body["detail"]
    assert r["WWW-Authenticate"].startswith("Bearer")
    assert not r.cookies


# --- Login ------------------------------------------------------------------------------------------


def test_login_without_mfa_returns_a_token_pair(api, user):
    r = login(api, "alice@example.com")

    assert r.status_code == 200, r.content
    body = r.json()
    assert set(body) == {"requires_mfa", "access", "refresh"}
    assert body["requires_mfa"] is False
    assert body["access"].count(".") == 2 and body["refresh"].count(".") == 2
    assert body["access"] != body["refresh"]


def test_login_accepts_email_in_any_case(api, user):
    r = login(api, "  ALICE@Example.COM ")

    assert r.status_code == 200, r.content


def test_login_sets_no_cookie(api, user):
    r = login(api, "alice@example.com")

    assert r.status_code == 200
    assert not r.cookies
    assert "Set-Cookie" not in r.headers
    assert not api.cookies


def test_login_failures_are_indistinguishable(api, make_user):
    make_user("alice@example.com")
    make_user("inactive@example.com", is_active=False)

    unknown = login(api, "nobody@example.com")
    wrong = login(api, "alice@example.com", "wrong " + PASSWORD)
    inactive = login(api, "inactive@example.com")

    for r in (unknown, wrong, inactive):
        assert r.status_code == 401, r.content
        assert r["WWW-Authenticate"].startswith("Bearer")
        assert not r.cookies
    assert unknown.json() == wrong.json() == inactive.json()
    assert unknown.content == wrong.content == inactive.content
    assert "access" not in unknown.json() and "refresh" not in unknown.json()


def test_login_with_missing_fields_is_400_per_field(api):
    r = api.post(reverse("mfa:auth-login"), {}, format="json")

    assert r.status_code == 400
    assert set(r.json()) >= {"email", "password"}


# --- /me ----------------------------------------------------------------------------------------------


def test_me_with_access_token_returns_the_user(api, user):
    access = login(api, "alice@example.com").json()["access"]

    r = bearer(api, access).get(reverse("mfa:auth-me"))

    assert r.status_code == 200, r.content
    assert r.json() == {
        "id": str(user.pk),
        "email": "alice@example.com",
        "mfa_enabled": False,
        "methods": [],
        "recovery_codes_left": 0,
    }
    assert not r.cookies


def test_me_without_token_is_401_with_bearer_challenge(api):
    assert_bearer_401(api.get(reverse("mfa:auth-me")))


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "Bearer a.b",
        "Bearer a.b.c",
        "Bearer " + "A" * 10_240,
        "Bearer " + "x." * 5_000 + "x",
        "Bearer !!!@@@###$$$%%%^^^&&&***",
        "Bearer \xff\xfe\x00\x01",
        "Bearer eyJhbGciOiJub25lIn0.eyJ1c2VyX2lkIjoiMSJ9.",
        "Bearer one two",
        "Token x",
        "Basic YWxpY2U6cGFzcw==",
        "bearer",
    ],
    ids=[
        "bearer-alone", "bearer-space", "two-parts", "three-garbage-parts", "10kB", "10kB-dots",
        "non-base64", "binary", "alg-none", "three-words", "token-scheme", "basic-scheme", "lowercase",
    ],
)
def test_me_with_bad_authorization_header_is_401_never_500(api, header):
    r = api.get(reverse("mfa:auth-me"), HTTP_AUTHORIZATION=header)

    assert_bearer_401(r)


def test_me_refuses_refresh_token_as_bearer(api, user):
    refresh = login(api, "alice@example.com").json()["refresh"]

    assert_bearer_401(bearer(api, refresh).get(reverse("mfa:auth-me")))


def test_me_refuses_token_signed_with_another_key(api, user):
    access = login(api, "alice@example.com").json()["access"]
    claims = jwt.decode(access, options={"verify_signature": False})
    forged = jwt.encode(claims, "not-the-signing-key-" + "z" * 40, algorithm="HS256")
    assert django_settings.SIMPLE_JWT["SIGNING_KEY"] != "not-the-signing-key-" + "z" * 40

    assert_bearer_401(bearer(api, forged).get(reverse("mfa:auth-me")))


def test_me_refuses_expired_access_token(api, user, clock):
    access = login(api, "alice@example.com").json()["access"]
    bearer(api, access)
    assert api.get(reverse("mfa:auth-me")).status_code == 200

    clock.advance(django_settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds() + 1)

    assert_bearer_401(api.get(reverse("mfa:auth-me")))


def test_access_token_lifetime_is_short(api, user):
    access = login(api, "alice@example.com").json()["access"]
    claims = jwt.decode(access, options={"verify_signature": False})

    assert timedelta(seconds=claims["exp"] - claims["iat"]) <= timedelta(minutes=15)
    assert claims["token_type"] == "access"
    assert str(claims["user_id"]) == str(user.pk)
