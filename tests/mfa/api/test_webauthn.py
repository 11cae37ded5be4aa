"""Security keys and passkeys over the API (issue 13), driven by a software authenticator: every
row of the contract and its refusals, on every database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from mfa import factors
from mfa.models import AuthSession, MFAAccount, SecurityEvent, WebAuthnCeremony, WebAuthnCredential
from tests.helpers import PASSWORD, bearer, claims, login
from tests.mfa.helpers import ME, account_of
from tests.webauthn_authenticator import SoftAuthenticator, b64url

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("webauthn_on")]


def post(api, name: str, body: dict, access: str | None = None, **kwargs):
    if access:
        bearer(api, access)
    r = api.post(reverse(name, kwargs=kwargs or None), body, format="json")
    api.credentials()
    return r


def add_key(api, access: str, device: SoftAuthenticator, *, passkey: bool = False, name: str = "My key"):
    r = post(api, "mfa:webauthn-register-options", {"passkey": passkey}, access)
    assert r.status_code == 200, r.content
    body = r.json()
    credential = device.create(body["publicKey"])
    return post(api, "mfa:webauthn-register-verify",
                {"ceremony_id": body["ceremony_id"], "credential": credential, "name": name}, access)


def key_login(api, email: str, device: SoftAuthenticator, password: str = PASSWORD):
    token = login(api, email, password).json()["mfa_token"]
    r = post(api, "mfa:mfa-login-webauthn-options", {"mfa_token": token})
    assert r.status_code == 200, r.content
    options = r.json()
    return post(api, "mfa:mfa-login-webauthn-verify", {
        "mfa_token": token, "ceremony_id": options["ceremony_id"], "credential": device.get(options["publicKey"]),
    })


def passkey_login(api, device: SoftAuthenticator, *, options: dict | None = None, tamper=None):
    """Sign in with the device's passkey alone: fresh passkey login options unless ``options`` (a
    ceremony's ``{ceremony_id, publicKey}``) are given; ``tamper`` may change the answer first."""
    if options is None:
        r = post(api, "mfa:passkey-login-options", {})
        assert r.status_code == 200, r.content
        options = r.json()
    credential = device.get(options["publicKey"])
    if tamper is not None:
        tamper(credential)
    return post(api, "mfa:passkey-login-verify", {"ceremony_id": options["ceremony_id"], "credential": credential})


@pytest.fixture
def keyed(api, user):
    """A user whose first factor is a security key (MFA on through it)."""
    device = SoftAuthenticator()
    access = login(api, user.email).json()["access"]
    r = add_key(api, access, device)
    assert r.status_code == 201, r.content
    return user, device, access, r.json()


@pytest.fixture
def passkey_user(api, user, settings):
    """Passkey login on, and a user whose first factor is a passkey."""
    settings.MFA = {**settings.MFA, "PASSKEY_LOGIN": True}
    device = SoftAuthenticator()
    access = login(api, user.email).json()["access"]
    assert add_key(api, access, device, passkey=True).status_code == 201
    return user, device


# --- Registration ----------------------------------------------------------------------------------


def test_the_first_key_turns_mfa_on_with_recovery_codes_and_ends_other_sessions(api, user):
    other = login(api, user.email).json()
    access = login(api, user.email).json()["access"]
    r = add_key(api, access, SoftAuthenticator(), name="Blue key")
    assert r.status_code == 201, r.content
    body = r.json()
    assert set(body) == {"id", "name", "passkey", "created_at", "recovery_codes"}
    assert body["name"] == "Blue key" and body["passkey"] is False and len(body["recovery_codes"]) == 10
    bearer(api, other["access"])
    assert api.get(ME).status_code == 401  # the other session ended
    bearer(api, access)
    me = api.get(ME).json()
    assert me["mfa_enabled"] is True and me["methods"] == ["webauthn"] and me["recovery_codes_left"] == 10
    api.credentials()
    r = login(api, user.email)
    assert r.json()["requires_mfa"] is True and r.json()["methods"] == ["webauthn", "recovery_code"]


