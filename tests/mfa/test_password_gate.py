"""One password gate for every door (issue 12): API login, browser login, admin login, mfa/disable
and re-authentication share one backoff, keyed on the identifier as authentication normalises it,
kept where no cache backend can shorten it, with events that name the account.

Each of the bypasses the issue reproduced has a test here that fails on the code before it.
"""

from __future__ import annotations

import time
import unicodedata

import pytest
from django.contrib.admin.sites import site as admin_site
from django.core import mail
from django.test import Client, RequestFactory
from django.urls import reverse

from mfa.models import AuthSession, PasswordBackoff, SecurityEvent
from tests.helpers import PASSWORD, bearer, login, totp_now
from tests.mfa.helpers import DISABLE

pytestmark = pytest.mark.django_db(transaction=True)

WRONG = "not the password at all"
FULLWIDTH_V = "\uff56"  # FULLWIDTH LATIN SMALL LETTER V; NFKC makes it "v"


def api_login(api, identifier: str, password: str, **extra):
    return api.post(reverse("mfa:auth-login"), {"email": identifier, "password": password}, format="json", **extra)


def page_login(client: Client, identifier: str, password: str, **extra):
    return client.post(reverse("mfa_pages:login"), {"username": identifier, "password": password}, **extra)


def admin_login(client: Client, identifier: str, password: str, **extra):
    return client.post(
        reverse("admin:login"), {"username": identifier, "password": password, "next": "/admin/"}, **extra
    )


def failures(type_: str = "login_failed") -> list[SecurityEvent]:
    return list(SecurityEvent.objects.filter(type=type_).order_by("created_at", "id"))


@pytest.fixture
def staff(make_user):
    return make_user("staff@example.com", is_staff=True, is_superuser=True)


@pytest.fixture
def fast_backoff(settings):
    settings.MFA = {**settings.MFA, "PASSWORD_LOCKOUT_THRESHOLD": 3, "LOCKOUT_BASE_SECONDS": 30}


# --- 1. The count survives on the file cache (it is no longer in the cache at all) ------------------


def test_the_streak_survives_a_lock_longer_than_the_file_caches_default_timeout(
    settings, tmp_path, api, user, clock, monkeypatch
):
    """FileBasedCache's generic incr() re-saved the counter with the default 300 s timeout, so after
    a lock longer than 5 minutes the streak was gone and the next guesses were free. The file cache
    and the site's clock both travel here; the count must carry on."""
    settings.CACHES = {"default": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(tmp_path),
    }}
    settings.MFA = {**settings.MFA, "PASSWORD_LOCKOUT_THRESHOLD": 3, "LOCKOUT_BASE_SECONDS": 200}
    real_time = time.time
    offset = [0.0]
    monkeypatch.setattr(time, "time", lambda: real_time() + offset[0])

    def travel(seconds: float) -> None:
        clock.advance(seconds)
        offset[0] += seconds

    for _ in range(4):  # the 3rd locks for 200 s, the 4th (after it) for 400 s: past 300 s
        assert api_login(api, user.email, WRONG).status_code == 401
        travel(401)
    r = api_login(api, user.email, WRONG)
    assert r.status_code == 401
    assert failures()[-1].details["consecutive_failures"] == 5  # not 1: the streak was kept
    r = api_login(api, user.email, PASSWORD)
    assert r.status_code == 429 and r.json()["code"] == "login_locked"
    assert int(r["Retry-After"]) > 300


def test_the_backoff_is_kept_in_the_database_without_the_address(api, user):
    api_login(api, user.email, WRONG)
    (row,) = PasswordBackoff.objects.all()
    assert row.failures == 1 and row.locked_until is None
    assert user.email not in str(row.__dict__) and "alice" not in row.key


# --- 2. The admin login goes through the gate --------------------------------------------------------


def test_the_admin_login_is_backed_off_and_recorded(staff, api, fast_backoff):
    browser = Client()
    for _ in range(3):
        r = admin_login(browser, staff.email, WRONG, REMOTE_ADDR="198.51.100.7")
        assert r.status_code == 200 and "_auth_user_id" not in browser.session
    events = failures()
    assert [e.details["door"] for e in events] == ["admin_login"] * 3
    assert all(e.user_id == staff.pk and e.ip == "198.51.100.7" for e in events)
    assert [e.details["consecutive_failures"] for e in events] == [1, 2, 3]
    # The right password is refused while the backoff lasts, at the admin and at every other door.
    r = admin_login(browser, staff.email, PASSWORD)
    assert "_auth_user_id" not in browser.session
    assert "Too many failed sign-ins" in r.content.decode()
    assert api_login(api, staff.email, PASSWORD).status_code == 429
    assert page_login(Client(), staff.email, PASSWORD).status_code == 429


