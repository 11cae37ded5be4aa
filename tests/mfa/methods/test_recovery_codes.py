"""mfa.recovery: code format and strength, normalisation, storage as hashes only, single use, and
the cost of a wrong guess (SECURITY-CHECKS C REC-01, REC-02, REC-05; I SEC-01)."""

from __future__ import annotations

import re
from unittest import mock

import pytest
from django.contrib.auth import hashers
from django.forms.models import model_to_dict

from mfa.methods import recovery_codes
from mfa.models import MFAAccount, RecoveryCode, TOTPDevice

pytestmark = pytest.mark.django_db(transaction=True)

FORMAT = re.compile(r"[A-Z2-7]{5}-[A-Z2-7]{5}-[A-Z2-7]{5}")


# --- Format and strength ---------------------------------------------------------------------------


def test_generated_codes_are_three_groups_of_five_base32_characters():
    codes = recovery_codes.generate(10)
    assert len(codes) == 10
    assert all(FORMAT.fullmatch(code) for code in codes), codes


def test_codes_carry_at_least_64_bits():
    # 15 characters from a 32-letter alphabet: 75 bits (NIST 800-63B 4.2.1.1 asks for 64).
    assert len(recovery_codes.ALPHABET) == 32 and len(set(recovery_codes.ALPHABET)) == 32
    assert recovery_codes.GROUPS * recovery_codes.GROUP_LEN * 5 >= 64


def test_ten_codes_are_distinct_and_vary_between_batches():
    batches = [recovery_codes.generate(10) for _ in range(50)]
    assert all(len(set(batch)) == 10 for batch in batches)
    assert len({code for batch in batches for code in batch}) == 500
    # every position uses the whole alphabet over 500 codes (no fixed or biased characters)
    flat = [code.replace("-", "") for batch in batches for code in batch]
    assert all(len({code[i] for code in flat}) > 20 for i in range(15))


# --- Normalisation (REC-05) ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "variant",
    ["ABCDE-FGHIJ-KLMN2", "abcde-fghij-klmn2", "ABCDEFGHIJKLMN2", "abcdefghijklmn2",
     " abcde fghij klmn2 ", "Abcde - Fghij - Klmn2", "ABCDE--FGHIJ--KLMN2", "\tABCDE-FGHIJ-KLMN2\n"],
)
def test_normalize_forgives_case_spaces_and_dashes(variant):
    assert recovery_codes.normalize(variant) == "ABCDEFGHIJKLMN2"


@pytest.mark.parametrize(
    "variant",
    [
        "ABCDE_FGHIJ_KLMN2",  # underscores
        "ABCDE.FGHIJ.KLMN2",
        "ABCDE-FGHIJ-KLMN1",  # 1 is not Base32
        "ABCDE-FGHIJ-KLMN0",
        "ABCDE-FGHIJ-KLMN",  # 14 characters
        "ABCDE-FGHIJ-KLMN22",  # 16 characters
        "\uff21BCDE-FGHIJ-KLMN2",  # full-width A
        "\u0430BCDE-FGHIJ-KLMN2",  # Cyrillic a
        "\u200bABCDE-FGHIJ-KLMN2",  # zero-width space
        "ABCDE\u2010FGHIJ\u2010KLMN2",  # Unicode hyphen
        "stra\u00dfe-FGHIJ-KLMN2",  # sharp s upper-cases to SS
        "",
    ],
)
def test_normalize_refuses_every_other_variant(variant):
    assert recovery_codes.normalize(variant) is None


@pytest.mark.parametrize("value", [None, 12345, b"ABCDEFGHIJKLMN2", ["ABCDEFGHIJKLMN2"]])
def test_normalize_refuses_non_strings(value):
    assert recovery_codes.normalize(value) is None


# --- Storage (REC-02, SEC-01) ----------------------------------------------------------------------


def rows_of(user):
    return list(RecoveryCode.objects.filter(user=user))


def test_stored_rows_hold_no_plaintext_code(user_with_mfa):
    rows = rows_of(user_with_mfa.user)
    assert len(rows) == 10
    dumped = " ".join(str(model_to_dict(row, fields=None)) + row.lookup + row.code_hash for row in rows)
    for code in user_with_mfa.recovery_codes:
        for form in (code, code.replace("-", ""), code.lower(), code.replace("-", "").lower()):
            assert form not in dumped
    # no reversible form either: each row is a lookup tag and a password hash
    for row in rows:
        assert re.fullmatch(r"[0-9a-f]{64}", row.lookup)
        assert hashers.identify_hasher(row.code_hash) is not None


