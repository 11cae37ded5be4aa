"""POST mfa/setup and mfa/verify: enrolment, the QR code, confirm-to-enable, and what enabling does
(SECURITY-CHECKS B ENR-01..07, A OTP-03 for the enrolment code)."""

from __future__ import annotations

import base64
import re
import subprocess
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from django.core import mail
from django.urls import reverse

from mfa.models import AuthSession, TOTPDevice
from tests.helpers import bearer, enable_mfa, login, totp_now
from tests.mfa.helpers import ME, SETUP, VERIFY, mfa_token, require_tool, verify_login, wrong_code

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def signed_in(api, user, clock):
    """``api`` carrying a fresh access token of ``user`` (MFA off), issued on the frozen clock."""
    r = login(api, user.email)
    assert r.status_code == 200 and r.json()["requires_mfa"] is False
    bearer(api, r.json()["access"])
    return api


def setup(api, **query):
    path = SETUP + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")
    r = api.post(path, {}, format="json")
    assert r.status_code == 200, r.content
    return r


# --- mfa/setup -------------------------------------------------------------------------------------


def test_setup_returns_secret_uri_and_qr_and_is_not_cached(signed_in, user):
    r = setup(signed_in)
    body = r.json()
    assert set(body) == {"secret", "otpauth_uri", "qr_code"}
    assert re.fullmatch(r"[A-Z2-7]{32}", body["secret"])
    assert "no-store" in r["Cache-Control"]
    parts = urlsplit(body["otpauth_uri"])
    assert (parts.scheme, parts.netloc, parts.path) == ("otpauth", "totp", "/AuthSite:alice%40example.com")
    assert parse_qs(parts.query) == {
        "secret": [body["secret"]], "issuer": ["AuthSite"], "algorithm": ["SHA1"],
        "digits": ["6"], "period": ["30"],
    }
    assert body["qr_code"].startswith("data:image/svg+xml")


def test_setup_uri_uses_the_issuer_setting_percent_encoded(settings, api, make_user):
    settings.MFA = {**settings.MFA, "ISSUER": "ACME Co"}
    bob = make_user("a+b@x.io")
    bearer(api, login(api, bob.email).json()["access"])
    body = setup(api).json()
    assert body["otpauth_uri"] == (
        f"otpauth://totp/ACME%20Co:a%2Bb%40x.io?secret={body['secret']}"
        "&issuer=ACME%20Co&algorithm=SHA1&digits=6&period=30"
    )


def test_setup_needs_an_access_token(api, user):
    r = api.post(SETUP, {}, format="json")
    assert r.status_code == 401
    assert not TOTPDevice.objects.filter(user=user).exists()


def test_png_qr_code_decodes_to_exactly_the_otpauth_uri(signed_in, tmp_path):
    zbarimg = require_tool("zbarimg", "zbar-tools")
    body = setup(signed_in, format="png").json()
    prefix = "data:image/png;base64,"
    assert body["qr_code"].startswith(prefix)
    png = tmp_path / "qr.png"
    png.write_bytes(base64.b64decode(body["qr_code"][len(prefix):]))
    out = subprocess.run(
        [zbarimg, "--raw", "-q", str(png)], capture_output=True, text=True, timeout=30, check=True
    )
    assert out.stdout.rstrip("\n") == body["otpauth_uri"]


def test_svg_qr_code_is_an_inline_image_with_no_external_reference(signed_in):
    body = setup(signed_in).json()
    header, _, payload = body["qr_code"].partition(",")
    assert header.startswith("data:image/svg+xml")
    svg = unquote(payload)
    assert svg.startswith("<svg") or svg.startswith("<?xml")
    assert "<image" not in svg and "href" not in svg  # rendered here, nothing fetched elsewhere