def test_the_options_are_webauthn_json_with_the_accounts_handle_and_exclusions(api, keyed):
    user, device, access, _ = keyed
    # A second key needs a recent second factor: this session enrolled only.
    r = post(api, "mfa:webauthn-register-options", {"passkey": True}, access)
    assert r.status_code == 403 and r.json()["code"] == "reauthentication_required"
    fresh = key_login(api, user.email, device).json()["access"]
    r = post(api, "mfa:webauthn-register-options", {"passkey": True}, fresh)
    assert r.status_code == 200
    options = r.json()["publicKey"]
    handle = account_of(user).user_handle
    assert options["user"]["id"] == handle and len(handle) >= 43 and user.email not in handle
    assert options["rp"]["id"] == "localhost"
    assert [c["id"] for c in options["excludeCredentials"]] == [WebAuthnCredential.objects.get().credential_id]
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "required"


@pytest.mark.parametrize("value", ["true", "yes", 1, 0, None, []])
def test_register_options_take_passkey_as_a_json_boolean_only(api, user, value):
    """"passkey": "yes" or 1 is a 400, never read as true (a plain key would silently become a
    passkey, or the other way round); no ceremony is started."""
    access = login(api, user.email).json()["access"]
    r = post(api, "mfa:webauthn-register-options", {"passkey": value}, access)
    assert r.status_code == 400, r.content
    expected = "This field may not be null." if value is None else "true or false."
    assert r.json()["passkey"] == [expected]
    assert not WebAuthnCeremony.objects.exists()


def test_a_second_key_keeps_the_recovery_codes(api, keyed):
    user, device, _access, _first = keyed
    fresh = key_login(api, user.email, device).json()["access"]
    r = add_key(api, fresh, SoftAuthenticator(), passkey=True, name="Phone")
    assert r.status_code == 201 and "recovery_codes" not in r.json() and r.json()["passkey"] is True
    assert account_of(user).recovery_codes_left == 10 and account_of(user).key_count == 2
    stored = WebAuthnCredential.objects.get(name="Phone")
    assert stored.discoverable and stored.aaguid and stored.credential_id_hash and stored.public_key
    assert stored.credential_id not in stored.credential_id_hash
    assert SecurityEvent.objects.filter(type="factor_added", user=user).count() == 1


@pytest.mark.parametrize(
    "tamper",
    ["origin", "rp_id", "challenge", "replay", "other_user", "cross_origin", "bs_without_be", "garbage",
     "raw_id_not_attested"],
)
def test_registration_refusals_are_400_invalid_credential(api, user, make_user, tamper):
    access = login(api, user.email).json()["access"]
    device = SoftAuthenticator()
    r = post(api, "mfa:webauthn-register-options", {}, access)
    ceremony, options = r.json()["ceremony_id"], r.json()["publicKey"]
    if tamper == "origin":
        device.origin = "http://evil.localhost:8000"
    elif tamper == "rp_id":
        device.rp_id = "example.com"
    elif tamper == "challenge":
        options = {**options, "challenge": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}
    elif tamper == "cross_origin":
        device.cross_origin = True
    elif tamper == "bs_without_be":
        device.backed_up = True
    credential = device.create(options) if tamper != "garbage" else {"id": 1, "response": []}
    if tamper == "raw_id_not_attested":
        credential["id"] = credential["rawId"] = b64url(b"another id")
    if tamper == "replay":
        assert post(api, "mfa:webauthn-register-verify", {"ceremony_id": ceremony, "credential": credential},
                    access).status_code == 201
        credential = SoftAuthenticator().create(options)
        # (Adding a second key needs a recent second factor: give this session one, so that only
        # the used ceremony can refuse.)
        from django.utils import timezone

        AuthSession.objects.filter(pk=claims(access)["sid"]).update(second_factor_at=timezone.now())
    if tamper == "other_user":
        stranger = make_user("stranger@example.com")
        access = login(api, stranger.email).json()["access"]
    r = post(api, "mfa:webauthn-register-verify", {"ceremony_id": ceremony, "credential": credential}, access)
    assert r.status_code == 400, (tamper, r.content)
    assert r.json()["code"] == "invalid_credential", (tamper, r.content)
    expected = 1 if tamper == "replay" else 0
    assert WebAuthnCredential.objects.count() == expected