def test_each_code_hash_verifies_with_django_check_password(user_with_mfa):
    rows = rows_of(user_with_mfa.user)
    for code in user_with_mfa.recovery_codes:
        norm = recovery_codes.normalize(code)
        matches = [row for row in rows if hashers.check_password(norm, row.code_hash)]
        assert len(matches) == 1
    assert not any(hashers.check_password("ABCDEFGHIJKLMN2", row.code_hash) for row in rows)


def test_hashes_are_salted(user_with_mfa):
    # the same normalised code stored twice gives two different hashes
    from django.contrib.auth.hashers import make_password

    assert make_password("ABCDEFGHIJKLMN2") != make_password("ABCDEFGHIJKLMN2")
    hashes = [row.code_hash for row in rows_of(user_with_mfa.user)]
    assert len(set(hashes)) == 10


# --- Single use and the cost of a guess ------------------------------------------------------------


def test_consume_is_single_use(user_with_mfa, clock):
    user = user_with_mfa.user
    device = MFAAccount.objects.get(user=user)
    code = user_with_mfa.recovery_codes[3]
    assert recovery_codes.consume(user, device, code.lower(), now=clock.now) == 9
    assert recovery_codes.consume(user, device, code, now=clock.now) is None
    device.refresh_from_db()
    assert device.recovery_codes_left == 9
    assert RecoveryCode.objects.filter(user=user, used_at=None).count() == 9
    # the other codes are untouched
    assert recovery_codes.consume(user, device, user_with_mfa.recovery_codes[4], now=clock.now) == 8


def test_codes_are_bound_to_their_user(user_with_mfa, make_user, api, clock):
    from tests.helpers import enable_mfa

    bob = enable_mfa(api, make_user("bob@example.com"), clock)
    alice_device = TOTPDevice.objects.get(user=user_with_mfa.user)
    assert recovery_codes.consume(user_with_mfa.user, alice_device, bob.recovery_codes[0], now=clock.now) is None
    assert RecoveryCode.objects.filter(user=bob.user, used_at=None).count() == 10


def test_a_guess_matching_no_lookup_costs_no_hash(user_with_mfa, clock):
    user = user_with_mfa.user
    device = MFAAccount.objects.get(user=user)
    guesses = [code for code in recovery_codes.generate(20) if code not in user_with_mfa.recovery_codes]
    with mock.patch("mfa.methods.recovery_codes.check_password", wraps=hashers.check_password) as mfa_check, \
            mock.patch("django.contrib.auth.hashers.check_password", wraps=hashers.check_password) as dj_check:
        for guess in guesses:
            assert recovery_codes.consume(user, device, guess, now=clock.now) is None
        mfa_check.assert_not_called()
        dj_check.assert_not_called()
        # a right code costs exactly one slow hash
        assert recovery_codes.consume(user, device, user_with_mfa.recovery_codes[0], now=clock.now) == 9
        assert mfa_check.call_count + dj_check.call_count == 1


def test_a_wrong_recovery_guess_over_http_costs_no_hash(user_with_mfa, api, clock):
    from tests.mfa.helpers import mfa_token, verify_login

    token = mfa_token(api, user_with_mfa.email)  # the password check hashes; that is before the patch
    with mock.patch("mfa.methods.recovery_codes.check_password", wraps=hashers.check_password) as mfa_check, \
            mock.patch("django.contrib.auth.hashers.check_password", wraps=hashers.check_password) as dj_check:
        r = verify_login(api, token, "ABCDE-FGHIJ-KLMN2")
        assert r.status_code == 401
        mfa_check.assert_not_called()
        dj_check.assert_not_called()


def test_replace_codes_kills_every_old_code(user_with_mfa, clock):
    user = user_with_mfa.user
    device = MFAAccount.objects.get(user=user)
    new_codes = recovery_codes.replace_codes(user, device)
    assert len(new_codes) == 10 and not set(new_codes) & set(user_with_mfa.recovery_codes)
    for old in user_with_mfa.recovery_codes:
        assert recovery_codes.consume(user, device, old, now=clock.now) is None
    assert RecoveryCode.objects.filter(user=user).count() == 10
    assert recovery_codes.consume(user, device, new_codes[0], now=clock.now) == 9