def test_secret_decoded_from_the_qr_enables_mfa_with_an_independent_code(signed_in, user, clock, tmp_path):
    zbarimg = require_tool("zbarimg", "zbar-tools")
    oathtool = require_tool("oathtool", "oathtool")
    body = setup(signed_in, format="png").json()
    png = tmp_path / "qr.png"
    png.write_bytes(base64.b64decode(body["qr_code"].split(",", 1)[1]))
    uri = subprocess.run([zbarimg, "--raw", "-q", str(png)], capture_output=True, text=True,
                         check=True, timeout=30).stdout.strip()
    secret = parse_qs(urlsplit(uri).query)["secret"][0]
    code = subprocess.run([oathtool, "--totp", "-b", secret, "-N", f"@{int(clock.now.timestamp())}"],
                          capture_output=True, text=True, check=True, timeout=10).stdout.strip()
    r = signed_in.post(VERIFY, {"code": code}, format="json")
    assert r.status_code == 200, r.content


def test_setup_again_replaces_the_pending_secret(signed_in, user, clock):
    first = setup(signed_in).json()["secret"]
    second = setup(signed_in).json()["secret"]
    assert first != second
    assert TOTPDevice.objects.filter(user=user).count() == 1
    old_code = totp_now(first, clock.now)
    assert old_code != totp_now(second, clock.now)
    r = signed_in.post(VERIFY, {"code": old_code}, format="json")
    assert r.status_code == 400 and r.json()["code"] == "invalid_code"
    r = signed_in.post(VERIFY, {"code": totp_now(second, clock.now)}, format="json")
    assert r.status_code == 200, r.content


def test_setup_when_enabled_is_409_and_never_returns_the_secret(api, user_with_mfa):
    bearer(api, user_with_mfa.access)
    r = api.post(SETUP, {}, format="json")
    assert r.status_code == 409
    assert r.json()["code"] == "mfa_already_enabled"
    assert user_with_mfa.secret not in r.content.decode()
    assert "otpauth" not in r.content.decode()
    # the enabled device is untouched: its secret still logs in
    device = TOTPDevice.objects.get(user=user_with_mfa.user)
    assert device.confirmed


# --- mfa/verify ------------------------------------------------------------------------------------


def test_verify_with_a_wrong_code_is_400_invalid_code_and_stays_pending(signed_in, user, clock):
    secret = setup(signed_in).json()["secret"]
    r = signed_in.post(VERIFY, {"code": wrong_code(secret, clock.now)}, format="json")
    assert r.status_code == 400
    body = r.json()
    assert set(body) == {"detail", "code"} and body["code"] == "invalid_code"
    assert isinstance(body["detail"], str)
    assert not TOTPDevice.objects.get(user=user).confirmed
    assert login(signed_in, user.email).json()["requires_mfa"] is False


def test_verify_without_pending_setup_is_400(signed_in, user, clock):
    r = signed_in.post(VERIFY, {"code": "123456"}, format="json")
    assert r.status_code == 400
    assert r.json()["code"] == "no_pending_setup"


def test_pending_setup_expires_after_ten_minutes(signed_in, user, clock):
    secret = setup(signed_in).json()["secret"]
    clock.advance(600)
    bearer(signed_in, login(signed_in, user.email).json()["access"])  # access tokens last 5 min
    r = signed_in.post(VERIFY, {"code": totp_now(secret, clock.now)}, format="json")
    assert r.status_code == 400 and r.json()["code"] == "no_pending_setup"
    assert not TOTPDevice.objects.get(user=user).confirmed


def test_pending_setup_still_confirms_just_before_ten_minutes(signed_in, user, clock):
    secret = setup(signed_in).json()["secret"]
    clock.advance(599)
    bearer(signed_in, login(signed_in, user.email).json()["access"])
    r = signed_in.post(VERIFY, {"code": totp_now(secret, clock.now)}, format="json")
    assert r.status_code == 200, r.content


