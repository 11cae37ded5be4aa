"""Trusted devices in the browser (issue 14): "Trust this browser" at the challenge, the cookie,
a sign-in that skips the challenge, a second person on the same browser, the trusted devices page,
sign out (keeps trust) and sign out everywhere (forgets it), the admin."""

from __future__ import annotations

import json

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.core import signing
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.urls import reverse

from mfa.models import AuthSession, SecurityEvent, TrustedDevice
from mfa.pages import trust
from tests.helpers import PASSWORD, enable_mfa, totp_now
from tests.webauthn_authenticator import SoftAuthenticator

pytestmark = pytest.mark.django_db(transaction=True)

AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36"
COOKIE = "mfa_trust"  # over plain HTTP with SECURE_COOKIES off (the test settings)
LOGIN, CHALLENGE, HOME = "mfa_pages:login", "mfa_pages:challenge", "mfa_pages:home"
DAY = 24 * 3600


def password_step(browser: Client, email: str, **extra):
    return browser.post(reverse(LOGIN), {"username": email, "password": PASSWORD}, **extra)


def challenge(browser: Client, mfa_user, clock, *, trust_device: bool = True, **extra):
    clock.advance(30)  # a fresh TOTP step each time (a code is accepted once)
    data = {"code": totp_now(mfa_user.secret, clock.now)}
    if trust_device:
        data["trust_device"] = "on"
    r = browser.post(reverse(CHALLENGE), data, **extra)
    assert r.status_code == 302, r.content
    return r


def sign_out(browser: Client) -> None:
    assert browser.post(reverse("mfa_pages:logout")).status_code in (200, 302)


def is_challenged(r, browser: Client) -> bool:
    """The sign-in was accepted but waits for the second factor: the account page sends the
    browser to the challenge."""
    if r.status_code != 302 or "mfa.pending" not in browser.session:
        return False
    return browser.get(reverse(HOME))["Location"].startswith(reverse(CHALLENGE))


def this_row(browser: Client) -> AuthSession:
    return AuthSession.objects.get(pk=browser.session["mfa.sid"])


@pytest.fixture
def browser() -> Client:
    return Client(HTTP_USER_AGENT=AGENT)


@pytest.fixture
def trusted(browser, user_with_mfa, clock) -> Client:
    """A browser that signed in with a code and ticked "Trust this browser"."""
    assert is_challenged(password_step(browser, user_with_mfa.email), browser)
    challenge(browser, user_with_mfa, clock)
    return browser


@pytest.fixture
def bob(make_user, clock):
    from rest_framework.test import APIClient

    mfa_user = enable_mfa(APIClient(), make_user("bob@example.com"), clock)
    clock.advance(30)
    return mfa_user


# --- Trusting at the challenge -------------------------------------------------------------------------


def test_the_challenge_offers_to_trust_the_browser_for_the_configured_days(browser, user_with_mfa, settings):
    password_step(browser, user_with_mfa.email)
    page = browser.get(reverse(CHALLENGE)).content.decode()
    assert "Trust this browser for 30 days" in page and 'name="trust_device"' in page
    settings.MFA = {**settings.MFA, "TRUST_DAYS": 1}
    assert "Trust this browser for 1 day" in browser.get(reverse(CHALLENGE)).content.decode()
    settings.MFA = {**settings.MFA, "TRUST_DAYS": 0}
    assert 'name="trust_device"' not in browser.get(reverse(CHALLENGE)).content.decode()


