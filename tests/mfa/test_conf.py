"""mfa's settings: read at call time, both spellings of a key, old names, unknown keys reported."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.checks import run_checks

from mfa import crypto
from mfa.conf import DEFAULTS, mfa_settings


def check_messages(msg_id: str) -> list:
    return [m for m in run_checks() if m.id == msg_id]


@pytest.mark.parametrize("name", ["ENROLMENT_LIFETIME", "ENROLLMENT_LIFETIME", "SETUP_LIFETIME"])
def test_enrolment_lifetime_is_read_under_either_spelling_and_its_old_name(settings, name):
    settings.MFA = {name: timedelta(minutes=3)}
    assert timedelta(minutes=3) == mfa_settings.ENROLMENT_LIFETIME
    assert check_messages("mfa.W002") == [] and check_messages("mfa.E003") == []


def test_a_setting_given_under_two_names_fails_check_e003(settings):
    settings.MFA = {"ENROLMENT_LIFETIME": timedelta(minutes=3), "ENROLLMENT_LIFETIME": timedelta(minutes=4)}
    (error,) = check_messages("mfa.E003")
    assert "ENROLLMENT_LIFETIME" in error.msg and "ENROLMENT_LIFETIME" in error.msg


def test_an_unknown_key_is_warned_about_with_the_closest_name(settings):
    settings.MFA = {"LOCKOUT_TRESHOLD": 3, "ISSUER": "ACME"}
    (warning,) = check_messages("mfa.W002")
    assert "LOCKOUT_TRESHOLD" in warning.msg and "LOCKOUT_THRESHOLD" in warning.hint
    assert DEFAULTS["LOCKOUT_THRESHOLD"] == mfa_settings.LOCKOUT_THRESHOLD  # the typo changed nothing


def test_authsites_own_mfa_settings_have_no_unknown_key():
    assert check_messages("mfa.W002") == []


def test_settings_are_read_when_used_not_when_imported(settings):
    settings.MFA = {**settings.MFA, "LOCKOUT_THRESHOLD": 7}
    assert mfa_settings.LOCKOUT_THRESHOLD == 7
    settings.MFA = {**settings.MFA, "LOCKOUT_THRESHOLD": 8}
    assert mfa_settings.LOCKOUT_THRESHOLD == 8


def test_crypto_follows_new_keys_without_being_told(settings):
    """Keys are cached by their material, so settings need not reset crypto (no conf -> crypto
    import): a secret made under one key set is unreadable under another, readable again after."""
    settings.MFA = {**settings.MFA, "ENCRYPTION_KEYS": ["first key material"]}
    token = crypto.encrypt("JBSWY3DPEHPK3PXP")
    settings.MFA = {**settings.MFA, "ENCRYPTION_KEYS": ["second key material"]}
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(token)
    settings.MFA = {**settings.MFA, "ENCRYPTION_KEYS": ["second key material", "first key material"]}
    assert crypto.decrypt(token) == "JBSWY3DPEHPK3PXP"


def test_lookup_tags_follow_secret_key(settings):
    before = crypto.lookup_tag("ABCDE", purpose="t")
    settings.SECRET_KEY = "another-secret-key-" + "z" * 40
    assert crypto.lookup_tag("ABCDE", purpose="t") != before