def test_a_credential_registered_to_anyone_is_refused(api, keyed, make_user):
    """Another authenticator attests a credential whose id is the first user's key's: the unique
    credential id refuses it (400), and nothing is stored for the second user."""
    _user, device, _access, _ = keyed
    first = WebAuthnCredential.objects.get()
    other = make_user("other@example.com")
    access = login(api, other.email).json()["access"]
    r = post(api, "mfa:webauthn-register-options", {}, access)
    taken = next(iter(device.credentials))
    credential = SoftAuthenticator().create(r.json()["publicKey"], credential_id=taken)
    r = post(api, "mfa:webauthn-register-verify", {"ceremony_id": r.json()["ceremony_id"], "credential": credential},
             access)
    assert r.status_code == 400 and r.json()["code"] == "invalid_credential", r.content
    assert list(WebAuthnCredential.objects.values_list("pk", "user", "public_key")) == [
        (first.pk, first.user_id, first.public_key)]
    assert account_of(other).key_count == 0
    assert not SecurityEvent.objects.filter(user=other, type__in=["factor_added", "mfa_enabled"]).exists()
    bearer(api, access)
    me = api.get(ME).json()
    assert me["mfa_enabled"] is False and me["methods"] == [] and me["recovery_codes_left"] == 0


def test_finishing_a_registration_needs_a_recent_second_factor_too(api, keyed):
    """The step-up is checked when the key is added, not only when its options are asked for: a
    second factor that got older than 5 minutes in between is refused, and nothing is stored."""
    user, device, _access, _ = keyed
    fresh = key_login(api, user.email, device).json()["access"]
    r = post(api, "mfa:webauthn-register-options", {}, fresh)
    assert r.status_code == 200, r.content
    AuthSession.objects.filter(pk=claims(fresh)["sid"]).update(
        second_factor_at=timezone.now() - timedelta(minutes=5, seconds=1))
    credential = SoftAuthenticator().create(r.json()["publicKey"])
    r = post(api, "mfa:webauthn-register-verify", {"ceremony_id": r.json()["ceremony_id"], "credential": credential},
             fresh)
    assert r.status_code == 403 and r.json()["code"] == "reauthentication_required", r.content
    assert WebAuthnCredential.objects.count() == 1 and account_of(user).key_count == 1


def test_a_passkey_registration_without_user_verification_is_refused(api, user):
    """A passkey is the only factor at passkey login, so it must verify its user: an authenticator
    that answers a passkey registration without UV is refused (the same one is fine as a plain key)."""
    access = login(api, user.email).json()["access"]
    r = add_key(api, access, SoftAuthenticator(uv=False), passkey=True)
    assert r.status_code == 400 and r.json()["code"] == "invalid_credential", r.content
    assert WebAuthnCredential.objects.count() == 0
    assert account_of(user).key_count == 0
    r = add_key(api, access, SoftAuthenticator(uv=False), passkey=False)
    assert r.status_code == 201 and r.json()["passkey"] is False


# --- Second factor at login --------------------------------------------------------------------------


def test_a_key_completes_the_login_with_hwk_pin_and_mfa(api, keyed):
    user, device, _a, _ = keyed
    r = key_login(api, user.email, device)
    assert r.status_code == 200, r.content
    amr = claims(r.json()["access"])["amr"]
    assert amr == ["pwd", "hwk", "pin", "mfa"]
    device.uv = False
    assert claims(key_login(api, user.email, device).json()["access"])["amr"] == ["pwd", "hwk", "mfa"]
    synced = SoftAuthenticator(backup_eligible=True, backed_up=True)
    fresh = key_login(api, user.email, device).json()["access"]
    add_key(api, fresh, synced, passkey=True)
    assert claims(key_login(api, user.email, synced).json()["access"])["amr"][1] == "swk"