def test_trusting_at_the_challenge_records_the_device_and_sets_an_http_only_lax_cookie(
    browser, user_with_mfa, clock
):
    password_step(browser, user_with_mfa.email)
    r = challenge(browser, user_with_mfa, clock)
    device = TrustedDevice.objects.get(user=user_with_mfa.user)
    assert device.name == "Chrome on Linux"
    assert this_row(browser).trusted_device_id == device.pk
    assert this_row(browser).amr_list == ["pwd", "otp", "mfa"]
    cookie = r.cookies[COOKIE]
    assert cookie["httponly"] is True and cookie["samesite"] == "Lax" and cookie["path"] == "/"
    assert cookie["max-age"] == 30 * DAY and not cookie["domain"]
    assert not cookie["secure"]  # plain HTTP with SECURE_COOKIES off (DEBUG-like)
    assert "__Host-mfa_trust" not in r.cookies
    # A signed map: a keyed tag of the user's id (not the id) to the device token, which the
    # database holds only as a keyed hash.
    entries = signing.loads(cookie.value, salt="mfa.pages.trust")
    ((tag, token),) = entries.items()
    assert tag == trust._user_tag(user_with_mfa.user) != str(user_with_mfa.user.pk)
    assert trust.token_for(_request_with(cookie.value), user_with_mfa.user) == token
    assert token not in str(list(TrustedDevice.objects.values()))
    assert SecurityEvent.objects.filter(type="device_trusted").count() == 1


def test_over_https_the_cookie_is_secure_and_host_prefixed(browser, user_with_mfa, clock):
    password_step(browser, user_with_mfa.email, secure=True)
    r = challenge(browser, user_with_mfa, clock, secure=True)
    assert COOKIE not in r.cookies
    cookie = r.cookies["__Host-mfa_trust"]
    assert cookie["secure"] is True and cookie["path"] == "/" and not cookie["domain"]
    assert cookie["httponly"] is True and cookie["samesite"] == "Lax"
    sign_out(browser)
    r = password_step(browser, user_with_mfa.email, secure=True)
    assert r.status_code == 302 and r["Location"] == reverse(HOME)


def test_without_the_box_nothing_is_trusted(browser, user_with_mfa, clock):
    password_step(browser, user_with_mfa.email)
    r = challenge(browser, user_with_mfa, clock, trust_device=False)
    assert COOKIE not in r.cookies and not TrustedDevice.objects.exists()


def test_trust_days_zero_ignores_the_box(browser, user_with_mfa, clock, settings):
    settings.MFA = {**settings.MFA, "TRUST_DAYS": 0}
    password_step(browser, user_with_mfa.email)
    r = challenge(browser, user_with_mfa, clock)
    assert COOKIE not in r.cookies and not TrustedDevice.objects.exists()


def test_the_cookie_keeps_the_ten_users_written_last(make_user):
    users = [make_user() for _ in range(trust.MAX_USERS + 1)]
    value = ""
    for i, person in enumerate(users):
        response = HttpResponse()
        trust.remember(_request_with(value), response, person, f"token-{i:02d}-" + "x" * 40)
        value = response.cookies[COOKIE].value
    assert len(value) < 2000  # far under the 4 KB a browser keeps
    request = _request_with(value)
    assert trust.token_for(request, users[0]) is None  # written longest ago: gone
    assert [trust.token_for(request, p)[:8] for p in users[1:]] == [f"token-{i:02d}" for i in range(1, 11)]


# --- The next sign-in ----------------------------------------------------------------------------------


def test_the_next_sign_in_skips_the_challenge_with_amr_pwd_tdev(trusted, user_with_mfa, clock):
    device = TrustedDevice.objects.get()
    sign_out(trusted)  # signing out does not forget trust
    assert TrustedDevice.objects.filter(pk=device.pk).exists()
    clock.advance(3600)
    r = password_step(trusted, user_with_mfa.email)
    assert r.status_code == 302 and r["Location"] == reverse(HOME)
    assert trusted.get(reverse(HOME)).status_code == 200
    row = this_row(trusted)
    assert row.amr_list == ["pwd", "tdev"] and row.trusted_device_id == device.pk
    assert row.second_factor_at is None  # never a second factor: step-up still asks for one
    device.refresh_from_db()
    assert device.last_used_at == clock.now


def test_a_wrong_password_is_refused_even_on_a_trusted_browser(trusted, user_with_mfa):
    sign_out(trusted)
    r = trusted.post(reverse(LOGIN), {"username": user_with_mfa.email, "password": "wrong wrong wrong"})
    assert r.status_code == 200 and "_auth_user_id" not in trusted.session
    assert SecurityEvent.objects.filter(type="login_failed").count() == 1