def test_a_lock_from_the_api_closes_the_admin_door_too(staff, api, fast_backoff):
    for _ in range(3):
        api_login(api, staff.email, WRONG)
    browser = Client()
    admin_login(browser, staff.email, PASSWORD)
    assert "_auth_user_id" not in browser.session


def test_the_admin_login_still_signs_staff_in_and_mfa_staff_meet_the_challenge(staff, clock):
    browser = Client()
    r = admin_login(browser, staff.email, PASSWORD)
    assert r.status_code == 302 and browser.get("/admin/").status_code == 200
    assert AuthSession.objects.filter(user=staff, revoked_at=None).count() == 1


def test_the_admin_login_refuses_non_staff_after_a_right_password(user):
    browser = Client()
    r = admin_login(browser, user.email, PASSWORD)
    assert r.status_code == 200 and "_auth_user_id" not in browser.session


def test_the_admin_and_the_sign_in_page_share_the_apis_per_ip_login_limit(settings, staff, api):
    settings.MFA = {**settings.MFA, "IP_RATES": {**settings.MFA["IP_RATES"], "login": "3/min"}}
    ip = {"REMOTE_ADDR": "192.0.2.44"}
    assert api_login(api, staff.email, WRONG, **ip).status_code == 401
    assert page_login(Client(), staff.email, WRONG, **ip).status_code == 200
    assert admin_login(Client(), staff.email, WRONG, **ip).status_code == 200
    # The fourth request from that address, whichever door: refused before any password check.
    browser = Client()
    r = admin_login(browser, staff.email, PASSWORD, **ip)
    assert "_auth_user_id" not in browser.session and "Too many failed sign-ins" in r.content.decode()
    assert page_login(Client(), staff.email, PASSWORD, **ip).status_code == 429
    assert api_login(api, staff.email, PASSWORD, **ip).status_code == 429
    assert len(failures()) == 3  # the refused ones were not even checked
    assert page_login(Client(), staff.email, PASSWORD, REMOTE_ADDR="192.0.2.45").status_code == 302


# --- 3. Look-alike spellings share the canonical counter ---------------------------------------------


def test_a_fullwidth_spelling_shares_the_accounts_counter(make_user, api, fast_backoff):
    victim = make_user("victim@example.com")
    lookalike = FULLWIDTH_V + "ictim@example.com"
    assert unicodedata.normalize("NFKC", lookalike) == victim.email
    assert page_login(Client(), lookalike, WRONG).status_code == 200
    assert api_login(api, lookalike, WRONG).status_code == 401
    assert api_login(api, "  VICTIM@example.com ", WRONG).status_code == 401
    assert [e.details["consecutive_failures"] for e in failures()] == [1, 2, 3]
    assert all(e.user_id == victim.pk for e in failures())
    assert api_login(api, victim.email, PASSWORD).status_code == 429
    assert page_login(Client(), lookalike, PASSWORD).status_code == 429


def test_a_fullwidth_spelling_signs_in_on_every_door_alike(make_user, api):
    victim = make_user("victim@example.com")
    lookalike = FULLWIDTH_V + "ictim@example.com"
    assert api_login(api, lookalike, PASSWORD).json()["requires_mfa"] is False
    assert page_login(Client(), lookalike, PASSWORD).status_code == 302
    assert AuthSession.objects.filter(user=victim).count() == 2


# --- Events and notifications ------------------------------------------------------------------------


def test_failure_events_name_the_account_without_telling_the_caller(api, user):
    known = api_login(api, user.email, WRONG)
    unknown = api_login(api, "nobody@example.com", WRONG)
    assert known.status_code == unknown.status_code == 401
    assert known.content == unknown.content
    first, second = failures()
    assert first.user_id == user.pk and second.user_id is None
    assert first.details == {"consecutive_failures": 1, "door": "api_login"}


def test_the_owner_is_told_once_when_a_backoff_starts(api, user, clock, fast_backoff):
    for _ in range(3):
        api_login(api, user.email, WRONG)
    assert [m.to for m in mail.outbox] == [[user.email]]
    assert "wrong passwords" in mail.outbox[0].subject
    (locked,) = failures("login_locked")
    assert locked.user_id == user.pk and locked.details == {"retry_after": 30, "door": "api_login"}
    clock.advance(31)
    api_login(api, user.email, WRONG)  # the backoff grows: no second email
    assert len(mail.outbox) == 1
    assert [e.details["retry_after"] for e in failures("login_locked")] == [30, 60]


def test_no_notification_for_an_identifier_that_names_no_account(api, fast_backoff):
    for _ in range(4):
        api_login(api, "nobody@example.com", WRONG)
    assert mail.outbox == []
    assert api_login(api, "nobody@example.com", WRONG).status_code == 429