def test_correct_code_enables_mfa_and_returns_ten_recovery_codes(signed_in, user, clock):
    secret = setup(signed_in).json()["secret"]
    r = signed_in.post(VERIFY, {"code": totp_now(secret, clock.now)}, format="json")
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"mfa_enabled", "recovery_codes"}
    assert body["mfa_enabled"] is True
    assert len(body["recovery_codes"]) == 10 and len(set(body["recovery_codes"])) == 10
    assert "no-store" in r["Cache-Control"]
    assert TOTPDevice.objects.get(user=user).confirmed
    me = signed_in.get(ME).json()
    assert me["mfa_enabled"] is True and me["recovery_codes_left"] == 10


def test_verify_accepts_a_code_with_spaces(signed_in, clock):
    secret = setup(signed_in).json()["secret"]
    code = totp_now(secret, clock.now)
    r = signed_in.post(VERIFY, {"code": f" {code[:3]} {code[3:]} "}, format="json")
    assert r.status_code == 200, r.content


def test_verify_when_already_enabled_is_409(api, user_with_mfa, clock):
    bearer(api, user_with_mfa.access)
    r = api.post(VERIFY, {"code": totp_now(user_with_mfa.secret, clock.now)}, format="json")
    assert r.status_code == 409


def test_login_after_setup_but_before_verify_does_not_require_mfa(signed_in, user):
    setup(signed_in)
    signed_in.credentials()
    r = login(signed_in, user.email)
    assert r.status_code == 200
    assert r.json()["requires_mfa"] is False and "access" in r.json()


def test_enrolment_code_cannot_be_reused_for_login(signed_in, user, clock):
    secret = setup(signed_in).json()["secret"]
    code = totp_now(secret, clock.now)
    assert signed_in.post(VERIFY, {"code": code}, format="json").status_code == 200
    signed_in.credentials()
    sessions_before = AuthSession.objects.filter(user=user).count()
    token = mfa_token(signed_in, user.email)
    r = verify_login(signed_in, token, code)
    assert r.status_code == 401
    assert AuthSession.objects.filter(user=user).count() == sessions_before


def test_enabling_ends_other_sessions_but_not_the_calling_one(api, user, clock):
    from rest_framework.test import APIClient

    other = APIClient()
    other_access = login(other, user.email).json()["access"]
    bearer(other, other_access)
    assert other.get(ME).status_code == 200
    mfa_user = enable_mfa(api, user, clock)
    assert other.get(ME).status_code == 401
    bearer(api, mfa_user.access)
    r = api.get(ME)
    assert r.status_code == 200 and r.json()["mfa_enabled"] is True


# --- Notifications ---------------------------------------------------------------------------------


def test_enabling_sends_an_email_to_the_account(api, user, clock):
    mail.outbox.clear()
    enable_mfa(api, user, clock)
    assert [m.to for m in mail.outbox] == [[user.email]]
    assert "turned on" in mail.outbox[0].subject


def test_disabling_and_regenerating_send_emails(api, user_with_mfa, clock):
    bearer(api, user_with_mfa.access)
    mail.outbox.clear()
    r = api.post(reverse("mfa:mfa-recovery-codes"), {"code": totp_now(user_with_mfa.secret, clock.now)},
                 format="json")
    assert r.status_code == 200, r.content
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [user_with_mfa.email]
    assert "recovery codes" in mail.outbox[0].subject.lower()
    clock.advance(30)
    from tests.helpers import PASSWORD

    r = api.post(reverse("mfa:mfa-disable"),
                 {"password": PASSWORD, "code": totp_now(user_with_mfa.secret, clock.now)}, format="json")
    assert r.status_code == 200, r.content
    assert len(mail.outbox) == 2 and mail.outbox[1].to == [user_with_mfa.email]
    assert "turned off" in mail.outbox[1].subject
    # no email ever carries the secret or a code
    for message in mail.outbox:
        assert user_with_mfa.secret not in message.body
        assert not any(code in message.body for code in user_with_mfa.recovery_codes)
