"""The benchmark's data (bench/prepare.py) matches the current models: a prepared MFA user completes
a login over the API with a code from its prepared secret (this broke once, unnoticed, when the
lockout and TOTP step moved to MFAAccount)."""

from __future__ import annotations

import json

import pyotp
import pytest
from django.urls import reverse
from django.utils import timezone

pytestmark = pytest.mark.django_db(transaction=True)


def test_prepared_data_logs_in_with_mfa(tmp_path, api):
    from bench.prepare import make

    out = tmp_path / "bench.json"
    make(out, mfa_users=2, plain_users=2, refresh_sessions=2)
    data = json.loads(out.read_text())
    mfa_token, secret = data["mfa"][0]
    r = api.post(reverse("mfa:mfa-login-verify"), {"mfa_token": mfa_token, "code": pyotp.TOTP(secret).at(timezone.now())},
                 format="json")
    assert r.status_code == 200, r.content
    r = api.post(reverse("mfa:auth-refresh"), {"refresh": data["refresh"][0]}, format="json")
    assert r.status_code == 200, r.content