def test_a_success_clears_the_streak(api, user, fast_backoff):
    api_login(api, user.email, WRONG)
    api_login(api, user.email, WRONG)
    assert api_login(api, user.email, PASSWORD).status_code == 200
    assert not PasswordBackoff.objects.exists()
    api_login(api, user.email, WRONG)
    assert failures()[-1].details["consecutive_failures"] == 1


# --- Passwords are NFC on every door ---------------------------------------------------------------------

NFC_PASSWORD = "caf\u00e9 au lait 2026"  # "é" precomposed
NFD_PASSWORD = unicodedata.normalize("NFD", NFC_PASSWORD)  # "e" + combining acute


@pytest.mark.parametrize("door", ["api", "page", "admin"])
def test_a_decomposed_password_signs_in_on_every_door(make_user, api, door):
    person = make_user("cafe@example.com", NFC_PASSWORD, is_staff=True)
    assert NFD_PASSWORD != NFC_PASSWORD
    if door == "api":
        assert api_login(api, person.email, NFD_PASSWORD).status_code == 200
    else:
        browser = Client()
        (page_login if door == "page" else admin_login)(browser, person.email, NFD_PASSWORD)
        assert browser.session.get("_auth_user_id") == str(person.pk)


def test_a_password_stored_unnormalised_still_verifies(make_user, api):
    person = make_user("old@example.com", NFD_PASSWORD)  # set through a form that did not normalise
    assert api_login(api, person.email, NFD_PASSWORD).status_code == 200


@pytest.mark.parametrize("door", ["password_change", "mfa_disable", "reauthenticate"])
def test_a_decomposed_current_password_is_accepted_on_every_signed_in_door(make_user, api, clock, door):
    """The doors that confirm a signed-in user's password (check_account_password) normalise it as
    the sign-in doors do: the decomposed spelling of the stored (NFC) password is the password."""
    person = make_user("cafe@example.com", NFC_PASSWORD)
    r = api_login(api, person.email, NFC_PASSWORD)
    assert r.status_code == 200, r.content
    bearer(api, r.json()["access"])
    if door == "password_change":
        body = {"current_password": NFD_PASSWORD, "new_password": "a completely new passphrase"}
        r = api.post(reverse("mfa:password-change"), body, format="json")
        assert r.status_code == 204, r.content
    elif door == "mfa_disable":
        secret = api.post(reverse("mfa:mfa-setup"), {}, format="json").json()["secret"]
        assert api.post(reverse("mfa:mfa-verify"), {"code": totp_now(secret, clock.now)}, format="json").status_code == 200
        clock.advance(30)
        r = api.post(DISABLE, {"password": NFD_PASSWORD, "code": totp_now(secret, clock.now)}, format="json")
        assert r.status_code == 200 and r.json() == {"mfa_enabled": False}
    else:
        r = api.post(reverse("mfa:auth-reauthenticate"), {"password": NFD_PASSWORD}, format="json")
        assert r.status_code == 200, r.content
    assert failures() == []


def test_a_backoff_refuses_before_any_password_is_hashed(api, user, fast_backoff, monkeypatch):
    """While locked, no door authenticates or runs the hasher (the refusal costs no hash, and its
    time tells nothing about the password)."""
    from django.contrib.auth.hashers import get_hasher

    from mfa import password_gate

    def spy(calls: list[str], name: str, real):
        def counted(*args, **kwargs):
            calls.append(name)
            return real(*args, **kwargs)
        return counted

    access = api_login(api, user.email, PASSWORD).json()["access"]
    hashed: list[str] = []
    hasher = type(get_hasher())  # the suite's first hasher: it made and checks every password here
    for name in ("encode", "verify"):
        monkeypatch.setattr(hasher, name, spy(hashed, name, getattr(hasher, name)))
    authenticated: list[str] = []
    monkeypatch.setattr(password_gate, "authenticate", spy(authenticated, "authenticate", password_gate.authenticate))
    for _ in range(3):
        assert api_login(api, user.email, WRONG).status_code == 401
    assert hashed and authenticated  # the spies see every check that runs
    hashed.clear()
    authenticated.clear()
    assert api_login(api, user.email, PASSWORD).status_code == 429
    assert page_login(Client(), user.email, PASSWORD).status_code == 429
    bearer(api, access)
    r = api.post(reverse("mfa:auth-reauthenticate"), {"password": PASSWORD}, format="json")
    assert r.status_code == 429 and r.json()["code"] == "login_locked"
    r = api.post(reverse("mfa:password-change"), {"current_password": PASSWORD, "new_password": "a new passphrase 9"},
                 format="json")
    assert r.status_code == 429
    assert hashed == [] and authenticated == []


# --- mfa/disable is a door of the gate --------------------------------------------------------------