def test_login_options_list_the_users_keys(api, keyed):
    user, _device, _a, _ = keyed
    token = login(api, user.email).json()["mfa_token"]
    options = post(api, "mfa:mfa-login-webauthn-options", {"mfa_token": token}).json()["publicKey"]
    assert [c["id"] for c in options["allowCredentials"]] == [WebAuthnCredential.objects.get().credential_id]
    r = post(api, "mfa:mfa-login-webauthn-options", {"mfa_token": "not-a-token"})
    assert r.status_code == 401 and r.json()["code"] == "invalid_mfa_token"


@pytest.mark.parametrize("tamper", ["origin", "rp_id", "counter", "cross_origin", "ceremony_of_another_token",
                                    "replayed_ceremony", "other_users_key"])
def test_login_refusals_are_401_and_count_in_the_lockout(api, keyed, make_user, clock, tamper):
    user, device, _a, _ = keyed
    token = login(api, user.email).json()["mfa_token"]
    options = post(api, "mfa:mfa-login-webauthn-options", {"mfa_token": token}).json()
    ceremony, public_key = options["ceremony_id"], options["publicKey"]
    signer = device
    if tamper == "origin":
        device.origin = "http://localhost:9999"
    elif tamper == "rp_id":
        device.rp_id = "evil.example"
    elif tamper == "counter":
        device.get(public_key)  # the stored count is now 1 on the device side only
        key_login(api, user.email, device)  # the server stores 2
        device.counter = 1
    elif tamper == "cross_origin":
        device.cross_origin = True
    elif tamper == "ceremony_of_another_token":
        token = login(api, user.email).json()["mfa_token"]
    elif tamper == "replayed_ceremony":
        good = post(api, "mfa:mfa-login-webauthn-verify",
                    {"mfa_token": token, "ceremony_id": ceremony, "credential": device.get(public_key)})
        assert good.status_code == 200
        token = login(api, user.email).json()["mfa_token"]
    elif tamper == "other_users_key":
        other = make_user("other@example.com")
        signer = SoftAuthenticator()
        add_key(api, login(api, other.email).json()["access"], signer)
    before = account_of(user).failure_count
    mail.outbox.clear()
    if signer is device:
        credential = device.get(public_key)
    else:  # the other user's key signs this login's challenge
        credential = signer.get({**public_key, "allowCredentials": []}, credential_id=next(iter(signer.credentials)))
    r = post(api, "mfa:mfa-login-webauthn-verify", {"mfa_token": token, "ceremony_id": ceremony, "credential": credential})
    assert r.status_code == 401 and r.json()["code"] == "invalid_credential", (tamper, r.content)
    assert account_of(user).failure_count == before + 1
    if tamper == "counter":
        assert SecurityEvent.objects.filter(type="key_counter_regression", user=user).count() == 1
        # the owner is told, once the refusal's writes are committed
        assert [m.to for m in mail.outbox if "copied" in m.subject] == [[user.email]]


def test_a_user_without_a_key_gets_no_key_options(api, user_with_mfa, make_user, clock):
    """A key as second factor (login or re-authentication) needs a key: a TOTP-only account and a
    user without any MFA account are both 400 mfa_not_enabled, and no ceremony is started."""
    token = login(api, user_with_mfa.email).json()["mfa_token"]
    r = post(api, "mfa:mfa-login-webauthn-options", {"mfa_token": token})
    assert r.status_code == 400 and r.json()["code"] == "mfa_not_enabled", r.content
    plain = make_user("plain@example.com")
    access = login(api, plain.email).json()["access"]
    assert not MFAAccount.objects.filter(user=plain).exists()
    r = post(api, "mfa:auth-reauthenticate-webauthn-options", {}, access)
    assert r.status_code == 400 and r.json()["code"] == "mfa_not_enabled", r.content
    assert not WebAuthnCeremony.objects.exists()


