"""POST /api/auth/register: validation, normalisation, password handling and hashing, races."""

from __future__ import annotations

import threading
import unicodedata

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection
from django.urls import reverse
from rest_framework.test import APIClient

from authsite import settings as production_settings
from tests.helpers import PASSWORD, login

pytestmark = pytest.mark.django_db(transaction=True)

User = get_user_model()


def register(api: APIClient, email: str, password: str = PASSWORD, **extra):
    return api.post(reverse("register"), {"email": email, "password": password, **extra}, format="json")


@pytest.fixture
def real_hashers(settings):
    """authsite's production PASSWORD_HASHERS (Argon2id first), not the tests' fast MD5."""
    settings.PASSWORD_HASHERS = list(production_settings.PASSWORD_HASHERS)
    return settings.PASSWORD_HASHERS


# --- Success ---------------------------------------------------------------------------------------


def test_register_returns_201_with_id_normalised_email_and_mfa_off(api):
    r = register(api, "  Carol.Smith@Example.ORG ")

    assert r.status_code == 201, r.content
    body = r.json()
    assert set(body) == {"id", "email", "mfa_enabled"}
    assert isinstance(body["id"], str) and body["id"]
    assert body["email"] == "carol.smith@example.org"
    assert body["mfa_enabled"] is False
    stored = User.objects.get(email="carol.smith@example.org")
    assert str(stored.pk) == body["id"]
    assert stored.check_password(PASSWORD)
    assert not stored.is_staff and not stored.is_superuser and stored.is_active


def test_register_response_sets_no_cookie(api):
    r = register(api, "cookie@example.com")
    assert r.status_code == 201
    assert not r.cookies
    assert "Set-Cookie" not in r.headers


def test_register_ignores_privilege_fields(api):
    r = register(api, "mallory@example.com", is_staff=True, is_superuser=True, is_active=False,
                 mfa_enabled=True)

    assert r.status_code == 201, r.content
    assert r.json()["mfa_enabled"] is False
    user = User.objects.get(email="mallory@example.com")
    assert user.is_staff is False
    assert user.is_superuser is False
    assert user.is_active is True


def test_register_accepts_64_character_password(api):
    password = "Tr0ub4dor&3-" + "q7Zx" * 13
    assert len(password) == 64

    assert register(api, "long@example.com", password).status_code == 201
    assert login(api, "long@example.com", password).status_code == 200


# --- Field errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("email", ["not-an-email", "a@", "@example.com", "a b@example.com", "", "a@b@c.io"])
def test_register_rejects_bad_email_with_field_error(api, email):
    r = register(api, email)

    assert r.status_code == 400, r.content
    assert "email" in r.json()
    assert User.objects.count() == 0


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        ("short@example.com", "x7!Qa", "too short"),
        ("common@example.com", "password123", "too common"),
        ("numeric@example.com", "48213907561", "entirely numeric"),
        ("jonathan.smith@example.com", "jonathan.smith", "too similar to the email"),
    ],
    ids=["too-short", "common", "numeric", "similar-to-email"],
)
def test_register_rejects_password_failing_django_validators(api, email, password, message):
    r = register(api, email, password)

    assert r.status_code == 400, r.content
    errors = r.json()["password"]
    assert any(message in text for text in errors), errors
    assert not User.objects.filter(email=email).exists()


def test_register_refuses_email_taken_in_other_letter_case(api):
    assert register(api, "alice@example.com").status_code == 201

    r = register(api, "Alice@Example.COM", "another good passphrase")

    assert r.status_code == 400, r.content
    assert "email" in r.json()
    assert User.objects.count() == 1
    # The original account keeps its password.
    assert login(api, "alice@example.com").status_code == 200
    assert login(api, "alice@example.com", "another good passphrase").status_code == 401


# --- Passwords are never truncated, and are NFC-normalised ----------------------------------------------


def test_passwords_differing_after_byte_72_are_distinct(api, real_hashers):
    prefix = "p" * 72
    assert register(api, "bytes@example.com", prefix + "-first").status_code == 201

    assert login(api, "bytes@example.com", prefix + "-other").status_code == 401
    assert login(api, "bytes@example.com", prefix).status_code == 401
    assert login(api, "bytes@example.com", prefix + "-first").status_code == 200


@pytest.mark.parametrize("register_form", ["NFC", "NFD"])
def test_precomposed_and_decomposed_e_acute_both_log_in(api, register_form):
    base = "caf\u00e9 au lait, s'il vous pla\u00eet"
    nfc, nfd = unicodedata.normalize("NFC", base), unicodedata.normalize("NFD", base)
    assert nfc != nfd
    password = nfc if register_form == "NFC" else nfd

    assert register(api, "cafe@example.com", password).status_code == 201

    assert login(api, "cafe@example.com", nfc).status_code == 200
    assert login(api, "cafe@example.com", nfd).status_code == 200
    assert login(api, "cafe@example.com", base.replace("\u00e9", "e")).status_code == 401


# --- Hashing ------------------------------------------------------------------------------------------


def test_stored_password_hash_is_argon2id_with_measured_parameters(api, real_hashers):
    assert real_hashers[0] == "accounts.hashers.Argon2idPasswordHasher"

    assert register(api, "argon@example.com").status_code == 201

    stored = User.objects.get(email="argon@example.com").password
    assert stored.startswith("argon2$argon2id$"), stored
    _algorithm, _variant, version, params, _salt, _hash = stored.split("$")
    assert version == "v=19"
    assert params == "m=19456,t=2,p=1"
    assert PASSWORD not in stored
    assert login(api, "argon@example.com").status_code == 200


def test_pbkdf2_hash_from_elsewhere_verifies_and_is_upgraded_to_argon2_on_login(api, make_user, real_hashers):
    user = make_user("legacy@example.com")
    hasher = PBKDF2PasswordHasher()
    user.password = hasher.encode(PASSWORD, hasher.salt(), iterations=1000)  # cheap, as an old site had
    user.save(update_fields=["password"])
    assert User.objects.get(pk=user.pk).password.startswith("pbkdf2_sha256$1000$")

    assert login(api, "legacy@example.com", "wrong password here").status_code == 401
    assert User.objects.get(pk=user.pk).password.startswith("pbkdf2_sha256$"), "no upgrade on a failure"

    assert login(api, "legacy@example.com").status_code == 200
    upgraded = User.objects.get(pk=user.pk).password
    assert upgraded.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$"), upgraded
    assert login(api, "legacy@example.com").status_code == 200


# --- Races ----------------------------------------------------------------------------------------------


def test_concurrent_registration_of_one_email_creates_exactly_one_user():
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        pytest.skip("SQLite's in-memory test database locks under concurrent writers; runs on MongoDB "
                    "and a SQLite file")
    threads_n = 8
    barrier = threading.Barrier(threads_n)
    statuses: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        from django.db import connections

        try:
            client = APIClient()
            barrier.wait(timeout=10)
            r = register(client, "Race@Example.com" if i % 2 else "race@example.com")
            with lock:
                statuses.append(r.status_code)
        except Exception as exc:  # noqa: BLE001 - any failure in a thread is asserted on below
            with lock:
                errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    assert not errors, errors
    assert sorted(statuses) == [201] + [400] * (threads_n - 1)
    assert User.objects.filter(email="race@example.com").count() == 1
    assert User.objects.count() == 1
