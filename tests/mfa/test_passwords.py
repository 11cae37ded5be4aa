"""mfa.passwords.set_new_password: normalise, validate, one conditional write, end the other
sessions (keep_session_id honoured), notify; and the rate strings and counts of mfa.ratelimit."""

from __future__ import annotations

import unicodedata

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from mfa import ratelimit, sessions
from mfa.events import ClientInfo
from mfa.models import AuthSession, RevokeReason
from mfa.passwords import PasswordChangedMeanwhile, set_new_password
from tests.helpers import PASSWORD

pytestmark = pytest.mark.django_db

CLIENT = ClientInfo(ip="192.0.2.1", user_agent="tests")
NEW = "another long passphrase"


def two_sessions(user) -> tuple[AuthSession, AuthSession]:
    now = timezone.now()
    return tuple(sessions.create_session(user, amr=["pwd"], now=now, client=CLIENT) for _ in range(2))


def test_keep_session_id_survives_and_the_others_end(user):
    kept, other = two_sessions(user)
    set_new_password(user, NEW, now=timezone.now(), client=CLIENT, keep_session_id=kept.pk,
                     reason=RevokeReason.PASSWORD_CHANGED)
    kept.refresh_from_db()
    other.refresh_from_db()
    assert kept.revoked_at is None
    assert other.revoked_at is not None and other.revoke_reason == "password_changed"
    user.refresh_from_db()
    assert user.check_password(NEW) and not user.check_password(PASSWORD)


def test_without_keep_every_session_ends_with_the_reason(user):
    rows = two_sessions(user)
    set_new_password(user, NEW, now=timezone.now(), client=CLIENT, reason=RevokeReason.PASSWORD_RESET)
    for row in rows:
        row.refresh_from_db()
        assert row.revoked_at is not None and row.revoke_reason == "password_reset"


def test_the_owner_is_told(user):
    set_new_password(user, NEW, now=timezone.now(), client=CLIENT, reason=RevokeReason.PASSWORD_CHANGED)
    assert [(m.subject, m.to) for m in mail.outbox] == [("Your password was changed", [user.email])]
    assert NEW not in mail.outbox[0].body


def test_the_password_is_nfc_normalised(user):
    set_new_password(user, unicodedata.normalize("NFD", "Ångström façade"), now=timezone.now(),
                     client=CLIENT, reason=RevokeReason.PASSWORD_CHANGED)
    user.refresh_from_db()
    assert user.check_password(unicodedata.normalize("NFC", "Ångström façade"))


def test_validators_refuse_against_this_user_and_nothing_changes(user):
    rows = two_sessions(user)
    for weak in ("short", "password", "alice@example.com"):
        with pytest.raises(ValidationError) as info:
            set_new_password(user, weak, now=timezone.now(), client=CLIENT,
                             reason=RevokeReason.PASSWORD_CHANGED)
        assert info.value.messages
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert all(AuthSession.objects.get(pk=row.pk).revoked_at is None for row in rows)
    assert mail.outbox == []


def test_a_concurrent_change_wins_and_this_one_is_refused(user):
    stale = type(user).objects.get(pk=user.pk)
    set_new_password(user, NEW, now=timezone.now(), client=CLIENT, reason=RevokeReason.PASSWORD_CHANGED)
    with pytest.raises(PasswordChangedMeanwhile):
        set_new_password(stale, "a third long passphrase", now=timezone.now(), client=CLIENT,
                         reason=RevokeReason.PASSWORD_CHANGED)
    user.refresh_from_db()
    assert user.check_password(NEW)


def test_other_doors_still_end_every_session(user):
    """The pre_save receiver (admin, changepassword) is untouched: set_password + save ends all."""
    rows = two_sessions(user)
    user.set_password(NEW)
    user.save()
    assert all(AuthSession.objects.get(pk=row.pk).revoked_at is not None for row in rows)


@pytest.mark.parametrize(("text", "rate"), [
    ("10/hour", ratelimit.Rate(10, 3600)), ("5/10m", ratelimit.Rate(5, 600)),
    ("5/10min", ratelimit.Rate(5, 600)), ("30/min", ratelimit.Rate(30, 60)), ("1/2d", ratelimit.Rate(1, 172800)),
    (None, None), ("off", None),
])
def test_rates_parse(text, rate):
    assert ratelimit.parse_rate(text) == rate


@pytest.mark.parametrize("text", ["", "5", "5/", "x/min", "0/min", "5/0m", "5/10x", "-1/h"])
def test_bad_rates_are_refused(text):
    with pytest.raises(ValueError):
        ratelimit.parse_rate(text)


def test_hit_counts_every_key_or_none():
    """A use refused by one key's rate counts against no key: the other key's place is kept."""
    one, two = ratelimit.Rate(1, 60), ratelimit.Rate(2, 60)
    assert ratelimit.hit({"k:one": one, "k:two": two}, now=1000.0) is None
    assert ratelimit.hit({"k:one": one, "k:two": two}, now=1001.0) == 59.0  # "one" is full
    assert ratelimit.hit({"k:two": two}, now=1002.0) is None  # the refused use took no place
    assert ratelimit.hit({"k:two": two}, now=1003.0) == 57.0
    assert ratelimit.hit({"k:one": one, "k:two": None}, now=1060.5) is None  # the window slid


def test_hit_reads_each_key_once(monkeypatch):
    """One read of both keys and one write of each per accepted use, one read per refused one
    (a reset request read each key twice)."""
    from unittest import mock

    spy = mock.Mock(wraps=ratelimit.cache)
    monkeypatch.setattr(ratelimit, "cache", spy)
    limits = {"k:a": ratelimit.Rate(1, 60), "k:b": ratelimit.Rate(5, 60)}
    assert ratelimit.hit(limits, now=10.0) is None
    assert (spy.get_many.call_count, spy.get.call_count, spy.set.call_count) == (1, 0, 2)
    assert ratelimit.hit(limits, now=11.0) == 59.0
    assert (spy.get_many.call_count, spy.get.call_count, spy.set.call_count) == (2, 0, 2)