def test_a_second_user_on_the_same_browser_still_gets_the_challenge(trusted, user_with_mfa, bob, clock):
    sign_out(trusted)
    assert is_challenged(password_step(trusted, bob.email), trusted)
    # Bob trusts it too: the cookie then holds both, and each skips the challenge.
    challenge(trusted, bob, clock)
    entries = signing.loads(trusted.cookies[COOKIE].value, salt="mfa.pages.trust")
    assert len(entries) == 2
    for person in (user_with_mfa, bob):
        sign_out(trusted)
        r = password_step(trusted, person.email)
        assert r["Location"] == reverse(HOME)
        assert this_row(trusted).user_id == person.user.pk and this_row(trusted).amr_list == ["pwd", "tdev"]


def test_a_token_of_another_user_is_ignored(trusted, user_with_mfa, bob):
    # Alice's token copied under Bob's entry: it names Alice's device, so Bob is challenged.
    token = trust.token_for(_request(trusted), user_with_mfa.user)
    forged = {trust._user_tag(bob.user): token}
    trusted.cookies[COOKIE] = signing.dumps(forged, salt="mfa.pages.trust", compress=True)
    sign_out(trusted)
    assert is_challenged(password_step(trusted, bob.email), trusted)


def test_a_tampered_cookie_is_ignored(trusted, user_with_mfa):
    sign_out(trusted)
    trusted.cookies[COOKIE] = trusted.cookies[COOKIE].value[:-2] + "xx"
    assert is_challenged(password_step(trusted, user_with_mfa.email), trusted)
    trusted.cookies[COOKIE] = "not a cookie of ours"
    assert is_challenged(password_step(trusted, user_with_mfa.email), trusted)


def test_an_expired_device_is_ignored_and_its_entry_dropped(trusted, user_with_mfa, clock):
    sign_out(trusted)
    clock.advance(30 * DAY + 1)
    r = password_step(trusted, user_with_mfa.email)
    assert is_challenged(r, trusted)
    assert r.cookies[COOKIE].value == "" and r.cookies[COOKIE]["max-age"] == 0  # its only entry


def test_signing_in_on_a_trusted_browser_never_extends_its_expiry(browser, user_with_mfa, clock, settings):
    settings.MFA = {**settings.MFA, "TRUST_DAYS": 1}
    password_step(browser, user_with_mfa.email)
    challenge(browser, user_with_mfa, clock)
    expires_at = TrustedDevice.objects.get().expires_at
    sign_out(browser)
    clock.advance(DAY - 60)
    r = password_step(browser, user_with_mfa.email)
    assert r["Location"] == reverse(HOME) and this_row(browser).amr_list == ["pwd", "tdev"]
    device = TrustedDevice.objects.get()
    assert device.last_used_at == clock.now and device.expires_at == expires_at
    sign_out(browser)
    clock.advance(61)  # a day after the code: the trust is over, however recently it was used
    assert is_challenged(password_step(browser, user_with_mfa.email), browser)


def test_a_password_change_ends_the_trust(trusted, user_with_mfa, clock):
    r = trusted.post(reverse("mfa_pages:password_change"), {
        "current_password": PASSWORD, "new_password1": "a new long passphrase", "new_password2": "a new long passphrase",
    })
    assert r.status_code == 302
    assert not TrustedDevice.objects.exists()
    sign_out(trusted)
    r = trusted.post(reverse(LOGIN), {"username": user_with_mfa.email, "password": "a new long passphrase"})
    assert is_challenged(r, trusted)


