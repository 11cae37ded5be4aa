"""POST password/reset and password/reset/confirm: the HTTP contract, the email and its link, the
token's life (single use, expiry), garbage input, validators, sessions, MFA, events and limits."""

from __future__ import annotations

import logging
import unicodedata
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework.test import APIClient

from mfa.models import AuthSession, EventType, SecurityEvent
from tests.helpers import PASSWORD, bearer, login, reset_link, wait_for_background
from tests.mfa.helpers import ME, mfa_token

pytestmark = pytest.mark.django_db(transaction=True)

RESET = reverse("mfa:password-reset")
CONFIRM = reverse("mfa:password-reset-confirm")
NEW = "a brand new passphrase"


def ask(api: APIClient, email: str, **extra):
    return api.post(RESET, {"email": email}, format="json", **extra)


def confirm(api: APIClient, uid, token, new_password=NEW):
    return api.post(CONFIRM, {"uid": uid, "token": token, "new_password": new_password}, format="json")


def reset_emails() -> list:
    wait_for_background()
    return [m for m in mail.outbox if "reset" in m.subject.lower()]


def link_for(api: APIClient, email: str) -> tuple[str, str, str]:
    assert ask(api, email).status_code == 202
    messages = reset_emails()
    assert messages and messages[-1].to == [email.strip().lower()]
    return reset_link(messages[-1].body)


# --- Asking ---------------------------------------------------------------------------------------


def test_known_unknown_and_inactive_addresses_get_the_same_bytes(api, make_user):
    make_user("alice@example.com")
    make_user("inactive@example.com", is_active=False)
    answers = [ask(api, email) for email in ("alice@example.com", "nobody@example.com", "inactive@example.com")]
    assert {r.status_code for r in answers} == {202}
    assert len({r.content for r in answers}) == 1
    assert len({tuple(sorted((k, v) for k, v in r.items() if k != "Date")) for r in answers}) == 1
    assert [m.to for m in reset_emails()] == [["alice@example.com"]]


def test_an_account_without_a_usable_password_gets_no_email(api, make_user):
    """An unusable password (set_unusable_password: an account that signs in another way) has
    nothing to reset: no email, and the same answer."""
    make_user("alice@example.com")
    sso = make_user("sso@example.com")
    sso.set_unusable_password()
    sso.save()
    answers = [ask(api, email) for email in ("sso@example.com", "alice@example.com")]
    assert {r.status_code for r in answers} == {202} and len({r.content for r in answers}) == 1
    assert [m.to for m in reset_emails()] == [["alice@example.com"]]


def test_the_request_itself_reads_no_account(api, user, django_assert_num_queries):
    """The answer is given before the address is looked up (no query on the request's thread),
    so its time cannot tell a known address from an unknown one."""
    for email in (user.email, "nobody@example.com"):
        with django_assert_num_queries(0):
            assert ask(api, email).status_code == 202
    assert len(reset_emails()) == 1


def test_the_email_carries_one_absolute_link_from_site_url(api, user, settings):
    settings.MFA = {**settings.MFA, "SITE_URL": "https://accounts.example.org"}
    settings.ALLOWED_HOSTS = ["*"]  # a Host header the site accepts, and still never uses for links
    r = ask(api, user.email, HTTP_HOST="evil.example.net")
    assert r.status_code == 202
    (message,) = reset_emails()
    url, uid, token = reset_link(message.body)
    assert message.body.count(url) == 1 and "evil.example.net" not in message.body
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc) == ("https", "accounts.example.org")
    assert parts.path == f"/account/password/reset/{uid}/{token}/"
    assert uid == urlsafe_base64_encode(force_bytes(user.pk))


def test_every_request_sends_a_new_email_with_the_same_uid(api, user, clock):
    _url, uid1, token1 = link_for(api, user.email)
    clock.advance(5)
    _url, uid2, token2 = link_for(api, "  ALICE@example.com ")
    assert len(reset_emails()) == 2
    assert uid1 == uid2 and token1 != token2


def test_a_mail_failure_is_logged_and_changes_nothing_in_the_answer(api, user, settings, caplog):
    settings.EMAIL_BACKEND = "tests.helpers.FailingEmailBackend"
    with caplog.at_level(logging.WARNING):
        failing = ask(api, user.email)
        wait_for_background()
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert failing.status_code == 202 and failing.content == ask(api, "nobody@example.com").content
    assert "could not send" in caplog.text


@pytest.mark.parametrize("body", [{}, {"email": "not an address"}, {"email": 12}, {"email": ["a@b.c"]}])
def test_malformed_requests_are_field_errors(api, body):
    r = api.post(RESET, body, format="json")
    assert r.status_code == 400 and "email" in r.json()
    assert reset_emails() == []


