"""Encryption of TOTP secrets at rest, with key rotation (Fernet / MultiFernet from cryptography),
and keyed lookup tags (HMAC-SHA256).

Keys come from ``MFA["ENCRYPTION_KEYS"]``, newest first: a Fernet key (32 bytes, URL-safe base64)
is used as is, any other string is stretched with HKDF-SHA256. Without keys, one is derived from
SECRET_KEY. Encryption always uses the first key; decryption tries each in turn, so adding a new
key in front and running ``manage.py mfa_rotate_keys`` re-encrypts every secret.

The derived keys are cached by the key material they come from, so a change of settings (in a
test, say) simply reaches new cache entries: nothing needs to tell this module about it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from mfa.conf import mfa_settings


class DecryptionError(Exception):
    """A stored secret could not be decrypted with any configured key."""


def _derive(material: str, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(
        material.encode("utf-8")
    )


def _fernet_key(key: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(key.encode("ascii"))
        if len(raw) == 32:
            return key.encode("ascii")
    except (binascii.Error, ValueError, UnicodeEncodeError):
        pass
    return base64.urlsafe_b64encode(_derive(key, b"mfa.totp-secret"))


def _configured_keys() -> tuple[str, ...]:
    keys = mfa_settings.ENCRYPTION_KEYS or [settings.SECRET_KEY]
    if isinstance(keys, (str, bytes)):
        # A bare string would be read one character per key, and secrets encrypted with a key
        # stretched from its first character alone.
        raise ImproperlyConfigured('MFA["ENCRYPTION_KEYS"] must be a list of keys, newest first: [key].')
    return tuple(keys)


@lru_cache(maxsize=8)
def _multi_fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(_fernet_key(k)) for k in keys])


def _fernet() -> MultiFernet:
    return _multi_fernet(_configured_keys())


@lru_cache(maxsize=8)
def _hmac_key(secret_key: str) -> bytes:
    return _derive(secret_key, b"mfa.lookup-tag")


def encrypt(text: str) -> str:
    return _fernet().encrypt(text.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken:
        raise DecryptionError("no configured MFA encryption key decrypts this secret") from None


def rotate(token: str) -> str:
    """Re-encrypt a stored value with the newest key."""
    return _fernet().rotate(token.encode("ascii")).decode("ascii")


def lookup_tag(value: str, *, purpose: str) -> str:
    """A keyed, deterministic tag of ``value`` (hex HMAC-SHA256), for equality lookups.

    The key is derived from SECRET_KEY and never stored (recovery codes, token fingerprints).
    """
    msg = f"{purpose}\x00{value}".encode()
    return hmac.new(_hmac_key(settings.SECRET_KEY), msg, hashlib.sha256).hexdigest()
