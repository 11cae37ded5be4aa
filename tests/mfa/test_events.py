"""Security events: one signal per event, a stored SecurityEvent with client facts and no secrets,
and GET mfa/events (SECURITY-CHECKS B ENR-07, I SEC-03)."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth import get_user_model
from django.core import mail
from django.dispatch import Signal
from django.urls import reverse
from django.utils.dateparse import parse_datetime
from rest_framework.test import APIClient

from mfa import events, signals
from mfa.conf import mfa_settings
from mfa.events import UNKNOWN_CLIENT, emit
from mfa.models import EventType, SecurityEvent, TOTPDevice
from tests.helpers import (
    PASSWORD,
    bearer,
    claims,
    enable_mfa,
    login,
    reset_link,
    totp_now,
    wait_for_background,
)
from tests.mfa.helpers import DISABLE, EVENTS, RECOVERY_CODES, mfa_token, verify_login, wrong_code

pytestmark = pytest.mark.django_db(transaction=True)

AGENT = "EventsTest/1.0 (X11)"
IP = "198.51.100.23"
SIGNALS = [
    "mfa_enabled", "mfa_disabled", "mfa_failed", "mfa_locked",
    "recovery_code_used", "recovery_codes_regenerated", "mfa_secret_unreadable",
]


@pytest.fixture
def received():
    """Receivers on the six MFA signals; yields {signal name: [kwargs, ...]}."""
    calls: dict[str, list[dict]] = defaultdict(list)
    receivers = {}
    for name in SIGNALS:
        def receiver(sender, _name=name, **kwargs):
            kwargs.pop("signal", None)
            calls[_name].append({"sender": sender, **kwargs})

        receivers[name] = receiver
        getattr(signals, name).connect(receiver, weak=False, dispatch_uid=f"test-{name}")
    yield calls
    for name in SIGNALS:
        getattr(signals, name).disconnect(dispatch_uid=f"test-{name}")


def client() -> APIClient:
    c = APIClient()
    c.defaults.update(REMOTE_ADDR=IP, HTTP_USER_AGENT=AGENT)
    return c


def keys_events(api, access: str, user) -> None:
    """A security key added to a TOTP account (factor_added), renamed, answering with a counter that
    went back (key_counter_regression), then removed (factor_removed)."""
    from django.test import override_settings

    from tests.webauthn_authenticator import SoftAuthenticator

    device = SoftAuthenticator()
    keys = {**mfa_settings_dict(), "WEBAUTHN_RP_ID": "localhost", "WEBAUTHN_ORIGINS": ["http://localhost:8000"]}
    with override_settings(MFA=keys):
        bearer(api, access)
        options = api.post(reverse("mfa:webauthn-register-options"), {}, format="json").json()
        r = api.post(reverse("mfa:webauthn-register-verify"), {
            "ceremony_id": options["ceremony_id"], "credential": device.create(options["publicKey"]), "name": "Key",
        }, format="json")
        assert r.status_code == 201, r.content
        key_id = r.json()["id"]
        url = reverse("mfa:webauthn-credentials-detail", kwargs={"pk": key_id})
        assert api.patch(url, {"name": "Blue key"}, format="json").status_code == 200
        for counter in (None, 1):  # a good answer (count 1), then one that says 1 again
            device.counter = counter
            options = api.post(reverse("mfa:auth-reauthenticate-webauthn-options"), {}, format="json").json()
            r = api.post(reverse("mfa:auth-reauthenticate-webauthn-verify"), {
                "ceremony_id": options["ceremony_id"], "credential": device.get(options["publicKey"]),
            }, format="json")
            assert r.status_code == (200 if counter is None else 400), r.content
        assert api.delete(url).status_code == 204
    api.credentials()


def mfa_settings_dict() -> dict:
    from django.conf import settings

    return dict(settings.MFA)


def run_every_event(user, clock):
    """Cause every event type at least once: a wrong password, a login whose session enrolment
    ends, enable, fail into a lockout, use a recovery code, regenerate, end a session by id,
    disable, change the password, reuse a refresh token, ask for a password reset, use a wrong link, then the right one.
    Returns the user's MFA state and every code seen on the way."""
    api = client()
    for _ in range(mfa_settings.PASSWORD_LOCKOUT_THRESHOLD):  # the last one starts a backoff
        assert login(api, user.email, "wrong password!").status_code == 401
    clock.advance(31)
    assert login(api, user.email).status_code == 200  # a session that enabling MFA ends
    mfa = enable_mfa(api, user, clock)
    clock.advance(30)
    for _ in range(5):
        verify_login(api, mfa_token(api, mfa.email), wrong_code(mfa.secret, clock.now))
    clock.advance(31)
    r = api.post(reverse("mfa:mfa-login-verify"), {  # trusting this device (device_trusted)
        "mfa_token": mfa_token(api, mfa.email), "code": mfa.recovery_codes[0], "trust_device": True,
    }, format="json")
    assert r.status_code == 200 and r.json()["device_token"], r.content
    recovery_session = claims(r.json()["access"])["sid"]
    bearer(api, mfa.access)
    r = api.post(RECOVERY_CODES, {"code": totp_now(mfa.secret, clock.now)}, format="json")
    assert r.status_code == 200, r.content
    new_codes = r.json()["recovery_codes"]
    assert api.delete(reverse("mfa:sessions-detail", kwargs={"pk": recovery_session})).status_code == 204
    clock.advance(30)
    r = api.post(reverse("mfa:auth-reauthenticate"), {"code": totp_now(mfa.secret, clock.now)}, format="json")
    assert r.status_code == 200, r.content
    keys_events(api, r.json()["access"], user)
    bearer(api, mfa.access)
    # The stored secret encrypted with a key the site no longer has: a TOTP code cannot be checked.
    device = TOTPDevice.objects.filter(user=user)
    stored = device.get().encrypted_secret
    device.update(encrypted_secret=Fernet(Fernet.generate_key()).encrypt(mfa.secret.encode()).decode())
    r = verify_login(client(), mfa_token(client(), mfa.email), totp_now(mfa.secret, clock.now))
    assert r.status_code == 503, r.content
    device.update(encrypted_secret=stored)
    clock.advance(30)
    r = api.post(DISABLE, {"password": PASSWORD, "code": totp_now(mfa.secret, clock.now)}, format="json")
    assert r.status_code == 200, r.content
    changed = {"current_password": PASSWORD, "new_password": "another long passphrase"}
    assert api.post(reverse("mfa:password-change"), changed, format="json").status_code == 204
    api.credentials()
    assert api.post(reverse("mfa:auth-refresh"), {"refresh": mfa.refresh}, format="json").status_code == 200
    assert api.post(reverse("mfa:auth-refresh"), {"refresh": mfa.refresh}, format="json").status_code == 401
    assert api.post(reverse("mfa:password-reset"), {"email": user.email}, format="json").status_code == 202
    wait_for_background()
    _url, uid, token = reset_link(mail.outbox[-1].body)
    confirm = reverse("mfa:password-reset-confirm")
    wrong = token[:-1] + ("0" if token[-1] != "0" else "1")
    r = api.post(confirm, {"uid": uid, "token": wrong, "new_password": "a new long passphrase"}, format="json")
    assert r.status_code == 400, r.content
    r = api.post(confirm, {"uid": uid, "token": token, "new_password": "a new long passphrase"}, format="json")
    assert r.status_code == 204, r.content
    return mfa, mfa.recovery_codes + new_codes


