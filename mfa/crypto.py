"""Encryption of TOTP secrets at rest, with key rotation (Fernet / MultiFernet from cryptography),
and keyed lookup tags (HMAC-SHA256).

Keys come from ``MFA["ENCRYPTION_KEYS"]``, newest first: a Fernet key (32 bytes, URL-safe base64)
is used as is, any other string is stretched with HKDF-SHA256. Without keys, they are derived from
SECRET_KEY and then from each of Django's SECRET_KEY_FALLBACKS. Encryption always uses the first
key; decryption tries each in turn, so adding a new key in front (or rotating SECRET_KEY with the
old one kept as a fallback) and running ``manage.py mfa_rotate_keys`` re-encrypts every secret.

Lookup tags follow Django's own rule for SECRET_KEY: new tags are made with SECRET_KEY, and a tag
made with any key in SECRET_KEY_FALLBACKS still matches (``lookup_tags``, ``matches_lookup_tag``),
so rotating SECRET_KEY that way keeps recovery codes and pending mfa_tokens working.

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


def _secret_keys() -> tuple[str, ...]:
    """SECRET_KEY, then each of SECRET_KEY_FALLBACKS (Django's rotation list), without repeats."""
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", ())]
    return tuple(dict.fromkeys(k for k in keys if k))


def _configured_keys() -> tuple[str, ...]:
    keys = mfa_settings.ENCRYPTION_KEYS or _secret_keys()
    if isinstance(keys, (str, bytes)):
        # A bare string would be read one character per key, and secrets encrypted with a key
        # stretched from its first character alone.
        raise ImproperlyConfigured('MFA["ENCRYPTION_KEYS"] must be a list of keys, newest first: [key].')
    return tuple(keys)


def encryption_key() -> str:
    """The Fernet key new secrets are encrypted with now (the first configured or derived key)."""
    return _fernet_key(_configured_keys()[0]).decode("ascii")


def derived_key() -> str:
    """The Fernet key derived from SECRET_KEY: the one that encrypts when MFA["ENCRYPTION_KEYS"] is
    unset, whatever it is set to now (``manage.py mfa_derived_key`` prints it)."""
    return _fernet_key(settings.SECRET_KEY).decode("ascii")


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
    """Re-encrypt a stored value with the newest key. Raises DecryptionError like ``decrypt``."""
    try:
        return _fernet().rotate(token.encode("ascii")).decode("ascii")
    except InvalidToken:
        raise DecryptionError("no configured MFA encryption key decrypts this secret") from None


def _tag_with(secret_key: str, value: str, purpose: str) -> str:
    msg = f"{purpose}\x00{value}".encode()
    return hmac.new(_hmac_key(secret_key), msg, hashlib.sha256).hexdigest()


def lookup_tag(value: str, *, purpose: str) -> str:
    """A keyed, deterministic tag of ``value`` (hex HMAC-SHA256), for equality lookups.

    The key is derived from SECRET_KEY and never stored (recovery codes, token fingerprints).
    New tags are always made with it; to find or check a tag use ``lookup_tags`` or
    ``matches_lookup_tag``, which also accept tags made before a SECRET_KEY rotation.
    """
    return _tag_with(settings.SECRET_KEY, value, purpose)


def lookup_tags(value: str, *, purpose: str) -> list[str]:
    """Every tag ``value`` may carry: made with SECRET_KEY (first), then with each of
    SECRET_KEY_FALLBACKS. For one ``lookup__in`` query."""
    return [_tag_with(key, value, purpose) for key in _secret_keys()]


def matches_lookup_tag(tag: object, value: str, *, purpose: str, length: int | None = None) -> bool:
    """Whether ``tag`` (e.g. from a token, so any type) is the tag of ``value`` under SECRET_KEY or
    a fallback, compared in constant time; ``length``: tags stored cut to that many characters."""
    if not isinstance(tag, str) or not tag.isascii():
        return False
    found = False
    for candidate in lookup_tags(value, purpose=purpose):
        found |= hmac.compare_digest(tag, candidate[:length])
    return found