# --- Using the link ---------------------------------------------------------------------------------


def test_the_link_works_once_and_returns_no_tokens(api, user):
    _url, uid, token = link_for(api, user.email)
    r = confirm(api, uid, token)
    assert r.status_code == 204 and r.content == b""
    assert not AuthSession.objects.filter(user=user).exists()  # nobody was signed in
    assert login(api, user.email).status_code == 401
    assert login(api, user.email, NEW).status_code == 200

    again = confirm(api, uid, token, "yet another passphrase")
    assert again.status_code == 400
    assert again.json()["code"] == "invalid_reset_token" and again.json()["detail"]
    assert login(api, user.email, NEW).status_code == 200


def test_an_older_link_dies_when_a_newer_one_is_used(api, user, clock):
    _url, uid, first = link_for(api, user.email)
    clock.advance(2)
    _url, uid, second = link_for(api, user.email)
    assert confirm(api, uid, second).status_code == 204
    assert confirm(api, uid, first, "yet another passphrase").json()["code"] == "invalid_reset_token"


def test_the_link_expires_after_password_reset_timeout(api, user, clock, settings):
    assert settings.PASSWORD_RESET_TIMEOUT == 3600
    _url, uid, token = link_for(api, user.email)
    clock.advance(3601)
    r = confirm(api, uid, token)
    assert r.status_code == 400 and r.json()["code"] == "invalid_reset_token"
    settings.PASSWORD_RESET_TIMEOUT = 7200
    assert confirm(api, uid, token).status_code == 204


def test_the_link_works_until_just_before_its_end(api, user, clock):
    _url, uid, token = link_for(api, user.email)
    clock.advance(3599)
    assert confirm(api, uid, token).status_code == 204


def _uid(text: str) -> str:
    return urlsafe_base64_encode(text.encode())


GARBAGE_UIDS = [
    "", "!!!", "%%", "a", "x" * 5000, _uid("not a pk"), _uid("99999999999999999999999999"),
    _uid("-1"), _uid("0"), _uid("64b7f0c2a1e4d3b2c1a09f8e"), _uid("\x00"), "Zm9v\n", "MQ==",
]


@pytest.mark.parametrize("uid", GARBAGE_UIDS)
def test_a_garbage_uid_is_invalid_reset_token(api, user, uid):
    _url, _real_uid, token = link_for(api, user.email)
    r = confirm(api, uid, token)
    assert r.status_code == 400, r.content
    assert r.json()["code"] == "invalid_reset_token"


@pytest.mark.parametrize("token", ["", "-", "abc-def", "x" * 5000, "ç-é", "1-1", " ", "a/b"])
def test_a_garbage_token_is_invalid_reset_token(api, user, token):
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    r = confirm(api, uid, token)
    assert r.status_code == 400, r.content
    assert r.json()["code"] == "invalid_reset_token"


@pytest.mark.parametrize("field", ["uid", "token"])
def test_null_characters_are_field_errors(api, user, field):
    body = {"uid": urlsafe_base64_encode(force_bytes(user.pk)), "token": "abc-def", "new_password": NEW}
    body[field] += "\x00"
    r = api.post(CONFIRM, body, format="json")
    assert r.status_code == 400 and field in r.json()


@pytest.mark.parametrize("field", ["uid", "token", "new_password"])
@pytest.mark.parametrize("value", [None, 12, ["a"], {"a": 1}, True])
def test_non_strings_are_field_errors_never_500(api, user, field, value):
    body = {"uid": "MQ", "token": "abc-def", "new_password": NEW, field: value}
    r = api.post(CONFIRM, body, format="json")
    assert r.status_code == 400, r.content
    assert field in r.json()


def test_another_accounts_uid_with_my_token_is_refused(api, user, make_user):
    bob = make_user("bob@example.com")
    _url, _uid, token = link_for(api, user.email)
    r = confirm(api, urlsafe_base64_encode(force_bytes(bob.pk)), token)
    assert r.json()["code"] == "invalid_reset_token"
    assert login(api, bob.email).status_code == 200


def test_a_deactivated_account_cannot_use_its_link(api, user):
    _url, uid, token = link_for(api, user.email)
    user.is_active = False
    user.save()
    assert confirm(api, uid, token).json()["code"] == "invalid_reset_token"


