"""Every error under /api/ is a JSON 4xx (never a 500 or an HTML page), and unexpected failures
become JSON 500/503 without traceback text."""

from __future__ import annotations

import json
import logging
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.db import DatabaseError, OperationalError
from django.http import Http404
from django.test import RequestFactory
from django.urls import reverse, reverse_lazy

from authsite.middleware import ApiErrorMiddleware
from tests.helpers import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

ENDPOINTS = [reverse_lazy("mfa:auth-login"), reverse_lazy("register")]


def assert_json_error(r, *statuses: int) -> dict:
    assert r.status_code in statuses, (r.status_code, r.content[:300])
    assert r["Content-Type"].startswith("application/json"), r["Content-Type"]
    body = json.loads(r.content)
    assert isinstance(body, dict) and body
    text = r.content.decode()
    assert "Traceback" not in text and "<html" not in text.lower()
    return body


def post_raw(client, path: str, body: bytes | str, content_type: str = "application/json"):
    return client.generic("POST", path, body, content_type=content_type)


# --- Routing ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/nope", "/api/auth/nope", "/api/auth/me/extra", "/api/"])
def test_unknown_api_path_is_404_json(client, path):
    body = assert_json_error(client.get(path), 404)
    assert body["code"] == "not_found"


def test_get_on_login_is_405_json(client):
    r = client.get(reverse("mfa:auth-login"))
    body = assert_json_error(r, 405)
    assert "POST" in r["Allow"]
    assert body["code"] == "method_not_allowed"


def test_get_on_register_is_405_json(client):
    assert_json_error(client.get(reverse("register")), 405)


# --- Bodies ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ENDPOINTS, ids=str)
@pytest.mark.parametrize(
    "body",
    ['{"email":', "{'email': 'a@b.io'}", '{"email": "a@b.io", "password": NaN}', "\x00", "not json"],
    ids=["truncated", "single-quotes", "nan", "nul", "words"],
)
def test_malformed_json_is_400(client, path, body):
    body_json = assert_json_error(post_raw(client, path, body), 400)
    assert body_json.get("code") == "parse_error"


@pytest.mark.parametrize("path", ENDPOINTS, ids=str)
@pytest.mark.parametrize("body", ["[]", '[{"email": "a@b.io"}]', "null", '"alice@example.com"', "42", "true"])
def test_json_body_that_is_not_an_object_is_400(client, path, body):
    assert_json_error(post_raw(client, path, body), 400)


@pytest.mark.parametrize("path", ENDPOINTS, ids=str)
def test_empty_body_is_400_with_field_errors(client, path):
    body = assert_json_error(post_raw(client, path, b""), 400)
    assert set(body) >= {"email", "password"}


@pytest.mark.parametrize("path", ENDPOINTS, ids=str)
@pytest.mark.parametrize("value", [None, "", 123, True, [], {}])
def test_wrong_field_types_are_400_per_field(client, path, value):
    body = assert_json_error(post_raw(client, path, json.dumps({"email": value, "password": value})), 400)
    assert set(body) >= {"email", "password"}


@pytest.mark.parametrize("path", ENDPOINTS, ids=str)
@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x"])
def test_non_json_content_type_is_415(client, path, content_type):
    r = post_raw(client, path, '{"email": "alice@example.com", "password": "x"}', content_type)
    body = assert_json_error(r, 415)
    assert body["code"] == "unsupported_media_type"


@pytest.mark.parametrize("path", ENDPOINTS, ids=str)
@pytest.mark.parametrize("field", ["email", "password"])
def test_10kb_string_is_400(client, user, path, field):
    data = {"email": "alice@example.com", "password": PASSWORD}
    data[field] = "a" * 10_240 + ("@example.com" if field == "email" else "")

    body = assert_json_error(post_raw(client, path, json.dumps(data)), 400)
    assert field in body


@pytest.mark.parametrize("path", ENDPOINTS, ids=str)
@pytest.mark.parametrize("field", ["email", "password"])
def test_nul_byte_in_field_is_400(client, path, field):
    data = {"email": "nul@example.com", "password": PASSWORD}
    data[field] = data[field][:3] + "\u0000" + data[field][3:]

    body = assert_json_error(post_raw(client, path, json.dumps(data)), 400)
    assert field in body


@pytest.mark.parametrize("path", ENDPOINTS, ids=str)
@pytest.mark.parametrize(
    "raw",
    [b'{"email": "\\ud800@x.io", "password": "x"}', b'{"email": "a@x.io", "password": "pass\\udfffword!"}'],
    ids=["email", "password"],
)
def test_lone_surrogate_is_400(client, path, raw):
    body = assert_json_error(post_raw(client, path, raw), 400)
    assert "email" in body or "password" in body


@pytest.mark.parametrize("path", ENDPOINTS, ids=str)
def test_invalid_utf8_is_400(client, path):
    assert_json_error(post_raw(client, path, b'{"email": "\xff\xfe@x.io", "password": "x"}'), 400)


@pytest.mark.parametrize("path", ENDPOINTS, ids=str)
def test_body_over_2_5_mb_is_rejected_as_json(client, path):
    big = json.dumps({"email": "alice@example.com", "password": "p" * (2_700_000)})

    r = post_raw(client, path, big)

    assert_json_error(r, 400, 413)