def test_each_signal_fires_with_user_ip_and_agent(user, clock, received):
    run_every_event(user, clock)
    for name in SIGNALS:
        assert received[name], f"{name} never fired"
        for call in received[name]:
            assert call["sender"] is get_user_model()
            assert call["user"].pk == user.pk
            assert call["ip"] == IP and call["user_agent"] == AGENT
    assert len(received["mfa_enabled"]) == len(received["mfa_disabled"]) == 1
    # Five wrong codes into the lockout, then the security key whose counter went back.
    assert len(received["mfa_failed"]) == 6 and len(received["mfa_locked"]) == 1
    assert [c["failure_count"] for c in received["mfa_failed"]] == [1, 2, 3, 4, 5, 1]
    assert [c["method"] for c in received["mfa_failed"]][-1] == "webauthn"
    assert received["mfa_locked"][0]["retry_after"] == 30
    assert received["recovery_code_used"][0]["remaining"] == 9
    assert received["mfa_disabled"][0]["by_admin"] is False


def test_signals_carry_no_secret_or_code(user, clock, received):
    mfa, codes = run_every_event(user, clock)
    dumped = repr({name: [{k: v for k, v in c.items() if k not in ("sender", "user")} for c in calls]
                   for name, calls in received.items()})
    assert mfa.secret not in dumped
    for code in codes:
        assert code not in dumped and code.replace("-", "") not in dumped