@pytest.mark.parametrize("weak", ["short", "password123", "12345678901", "alice@example.com"])
def test_the_password_validators_refuse_and_the_link_stays_valid(api, user, weak):
    _url, uid, token = link_for(api, user.email)
    r = confirm(api, uid, token, weak)
    assert r.status_code == 400
    assert list(r.json()) == ["new_password"] and r.json()["new_password"]
    assert login(api, user.email).status_code == 200  # unchanged
    assert confirm(api, uid, token).status_code == 204


def test_the_new_password_is_nfc_normalised(api, user):
    decomposed = unicodedata.normalize("NFD", "café crème brûlée")
    _url, uid, token = link_for(api, user.email)
    assert confirm(api, uid, token, decomposed).status_code == 204
    composed = unicodedata.normalize("NFC", decomposed)
    assert composed != decomposed
    assert login(api, user.email, composed).status_code == 200


# --- What a reset does to the account --------------------------------------------------------------


def test_every_session_ends(api, user):
    pairs = [login(APIClient(), user.email).json() for _ in range(2)]
    _url, uid, token = link_for(api, user.email)
    assert confirm(api, uid, token).status_code == 204
    for pair in pairs:
        assert bearer(APIClient(), pair["access"]).get(ME).status_code == 401
        r = APIClient().post(reverse("mfa:auth-refresh"), {"refresh": pair["refresh"]}, format="json")
        assert r.status_code == 401
    assert not AuthSession.objects.filter(user=user, revoked_at=None).exists()
    assert set(AuthSession.objects.filter(user=user).values_list("revoke_reason", flat=True)) == {
        "password_reset"
    }


def test_mfa_stays_on_and_the_next_login_still_needs_the_code(api, user_with_mfa):
    _url, uid, token = link_for(api, user_with_mfa.email)
    assert confirm(api, uid, token).status_code == 204
    r = login(api, user_with_mfa.email, NEW)
    assert r.status_code == 200 and r.json()["requires_mfa"] is True
    assert set(r.json()) == {"requires_mfa", "mfa_token", "methods"}


def test_the_owner_is_notified(api, user):
    _url, uid, token = link_for(api, user.email)
    assert confirm(api, uid, token).status_code == 204
    notices = [m for m in mail.outbox if m.subject == "Your password was changed"]
    assert len(notices) == 1 and notices[0].to == [user.email]
    assert token not in notices[0].body


def test_a_reset_clears_the_wrong_password_backoff(api, user, settings):
    settings.MFA = {**settings.MFA, "PASSWORD_LOCKOUT_THRESHOLD": 3}
    for _ in range(3):
        login(api, user.email, "wrong password!")
    assert login(api, user.email).status_code == 429
    _url, uid, token = link_for(api, user.email)
    assert confirm(api, uid, token).status_code == 204
    assert login(api, user.email, NEW).status_code == 200


def test_api_logins_still_write_no_last_login(api, user):
    """The reset token covers last_login: API logins must not change it, or a login between
    asking and using would kill the link (they do not: simplejwt's UPDATE_LAST_LOGIN is off)."""
    _url, uid, token = link_for(api, user.email)
    assert login(api, user.email).status_code == 200
    user.refresh_from_db()
    assert user.last_login is None
    assert confirm(api, uid, token).status_code == 204


def test_events_are_recorded_without_the_token(api, user, make_user):
    ip = {"REMOTE_ADDR": "198.51.100.7"}
    api.post(RESET, {"email": "nobody@example.com"}, format="json", **ip)
    _url, uid, token = link_for(api, user.email)
    bob = make_user("bob@example.com")
    confirm(api, urlsafe_base64_encode(force_bytes(bob.pk)), token)
    confirm(api, "!!!", token)
    assert confirm(api, uid, token).status_code == 204

    requested = SecurityEvent.objects.filter(type=EventType.PASSWORD_RESET_REQUESTED)
    assert sorted(str(e.user_id) for e in requested) == sorted(["None", str(user.pk)])
    assert requested.get(user=None).ip == "198.51.100.7"
    failed = SecurityEvent.objects.filter(type=EventType.PASSWORD_RESET_FAILED)
    assert sorted(str(e.user_id) for e in failed) == sorted([str(bob.pk), "None"])
    assert SecurityEvent.objects.filter(type=EventType.PASSWORD_RESET, user=user).count() == 1
    for event in SecurityEvent.objects.all():
        assert token not in repr(event.details) and NEW not in repr(event.details)


# --- Limits -------------------------------------------------------------------------------------------