def test_a_key_at_the_challenge_may_trust_the_browser_too(user, clock, settings, browser):
    settings.MFA = {**settings.MFA, "WEBAUTHN_RP_ID": "localhost", "WEBAUTHN_ORIGINS": ["http://localhost:8000"]}
    key = SoftAuthenticator(resident=False)
    password_step(browser, user.email)
    options = _post_json(browser, "key_register_options", {}).json()
    r = _post_json(browser, "key_register_verify", {
        "ceremony_id": options["ceremony_id"], "credential": key.create(options["publicKey"]), "name": "Blue",
    })
    assert r.status_code == 201
    sign_out(browser)
    assert is_challenged(password_step(browser, user.email), browser)
    page = browser.get(reverse(CHALLENGE)).content.decode()
    assert 'data-trust-input="id_trust_device"' in page
    options = _post_json(browser, "challenge_key_options").json()
    r = _post_json(browser, "challenge_key_verify", {
        "ceremony_id": options["ceremony_id"], "credential": key.get(options["publicKey"]), "trust_device": True,
    })
    assert r.status_code == 200 and r.cookies[COOKIE]["httponly"] is True
    assert this_row(browser).trusted_device_id == TrustedDevice.objects.get().pk
    sign_out(browser)
    r = password_step(browser, user.email)
    assert r["Location"] == reverse(HOME) and this_row(browser).amr_list == ["pwd", "tdev"]


# --- The trusted devices page, sign out everywhere ---------------------------------------------------------


def test_the_page_lists_the_devices_and_marks_this_browser(trusted, user_with_mfa, clock):
    other = Client(HTTP_USER_AGENT="Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) Firefox/140.0")
    password_step(other, user_with_mfa.email)
    challenge(other, user_with_mfa, clock)
    assert reverse("mfa_pages:trusted_devices") == "/account/trusted-devices/"
    assert reverse("mfa_pages:trusted_devices") in trusted.get(reverse(HOME)).content.decode()
    page = trusted.get(reverse("mfa_pages:trusted_devices")).content.decode()
    assert "Chrome on Linux" in page and "Firefox on macOS" in page
    assert page.count("(this browser)") == 1 and "Chrome on Linux <strong>(this browser)</strong>" in page
    assert page.count(">Forget</button>") == 2 and ">Forget all</button>" in page


def test_forget_one_device(trusted, user_with_mfa, bob, clock):
    mine = TrustedDevice.objects.get(user=user_with_mfa.user)
    bobs = Client()
    password_step(bobs, bob.email)
    challenge(bobs, bob, clock)
    theirs = TrustedDevice.objects.get(user=bob.user)
    url = reverse("mfa_pages:forget_trusted_device", kwargs={"device_id": theirs.pk})
    r = trusted.post(url, follow=True)
    assert "That device was not found." in r.content.decode()  # another user's: untouched
    assert TrustedDevice.objects.filter(pk=theirs.pk).exists()
    assert trusted.get(reverse("mfa_pages:forget_trusted_device", kwargs={"device_id": mine.pk})).status_code == 405
    r = trusted.post(reverse("mfa_pages:forget_trusted_device", kwargs={"device_id": mine.pk}))
    assert r.status_code == 302 and not TrustedDevice.objects.filter(pk=mine.pk).exists()
    assert r.cookies[COOKIE]["max-age"] == 0  # this browser's entry goes with it
    sign_out(trusted)
    assert is_challenged(password_step(trusted, user_with_mfa.email), trusted)


def test_forget_all(trusted, user_with_mfa, clock):
    other = Client()
    password_step(other, user_with_mfa.email)
    challenge(other, user_with_mfa, clock)
    assert TrustedDevice.objects.count() == 2
    r = trusted.post(reverse("mfa_pages:forget_all_trusted_devices"), follow=True)
    assert "No device is trusted any more" in r.content.decode()
    assert not TrustedDevice.objects.exists()
    assert "No trusted devices." in r.content.decode()
    for browser in (trusted, other):
        sign_out(browser)
        assert is_challenged(password_step(browser, user_with_mfa.email), browser)