def test_duplicate_json_keys_last_value_wins(client, user):
    raw = json.dumps({"email": "nobody@example.com", "password": PASSWORD})[:-1]
    raw += ', "email": "alice@example.com"}'

    r = post_raw(client, reverse("mfa:auth-login"), raw)

    assert r.status_code == 200, r.content
    assert r.json()["requires_mfa"] is False


def test_duplicate_json_keys_at_register_use_last_value(client):
    raw = f'{{"email": "first@example.com", "password": "{PASSWORD}", "email": "second@example.com"}}'
    r = post_raw(client, reverse("register"), raw)

    assert r.status_code == 201, r.content
    assert r.json()["email"] == "second@example.com"
    assert list(get_user_model().objects.values_list("email", flat=True)) == ["second@example.com"]


# --- Unexpected failures --------------------------------------------------------------------------------


def test_unexpected_exception_on_api_path_is_500_json_without_traceback(client, user, caplog):
    secret = "internal-detail-do-not-leak"
    with mock.patch("mfa.flows.password_login", side_effect=RuntimeError(secret)), \
            caplog.at_level(logging.ERROR, logger="authsite.errors"):
        r = client.post(reverse("mfa:auth-login"), {"email": "alice@example.com", "password": PASSWORD},
                        content_type="application/json")

    body = assert_json_error(r, 500)
    assert body == {"detail": "Internal server error.", "code": "server_error"}
    assert secret not in r.content.decode()
    assert "RuntimeError" not in r.content.decode()
    assert any("unhandled error" in rec.getMessage() for rec in caplog.records), "logged for operators"


def _outage() -> DatabaseError:
    """What django-mongodb-backend raises when the server is gone: a bare DatabaseError caused
    by a pymongo connection failure (SQL backends raise OperationalError)."""
    errors = pytest.importorskip("pymongo.errors")
    try:
        try:
            raise errors.ServerSelectionTimeoutError("127.0.0.1:1: connection refused")
        except errors.ServerSelectionTimeoutError as cause:
            raise DatabaseError() from cause
    except DatabaseError as exc:
        return exc


def test_database_outage_on_api_path_is_503_json_with_retry_after(client, user):
    with mock.patch("mfa.flows.password_login", side_effect=_outage()):
        r = client.post(reverse("mfa:auth-login"), {"email": "alice@example.com", "password": PASSWORD},
                        content_type="application/json")

    body = assert_json_error(r, 503)
    assert body["code"] == "service_unavailable"
    assert int(r["Retry-After"]) > 0
    assert "connection refused" not in r.content.decode()


def test_database_bug_is_500_not_503():
    """A failing query (not an outage) is a bug to fix: 500 and logged, never "retry later"."""
    request = RequestFactory().get(reverse("mfa:auth-me"))
    response = ApiErrorMiddleware(lambda req: None).process_exception(request, DatabaseError("bad query"))
    assert response is not None and response.status_code == 500


def test_middleware_turns_unexpected_exception_into_500_json():
    request = RequestFactory().post("/api/auth/anything")
    middleware = ApiErrorMiddleware(lambda req: None)

    response = middleware.process_exception(request, ValueError("secret value 1234"))

    assert response is not None and response.status_code == 500
    assert response["Content-Type"].startswith("application/json")
    assert json.loads(response.content) == {"detail": "Internal server error.", "code": "server_error"}
    assert b"secret value" not in response.content and b"Traceback" not in response.content
    assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize("make_exc", [_outage, lambda: OperationalError("could not connect")])
def test_middleware_turns_database_outage_into_503_with_retry_after(make_exc):
    exc = make_exc()
    request = RequestFactory().get(reverse("mfa:auth-me"))
    middleware = ApiErrorMiddleware(lambda req: None)

    response = middleware.process_exception(request, exc)

    assert response is not None and response.status_code == 503
    assert json.loads(response.content)["code"] == "service_unavailable"
    assert int(response["Retry-After"]) > 0


def test_middleware_turns_pymongo_outage_into_503():
    errors = pytest.importorskip("pymongo.errors")
    request = RequestFactory().get(reverse("mfa:auth-me"))

    response = ApiErrorMiddleware(lambda req: None).process_exception(
        request, errors.ServerSelectionTimeoutError("127.0.0.1:1: connection refused")
    )

    assert response is not None and response.status_code == 503
    assert b"127.0.0.1" not in response.content


def test_middleware_leaves_non_api_errors_to_django():
    request = RequestFactory().get("/admin/login/")

    assert ApiErrorMiddleware(lambda req: None).process_exception(request, ValueError("x")) is None


@pytest.mark.parametrize(
    "exc", [RequestDataTooBig("too big"), Http404("gone"), PermissionDenied("no")], ids=lambda e: type(e).__name__
)
def test_middleware_leaves_client_errors_to_djangos_json_handlers(exc):
    """Django's handler answers these with 400/404/403 (JSON on /api/ through authsite.views),
    so the middleware must not turn them into a 500."""
    request = RequestFactory().post(reverse("mfa:auth-login"))

    assert ApiErrorMiddleware(lambda req: None).process_exception(request, exc) is None