def test_per_ip_limit_answers_429_with_retry_after(api, settings, clock):
    settings.MFA = {**settings.MFA, "IP_RATES": {**settings.MFA["IP_RATES"], "password_reset": "3/hour"}}
    for n in range(3):
        assert ask(api, f"person{n}@example.com").status_code == 202
    r = ask(api, "person9@example.com")
    assert r.status_code == 429
    assert r.json()["code"] == "throttled" and r.json()["detail"]
    assert 3500 <= int(r["Retry-After"]) <= 3600
    assert ask(api, "person9@example.com", REMOTE_ADDR="203.0.113.9").status_code == 202  # another IP
    clock.advance(3601)
    assert ask(api, "person9@example.com").status_code == 202


@pytest.mark.parametrize("known", [True, False])
def test_per_address_limit_counts_known_and_unknown_alike(api, make_user, settings, clock, known):
    settings.MFA = {**settings.MFA, "PASSWORD_RESET_RATE": "5/10m"}
    email = "target@example.com"
    if known:
        make_user(email)
    for n in range(5):
        r = ask(api, email if n % 2 else email.upper(), REMOTE_ADDR=f"203.0.113.{n + 1}")
        assert r.status_code == 202
    r = ask(api, email, REMOTE_ADDR="203.0.113.50")
    assert r.status_code == 429 and r.json()["code"] == "throttled"
    assert 1 <= int(r["Retry-After"]) <= 600
    assert ask(api, "other@example.com", REMOTE_ADDR="203.0.113.50").status_code == 202
    assert len(reset_emails()) == (5 if known else 0)
    clock.advance(601)
    assert ask(api, email, REMOTE_ADDR="203.0.113.50").status_code == 202


def test_the_per_address_count_is_after_nfkc(api, settings):
    """A fullwidth spelling of an address (NFKC: the same address) shares its count, as look-alike
    identifiers share the password backoff (password_lockout.normalize_identifier)."""
    settings.MFA = {**settings.MFA, "PASSWORD_RESET_RATE": "2/10m"}
    spellings = ["target@example.com", "target@\uff45xample.com", "TARGET@\uff25XAMPLE.COM"]
    assert len(set(spellings)) == 3
    assert [ask(api, e, REMOTE_ADDR=f"203.0.113.{n + 1}").status_code for n, e in enumerate(spellings)] == [
        202, 202, 429
    ]


def test_rate_limit_keys_hold_a_keyed_hash_never_the_address_or_ip(api, settings):
    """Every cache key a reset request writes (mfa.ratelimit) names neither the address nor the
    client IP, and depends on SECRET_KEY (a keyed hash: no dictionary of addresses finds them)."""
    from django.core.cache import caches
    from django.core.cache.backends.locmem import LocMemCache

    settings.MFA = {**settings.MFA, "PASSWORD_RESET_RATE": "5/10m",
                    "IP_RATES": {**settings.MFA["IP_RATES"], "password_reset": "10/hour"}}

    def keys_written() -> set[str]:
        backend = caches["default"]
        assert isinstance(backend, LocMemCache)  # the suite's cache, whose keys can be listed
        backend.clear()
        assert ask(api, "Target.Person@example.com", REMOTE_ADDR="198.51.100.23").status_code == 202
        return set(backend._cache)

    keys = keys_written()
    assert len(keys) == 2 and all(":mfa:rl:reset-" in key for key in keys), keys
    for key in keys:
        assert not any(part in key.lower() for part in ("target", "person", "example", "198.51.100.23")), key
    settings.SECRET_KEY = "another secret key, long enough to be a real one 0123456789"
    assert keys_written().isdisjoint(keys)


def test_limits_are_off_with_none(api, settings):
    settings.MFA = {**settings.MFA, "PASSWORD_RESET_RATE": None,
                    "IP_RATES": {**settings.MFA["IP_RATES"], "password_reset": None}}
    for _ in range(12):
        assert ask(api, "same@example.com").status_code == 202


def test_mfa_token_is_not_a_reset(api, user_with_mfa):
    """A half-finished login (mfa_token) has nothing to do with a reset link."""
    token = mfa_token(api, user_with_mfa.email)
    uid = urlsafe_base64_encode(force_bytes(user_with_mfa.user.pk))
    assert confirm(api, uid, token).json()["code"] == "invalid_reset_token"
    assert login(api, user_with_mfa.email, PASSWORD).status_code == 200


def test_without_site_url_the_answer_is_the_same_and_an_error_is_logged(api, user, settings, caplog):
    settings.MFA = {**settings.MFA, "SITE_URL": None}
    with caplog.at_level(logging.ERROR, logger="mfa.password_reset"):
        r = ask(api, user.email)
        assert reset_emails() == []
    assert r.status_code == 202 and r.content == ask(api, "nobody@example.com").content
    assert "cannot build a password reset link" in caplog.text and "SITE_URL" in caplog.text
