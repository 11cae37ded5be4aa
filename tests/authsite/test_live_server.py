"""The production server (gunicorn with gunicorn.conf.py) serves the API from a clean start."""

import json
import urllib.request

import pytest
from django.urls import reverse

from tests.live import live_site

pytestmark = pytest.mark.slow


def _post(url: str, body: dict, token: str | None = None) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")  # noqa: S310 - loopback only
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310 - loopback only
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def test_gunicorn_serves_register_and_login_with_debug_off():
    with live_site() as site:
        status, body = _post(site.url + reverse("register"), {"email": "Live@Example.com", "password": "a long enough passphrase"})
        assert status == 201 and body["email"] == "live@example.com"
        status, body = _post(site.url + reverse("mfa:auth-login"), {"email": "live@example.com", "password": "a long enough passphrase"})
        assert status == 200 and body["requires_mfa"] is False
        status, body = _post(site.url + "/api/auth/nope", {})
        assert status == 404 and body["code"] == "not_found"