def test_every_event_is_stored_with_client_facts_and_no_secrets(user, clock):
    mfa, codes = run_every_event(user, clock)
    rows = list(SecurityEvent.objects.filter(user=user))
    types = {row.type for row in rows}
    assert set(SIGNALS) <= types, types
    for row in rows:
        if row.type in SIGNALS:
            assert row.ip == IP and row.user_agent == AGENT
            assert row.created_at is not None
    dumped = json.dumps([row.details for row in rows]) + " ".join(row.type for row in rows)
    assert mfa.secret not in dumped and mfa.secret.lower() not in dumped
    for code in codes:
        assert code not in dumped and code.replace("-", "") not in dumped
    for token in (mfa.access, mfa.refresh):
        assert token not in dumped


def test_wrong_code_event_names_no_code(user, clock):
    api = client()
    mfa = enable_mfa(api, user, clock)
    clock.advance(30)
    bad = wrong_code(mfa.secret, clock.now)
    verify_login(api, mfa_token(api, mfa.email), bad)
    row = SecurityEvent.objects.get(user=user, type="mfa_failed")
    assert bad not in json.dumps(row.details)
    assert row.details.get("method") == "totp"


# --- GET mfa/events --------------------------------------------------------------------------------


def test_events_list_is_own_newest_first_and_paginated(user, make_user, clock):
    api = client()
    mfa = enable_mfa(api, user, clock)
    # 25 older events at known, distinct times: e0 newest ... e24 oldest
    oldest_real = SecurityEvent.objects.filter(user=user).order_by("created_at").first().created_at
    for i in range(25):
        SecurityEvent.objects.create(
            user=user, type=f"e{i}", created_at=oldest_real - timedelta(minutes=i + 1), details={"n": i}
        )
    bob = enable_mfa(APIClient(), make_user("bob@example.com"), clock)
    bob_ids = {str(pk) for pk in SecurityEvent.objects.filter(user=bob.user).values_list("pk", flat=True)}
    assert bob_ids

    bearer(api, mfa.access)
    r = api.get(EVENTS)
    assert r.status_code == 200
    assert "no-store" in r["Cache-Control"]
    page = r.json()
    assert set(page) == {"count", "next", "previous", "results"}
    total = SecurityEvent.objects.filter(user=user).count()
    assert page["count"] == total >= 27
    assert page["previous"] is None and page["next"]
    assert len(page["results"]) == 20
    seen, url = [], EVENTS
    while url:
        body = api.get(url).json()
        assert body["count"] == total
        seen.extend(body["results"])
        url = body["next"]
    assert len(seen) == total and len({e["id"] for e in seen}) == total
    assert not {e["id"] for e in seen} & bob_ids
    times = [parse_datetime(e["created_at"]) for e in seen]
    assert times == sorted(times, reverse=True)
    assert [e["type"] for e in seen[-25:]] == [f"e{i}" for i in range(25)]
    assert "mfa_enabled" in {e["type"] for e in seen[:-25]}
    for event in seen:
        assert set(event) == {"id", "type", "created_at", "ip", "user_agent", "details"}
        assert mfa.secret not in json.dumps(event)
    r = api.get(EVENTS + "?page_size=5")
    assert len(r.json()["results"]) == 5