@pytest.mark.parametrize(("registered_be", "amr"), [(False, "hwk"), (True, "swk")])
def test_a_key_whose_backup_eligibility_changed_is_refused_and_counted(api, user, registered_be, amr):
    """The stored BE decides "hwk" or "swk" in the login's amr; an answer claiming otherwise is
    refused (WebAuthn L3 7.2) and counts as a wrong second factor."""
    device = SoftAuthenticator(backup_eligible=registered_be)
    assert add_key(api, login(api, user.email).json()["access"], device).status_code == 201
    r = key_login(api, user.email, device)
    assert r.status_code == 200 and amr in claims(r.json()["access"])["amr"], r.content
    device.backup_eligible = not registered_be
    r = key_login(api, user.email, device)
    assert r.status_code == 401 and r.json()["code"] == "invalid_credential", r.content
    assert account_of(user).failure_count == 1


def test_synced_passkeys_sending_zero_counts_are_accepted(api, keyed):
    user, device, _a, _ = keyed
    device.counter = 0
    assert key_login(api, user.email, device).status_code == 200
    assert key_login(api, user.email, device).status_code == 200


def test_a_locked_account_refuses_even_a_right_key(api, keyed, clock):
    user, device, _a, _ = keyed
    MFAAccount.objects.filter(user=user).update(failure_count=5, locked_until=clock.now.replace(year=2099))
    r = key_login(api, user.email, device)
    assert r.status_code == 429 and r.json()["code"] == "mfa_locked"


# --- Credentials -------------------------------------------------------------------------------------


def test_list_rename_and_remove(api, keyed, make_user):
    user, device, access, _first = keyed
    bearer(api, access)
    rows = api.get(reverse("mfa:webauthn-credentials-list")).json()
    assert isinstance(rows, list) and len(rows) == 1
    assert set(rows[0]) == {"id", "name", "passkey", "backed_up", "created_at", "last_used_at"}
    key_id = rows[0]["id"]
    r = api.patch(reverse("mfa:webauthn-credentials-detail", kwargs={"pk": key_id}), {"name": "Work key"}, format="json")
    assert r.status_code == 200 and r.json()["name"] == "Work key"
    assert SecurityEvent.objects.filter(type="key_renamed").count() == 1
    # Another user's key is 404.
    other = make_user("other@example.com")
    bearer(api, login(api, other.email).json()["access"])
    assert api.patch(reverse("mfa:webauthn-credentials-detail", kwargs={"pk": key_id}), {"name": "x"},
                     format="json").status_code == 404
    assert api.delete(reverse("mfa:webauthn-credentials-detail", kwargs={"pk": key_id})).status_code == 404
    # Removing needs a recent second factor; the last factor turns MFA off.
    bearer(api, access)
    r = api.delete(reverse("mfa:webauthn-credentials-detail", kwargs={"pk": key_id}))
    assert r.status_code == 403 and r.json()["code"] == "reauthentication_required"
    fresh = key_login(api, user.email, device).json()["access"]
    bearer(api, fresh)
    assert api.delete(reverse("mfa:webauthn-credentials-detail", kwargs={"pk": key_id})).status_code == 204
    me = api.get(ME).json()
    assert me["mfa_enabled"] is False and me["methods"] == [] and me["recovery_codes_left"] == 0
    assert SecurityEvent.objects.filter(type="mfa_disabled", user=user).count() == 1


# --- Re-authentication, passkey login -----------------------------------------------------------------


def test_reauthenticate_with_a_key(api, keyed, clock):
    _user, device, access, _ = keyed
    r = post(api, "mfa:auth-reauthenticate-webauthn-options", {}, access)
    assert r.status_code == 200, r.content
    options = r.json()
    r = post(api, "mfa:auth-reauthenticate-webauthn-verify",
             {"ceremony_id": options["ceremony_id"], "credential": device.get(options["publicKey"])}, access)
    assert r.status_code == 200 and set(r.json()) == {"access"}
    session = AuthSession.objects.get(pk=claims(access)["sid"])
    assert session.second_factor_at == clock.now
    assert "hwk" in claims(r.json()["access"])["amr"]