def test_wrong_passwords_at_mfa_disable_count_in_the_same_backoff(api, user_with_mfa, clock, fast_backoff):
    bearer(api, user_with_mfa.access)
    for _ in range(3):
        r = api.post(DISABLE, {"password": WRONG, "code": totp_now(user_with_mfa.secret, clock.now)},
                     format="json")
        assert r.status_code == 400 and r.json()["code"] == "invalid_password"
    assert [e.details["door"] for e in failures()] == ["mfa_disable"] * 3
    r = api.post(DISABLE, {"password": PASSWORD, "code": totp_now(user_with_mfa.secret, clock.now)},
                 format="json")
    assert r.status_code == 429 and r.json()["code"] == "login_locked"
    api.credentials()
    assert login(api, user_with_mfa.email).status_code == 429


# --- Browser logins: the pending state, last_login ----------------------------------------------------


def test_a_half_finished_browser_login_dies_with_a_password_change(user_with_mfa, clock):
    browser = Client()
    page_login(browser, user_with_mfa.email, PASSWORD)
    assert "mfa.pending" in browser.session
    person = user_with_mfa.user
    person.set_password("a brand new passphrase 7")
    person.save()
    r = browser.post(reverse("mfa_pages:challenge"), {"code": totp_now(user_with_mfa.secret, clock.now)})
    assert r.status_code == 302 and r["Location"] == reverse("mfa_pages:login")
    assert "_auth_user_id" not in browser.session
    assert not AuthSession.objects.filter(user=person, amr__contains="otp", revoked_at=None).exists()


def test_last_login_is_written_when_the_browser_login_completes(user_with_mfa, clock):
    person = user_with_mfa.user
    person.refresh_from_db()
    assert person.last_login is None  # the API login that set MFA up does not write it
    browser = Client()
    page_login(browser, person.email, PASSWORD)
    person.refresh_from_db()
    assert person.last_login is None  # the password step alone is not a login
    clock.advance(30)
    browser.post(reverse("mfa_pages:challenge"), {"code": totp_now(user_with_mfa.secret, clock.now)})
    person.refresh_from_db()
    assert person.last_login is not None


def test_last_login_is_written_for_a_password_only_browser_login(user):
    page_login(Client(), user.email, PASSWORD)
    user.refresh_from_db()
    assert user.last_login is not None


# --- Admin logout, the audit log -----------------------------------------------------------------------


def test_signing_out_of_the_admin_ends_its_session_row(staff):
    browser = Client()
    admin_login(browser, staff.email, PASSWORD)
    row = AuthSession.objects.get(user=staff)
    assert row.revoked_at is None
    r = browser.post(reverse("admin:logout"))
    assert r.status_code in (200, 302) and "_auth_user_id" not in browser.session
    row.refresh_from_db()
    assert row.revoked_at is not None and row.revoke_reason == "logout"


def test_security_events_are_read_only_in_the_admin(staff, api, user):
    api_login(api, user.email, WRONG)
    event = SecurityEvent.objects.get()
    request = RequestFactory().get("/")
    request.user = staff
    model_admin = admin_site._registry[SecurityEvent]
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, event)
    assert not model_admin.has_delete_permission(request, event)
    browser = Client()
    browser.force_login(staff)
    delete_url = reverse("admin:mfa_securityevent_delete", args=[event.pk])
    assert browser.post(delete_url, {"post": "yes"}).status_code == 403
    changelist = reverse("admin:mfa_securityevent_changelist")
    browser.post(changelist, {"action": "delete_selected", "_selected_action": [str(event.pk)], "post": "yes"})
    assert SecurityEvent.objects.filter(pk=event.pk).exists()


def test_mfa_staff_meet_the_challenge_after_the_admin_password(api, make_user, clock):
    from tests.helpers import enable_mfa

    person = make_user("mfa-staff@example.com", is_staff=True, is_superuser=True)
    mfa = enable_mfa(api, person, clock)
    browser = Client()
    admin_login(browser, person.email, PASSWORD)
    assert "_auth_user_id" not in browser.session and "mfa.pending" in browser.session
    r = browser.get("/admin/")
    assert r.status_code == 302 and r["Location"].startswith(reverse("mfa_pages:challenge"))
    clock.advance(30)
    r = browser.post(reverse("mfa_pages:challenge"), {"code": totp_now(mfa.secret, clock.now), "next": "/admin/"})
    assert r.status_code == 302 and browser.get("/admin/").status_code == 200


def test_a_host_admin_form_that_skips_the_gate_is_reported():
    from django.contrib.admin.forms import AdminAuthenticationForm

    from mfa.checks import check_admin_login_gate

    assert check_admin_login_gate() == []
    installed = admin_site.login_form
    admin_site.login_form = AdminAuthenticationForm  # (monkeypatch cannot undo this on a LazyObject)
    try:
        assert [m.id for m in check_admin_login_gate()] == ["mfa.W003"]
    finally:
        admin_site.login_form = installed
    assert check_admin_login_gate() == []