def test_mfa_token_cannot_read_events(api, user_with_mfa):
    bearer(api, mfa_token(APIClient(), user_with_mfa.email))
    assert api.get(EVENTS).status_code == 401


def test_events_need_an_access_token(api, user):
    assert api.get(EVENTS).status_code == 401


def test_events_of_another_user_never_appear(user, make_user, clock):
    alice_api = client()
    enable_mfa(alice_api, user, clock)
    bob = make_user("bob@example.com")
    bob_api = APIClient()
    r = bob_api.post(reverse("mfa:auth-login"), {"email": bob.email, "password": PASSWORD}, format="json")
    bearer(bob_api, r.json()["access"])
    events = bob_api.get(EVENTS).json()
    assert events["count"] == SecurityEvent.objects.filter(user=bob).count()
    assert all(e["type"] != "mfa_enabled" for e in events["results"])
    assert all(e["ip"] != IP for e in events["results"])


# --- One registry: event type, signal, arguments (mfa.events.EVENTS), documented in the guide --------

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "using-mfa.md"
COMMON = {"signal", "sender", "user", "ip", "user_agent"}
ALL_SIGNALS = {name: value for name, value in vars(signals).items() if isinstance(value, Signal)}
NAME_OF = {id(signal): name for name, signal in ALL_SIGNALS.items()}


def documented() -> set[tuple[str, str, frozenset[str]]]:
    """(signal, event type, extra arguments) per row of the guide's signal table."""
    section = GUIDE.read_text().split("## 8. Signals", 1)[1].split("\n## ", 1)[0]
    rows = set()
    for signal, event_type, args in re.findall(r"^\| `(\w+)` \| `(\w+)` \| (.+?) \|$", section, re.M):
        names = frozenset(re.findall(r"`(\w+)`", re.sub(r"\([^)]*\)", "", args)))  # notes in () aside
        rows.add((signal, event_type, names))
    return rows


def registry() -> set[tuple[str, str, frozenset[str]]]:
    return {(NAME_OF[id(spec.signal)], t.value, frozenset(spec.args)) for t, spec in events.EVENTS.items()}


def test_every_event_type_has_a_registry_entry_and_every_signal_is_used():
    assert set(events.EVENTS) == set(EventType)
    assert {NAME_OF[id(spec.signal)] for spec in events.EVENTS.values()} == set(ALL_SIGNALS)


def test_the_guide_documents_exactly_the_registry():
    assert documented() == registry()


def test_emit_refuses_details_the_registry_does_not_list(user):
    with pytest.raises(TypeError, match="mfa_disabled"):
        emit(EventType.MFA_DISABLED, user, UNKNOWN_CLIENT)  # by_admin missing
    with pytest.raises(TypeError):
        emit(EventType.MFA_ENABLED, user, UNKNOWN_CLIENT, code="123456")
    assert not SecurityEvent.objects.exists()


@pytest.fixture
def sent():
    """Every mfa signal sent during the test: (signal name, its keyword arguments)."""
    received: list[tuple[str, dict]] = []
    receivers = []
    for name, signal in ALL_SIGNALS.items():
        def receiver(sender, _name=name, **kwargs):
            received.append((_name, kwargs))

        signal.connect(receiver, weak=False)
        receivers.append((signal, receiver))
    yield received
    for signal, receiver in receivers:
        signal.disconnect(receiver)


def test_what_is_sent_is_what_the_guide_documents(user, clock, sent):
    """Every signal sent while every event type occurs carries exactly the documented arguments
    for its event type."""
    run_every_event(user, clock)
    rows = documented()
    assert sent
    for name, kwargs in sent:
        args = frozenset(kwargs) - COMMON
        assert any(signal == name and args == documented_args for signal, _type, documented_args in rows), (
            name, sorted(args)
        )
    assert {t.value for t in EventType} - set(SecurityEvent.objects.values_list("type", flat=True)) == set()