def test_sign_out_everywhere_ends_every_session_and_forgets_the_devices(trusted, user_with_mfa, clock):
    page = trusted.get(reverse("mfa_pages:sessions")).content.decode()
    assert reverse("mfa_pages:logout_everywhere") in page and "Sign out everywhere" in page
    assert trusted.get(reverse("mfa_pages:logout_everywhere")).status_code == 405
    r = trusted.post(reverse("mfa_pages:logout_everywhere"))
    assert r.status_code == 302 and r["Location"] == reverse(LOGIN)
    assert not TrustedDevice.objects.exists()
    assert not AuthSession.objects.filter(user=user_with_mfa.user, revoked_at=None).exists()
    assert trusted.get(reverse(HOME)).status_code == 302  # this browser is signed out too
    assert is_challenged(password_step(trusted, user_with_mfa.email), trusted)


# --- The admin -------------------------------------------------------------------------------------------


def test_the_admin_lists_and_revokes_trusted_devices(trusted, user_with_mfa, make_user):
    admin_user = make_user("admin@example.com", is_staff=True, is_superuser=True)
    admin = Client()
    assert admin.post("/admin/login/?next=/admin/", {"username": admin_user.email, "password": PASSWORD}).status_code == 302
    listing = "/admin/mfa/trusteddevice/"
    page = admin.get(listing).content.decode()
    assert "Chrome on Linux" in page and user_with_mfa.email in page
    assert "Revoke selected trusted devices" in page and "delete_selected" not in page
    assert "token_hash" not in page and "fingerprint" not in page
    assert admin.get(listing + "add/").status_code == 403
    device = TrustedDevice.objects.get()
    assert "Chrome on Linux" in admin.get(f"{listing}?q=alice@example").content.decode()
    assert "Chrome on Linux" not in admin.get(f"{listing}?q=nobody@example").content.decode()
    r = admin.post(listing, {"action": "revoke", "_selected_action": [str(device.pk)]}, follow=True)
    assert "1 trusted device revoked." in r.content.decode()
    assert not TrustedDevice.objects.exists()
    entry = LogEntry.objects.get(action_flag=DELETION)
    assert entry.object_id == str(device.pk) and entry.user_id == admin_user.pk
    assert SecurityEvent.objects.filter(type="trusted_devices_revoked").count() == 1


def test_the_admin_deletes_only_through_revoke_and_its_detail_shows_no_hash_or_fingerprint(
    trusted, user_with_mfa, make_user
):
    admin_user = make_user("admin@example.com", is_staff=True, is_superuser=True)
    admin = Client()
    assert admin.post("/admin/login/?next=/admin/", {"username": admin_user.email, "password": PASSWORD}).status_code == 302
    device = TrustedDevice.objects.get()
    detail = f"/admin/mfa/trusteddevice/{device.pk}/"
    r = admin.get(detail + "change/")
    page = r.content.decode()
    assert r.status_code == 200 and "Chrome on Linux" in page and user_with_mfa.email in page
    for secret in (device.token_hash, device.password_fingerprint, device.factors_fingerprint):
        assert secret not in page
    assert "token_hash" not in page and "fingerprint" not in page.lower()
    assert detail + "delete/" not in page  # no "Delete" link
    # The delete view is refused: a device is forgotten only by "Revoke" (its event, the admin log).
    assert admin.get(detail + "delete/").status_code == 403
    assert admin.post(detail + "delete/", {"post": "yes"}).status_code == 403
    admin.post("/admin/mfa/trusteddevice/", {"action": "delete_selected", "_selected_action": [str(device.pk)],
                                             "post": "yes"})
    assert TrustedDevice.objects.filter(pk=device.pk).exists()
    assert not LogEntry.objects.filter(action_flag=DELETION).exists()
    assert not SecurityEvent.objects.filter(type="trusted_devices_revoked").exists()


# --- helpers -----------------------------------------------------------------------------------------------


def _post_json(browser: Client, name: str, body: dict | None = None):
    return browser.post(reverse(f"mfa_pages:{name}"), json.dumps(body or {}), content_type="application/json")


def _request(browser: Client):
    """A request carrying ``browser``'s trust cookie (to read it as a view would)."""
    return _request_with(browser.cookies[COOKIE].value)


def _request_with(value: str):
    request = RequestFactory().get("/")
    request.COOKIES = {COOKIE: value}
    return request