def test_passkey_login_is_404_when_off(api):
    for name in ("mfa:passkey-login-options", "mfa:passkey-login-verify"):
        r = post(api, name, {})
        assert r.status_code == 404 and r.json()["code"] == "passkey_login_disabled"


def test_passkey_login_when_on(api, user, settings):
    settings.MFA = {**settings.MFA, "PASSKEY_LOGIN": True}
    passkey = SoftAuthenticator()
    access = login(api, user.email).json()["access"]
    assert add_key(api, access, passkey, passkey=True).status_code == 201
    r = post(api, "mfa:passkey-login-options", {})
    options = r.json()
    assert options["publicKey"].get("allowCredentials", []) == []
    assert options["publicKey"]["userVerification"] == "required"
    r = post(api, "mfa:passkey-login-verify",
             {"ceremony_id": options["ceremony_id"], "credential": passkey.get(options["publicKey"])})
    assert r.status_code == 200, r.content
    assert claims(r.json()["access"])["amr"] == ["hwk", "pin", "mfa"]
    # Without UV, or without userHandle: refused.
    for knob in ("uv", "omit_user_handle"):
        device = SoftAuthenticator()
        device.credentials = passkey.credentials
        if knob == "uv":
            device.uv = False
        else:
            device.omit_user_handle = True
        options = post(api, "mfa:passkey-login-options", {}).json()
        r = post(api, "mfa:passkey-login-verify",
                 {"ceremony_id": options["ceremony_id"], "credential": device.get(options["publicKey"])})
        assert r.status_code == 401, (knob, r.content)


def test_webauthn_endpoints_answer_503_when_not_configured(api, user, settings):
    settings.MFA = {**settings.MFA, "WEBAUTHN_ORIGINS": None}
    settings.DEBUG = False
    access = login(api, user.email).json()["access"]
    r = post(api, "mfa:webauthn-register-options", {}, access)
    assert r.status_code == 503 and r.json()["code"] == "webauthn_not_configured"


def test_a_totp_user_adds_a_key_after_a_recent_code(api, user_with_mfa, clock):
    from tests.helpers import mfa_login

    pair = mfa_login(api, user_with_mfa, clock)
    r = add_key(api, pair["access"], SoftAuthenticator())
    assert r.status_code == 201 and "recovery_codes" not in r.json()
    bearer(api, pair["access"])
    assert api.get(ME).json()["methods"] == ["totp", "webauthn"]
    assert len(mail.outbox) >= 1
    api.credentials()
    assert login(api, user_with_mfa.email).json()["methods"] == ["totp", "webauthn", "recovery_code"]
    # TOTP removed alone: MFA stays on with the key.
    clock.advance(30)
    bearer(api, mfa_login(api, user_with_mfa, clock)["access"])
    assert api.delete(reverse("mfa:mfa-totp")).status_code == 204
    assert api.get(ME).json()["methods"] == ["webauthn"]


def test_a_key_login_may_trust_the_device(api, keyed):
    user, device, _a, _ = keyed
    token = login(api, user.email).json()["mfa_token"]
    options = post(api, "mfa:mfa-login-webauthn-options", {"mfa_token": token}).json()
    r = post(api, "mfa:mfa-login-webauthn-verify", {
        "mfa_token": token, "ceremony_id": options["ceremony_id"], "credential": device.get(options["publicKey"]),
        "trust_device": True,
    })
    assert r.status_code == 200 and r.json()["device_token"]
    r = api.post(reverse("mfa:auth-login"),
                 {"email": user.email, "password": PASSWORD, "device_token": r.json()["device_token"]}, format="json")
    assert r.json()["requires_mfa"] is False and claims(r.json()["access"])["amr"] == ["pwd", "tdev"]


