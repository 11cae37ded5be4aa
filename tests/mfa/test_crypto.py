"""TOTP secrets at rest: encrypted, decryptable, rotatable to a new key (SECURITY-CHECKS I SEC-01)."""

from __future__ import annotations

import base64

import pytest
from cryptography.fernet import Fernet
from django.forms.models import model_to_dict
from django.urls import reverse

from mfa import crypto
from mfa.models import TOTPDevice
from tests.helpers import totp_now
from tests.mfa.helpers import mfa_token, use_keys, verify_login

pytestmark = pytest.mark.django_db(transaction=True)

OLD = Fernet.generate_key().decode()
NEW = Fernet.generate_key().decode()


def test_stored_secret_is_ciphertext(user_with_mfa):
    device = TOTPDevice.objects.get(user=user_with_mfa.user)
    secret = user_with_mfa.secret
    raw = base64.b32decode(secret)
    dumped = str(model_to_dict(device)) + device.encrypted_secret
    for form in (secret, secret.lower(), raw.hex(), raw.hex().upper(), base64.b64encode(raw).decode()):
        assert form not in dumped
    assert crypto.decrypt(device.encrypted_secret) == secret


def test_pending_secret_is_ciphertext_too(api, user, clock):
    from tests.helpers import bearer, login

    bearer(api, login(api, user.email).json()["access"])
    secret = api.post(reverse("mfa:mfa-setup"), {}, format="json").json()["secret"]
    device = TOTPDevice.objects.get(user=user)
    assert not device.confirmed
    assert secret not in device.encrypted_secret
    assert crypto.decrypt(device.encrypted_secret) == secret


def test_encryption_is_randomised():
    assert crypto.encrypt("JBSWY3DPEHPK3PXP") != crypto.encrypt("JBSWY3DPEHPK3PXP")


def test_secret_written_under_old_key_decrypts_after_a_new_key_is_added(settings):
    use_keys(settings, [OLD])
    stored = crypto.encrypt("JBSWY3DPEHPK3PXP")
    use_keys(settings, [NEW, OLD])
    assert crypto.decrypt(stored) == "JBSWY3DPEHPK3PXP"


def test_rotate_re_encrypts_under_the_newest_key(settings):
    use_keys(settings, [OLD])
    stored = crypto.encrypt("JBSWY3DPEHPK3PXP")
    use_keys(settings, [NEW, OLD])
    rotated = crypto.rotate(stored)
    assert rotated != stored
    use_keys(settings, [NEW])  # the old key is retired
    assert crypto.decrypt(rotated) == "JBSWY3DPEHPK3PXP"
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(stored)


def test_new_writes_use_the_first_key(settings):
    use_keys(settings, [NEW, OLD])
    stored = crypto.encrypt("JBSWY3DPEHPK3PXP")
    use_keys(settings, [NEW])
    assert crypto.decrypt(stored) == "JBSWY3DPEHPK3PXP"


def test_wrong_key_raises_decryption_error(settings):
    use_keys(settings, [OLD])
    stored = crypto.encrypt("JBSWY3DPEHPK3PXP")
    use_keys(settings, [NEW])
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(stored)


def test_garbage_ciphertext_raises_decryption_error():
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt("not-a-fernet-token")


def test_passphrase_keys_are_stretched_and_work(settings):
    use_keys(settings, ["a long passphrase that is not a fernet key"])
    stored = crypto.encrypt("JBSWY3DPEHPK3PXP")
    assert crypto.decrypt(stored) == "JBSWY3DPEHPK3PXP"
    use_keys(settings, ["another passphrase"])
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(stored)


def test_login_still_works_after_adding_a_new_key_in_front(settings, api, user_with_mfa, clock):
    # The device was enrolled under the suite's key. Listing a new key in front of it must not
    # lock the user out.
    enrolled_under = settings.MFA["ENCRYPTION_KEYS"][0]
    use_keys(settings, [NEW, enrolled_under])
    token = mfa_token(api, user_with_mfa.email)
    r = verify_login(api, token, totp_now(user_with_mfa.secret, clock.now))
    assert r.status_code == 200, r.content


def test_device_secret_rotated_in_place_works_under_the_new_key_alone(settings, api, user_with_mfa, clock):
    use_keys(settings, [NEW, *settings.MFA["ENCRYPTION_KEYS"]])
    device = TOTPDevice.objects.get(user=user_with_mfa.user)
    TOTPDevice.objects.filter(pk=device.pk).update(encrypted_secret=crypto.rotate(device.encrypted_secret))
    use_keys(settings, [NEW])
    token = mfa_token(api, user_with_mfa.email)
    r = verify_login(api, token, totp_now(user_with_mfa.secret, clock.now))
    assert r.status_code == 200, r.content