def test_a_failed_answer_uses_the_ceremony_up_too(api, keyed):
    """The ceremony is consumed before the answer is checked: after a refused answer, the right
    one with the same ceremony is refused as well."""
    user, device, _a, _ = keyed
    token = login(api, user.email).json()["mfa_token"]
    options = post(api, "mfa:mfa-login-webauthn-options", {"mfa_token": token}).json()
    device.origin = "http://localhost:9999"
    bad = device.get(options["publicKey"])
    r = post(api, "mfa:mfa-login-webauthn-verify", {"mfa_token": token, "ceremony_id": options["ceremony_id"], "credential": bad})
    assert r.status_code == 401
    device.origin = "http://localhost:8000"
    good = device.get(options["publicKey"])
    r = post(api, "mfa:mfa-login-webauthn-verify", {"mfa_token": token, "ceremony_id": options["ceremony_id"], "credential": good})
    assert r.status_code == 401 and r.json()["code"] == "invalid_credential"


def test_passkey_login_off_answers_before_reading_the_body(api):
    for name in ("mfa:passkey-login-options", "mfa:passkey-login-verify"):
        r = api.post(reverse(name), "{not json", content_type="application/json")
        assert r.status_code == 404 and r.json()["code"] == "passkey_login_disabled"


def test_a_ceremony_of_another_kind_is_refused_at_passkey_login(api, passkey_user):
    """A registration ceremony's challenge signed by the passkey does not sign anyone in: the
    ceremony's kind is checked (a passkey login binds no user or session that would refuse it)."""
    _user, device = passkey_user
    r = passkey_login(api, device)
    assert r.status_code == 200, r.content
    options = post(api, "mfa:webauthn-register-options", {}, r.json()["access"])
    assert options.status_code == 200, options.content
    sessions_before = AuthSession.objects.count()
    r = passkey_login(api, device, options=options.json())
    assert r.status_code == 401 and r.json()["code"] == "invalid_credential", r.content
    assert AuthSession.objects.count() == sessions_before


def test_a_ceremony_is_refused_five_minutes_after_it_started(api, clock, passkey_user):
    _user, device = passkey_user
    early = post(api, "mfa:passkey-login-options", {}).json()
    late = post(api, "mfa:passkey-login-options", {}).json()
    clock.advance(5 * 60 - 1)
    assert passkey_login(api, device, options=early).status_code == 200
    clock.advance(1)
    r = passkey_login(api, device, options=late)
    assert r.status_code == 401 and r.json()["code"] == "invalid_credential", r.content


def test_passkey_login_refuses_a_user_handle_that_is_not_the_key_owners(api, passkey_user, make_user):
    """The key is found by its id, and the userHandle must be its owner's: an answer claiming
    another account's handle is refused, and nobody is signed in."""
    _user, device = passkey_user
    other = make_user("other@example.com")
    handle = factors.account_of(other, create=True).user_handle

    def claim_other(credential):
        credential["response"]["userHandle"] = handle

    sessions_before = AuthSession.objects.count()
    r = passkey_login(api, device, tamper=claim_other)
    assert r.status_code == 401 and r.json()["code"] == "invalid_credential", r.content
    assert AuthSession.objects.count() == sessions_before


def test_passkey_login_refuses_an_inactive_owner(api, passkey_user):
    user, device = passkey_user
    type(user).objects.filter(pk=user.pk).update(is_active=False)
    sessions_before = AuthSession.objects.count()
    r = passkey_login(api, device)
    assert r.status_code == 401 and r.json()["code"] == "invalid_credential", r.content
    assert AuthSession.objects.count() == sessions_before


def test_passkey_login_refuses_a_locked_account_until_the_lock_ends(api, clock, passkey_user):
    user, device = passkey_user
    MFAAccount.objects.filter(user=user).update(failure_count=5, locked_until=clock.now + timedelta(minutes=10))
    r = passkey_login(api, device)
    assert r.status_code == 429 and r.json()["code"] == "mfa_locked", r.content
    assert r["Retry-After"] == "600"
    clock.advance(10 * 60)
    assert passkey_login(api, device).status_code == 200
