"""Recovery codes: 10 single-use codes of 75 CSPRNG bits, stored only as a lookup tag and a hash.

A code looks like ``ABCDE-FGHIJ-KLMN2`` (three groups of five RFC 4648 Base32 characters); case,
spaces and dashes are forgiven. Each row keeps an HMAC tag of the code (keyed with a server key
derived from SECRET_KEY, so a database dump alone cannot test guesses; tags made with a key now in
SECRET_KEY_FALLBACKS still match) to find the one row a guess
could match, and a salted password hash (the first PASSWORD_HASHERS entry: Argon2id) that must
also verify. A wrong guess thus costs no slow hash at all, and a right one exactly one.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime

from django.contrib.auth.hashers import check_password, make_password
from django.db.models import F

from mfa import crypto
from mfa.conf import mfa_settings
from mfa.db import run_in_transaction
from mfa.models import MFAAccount, RecoveryCode

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
GROUPS, GROUP_LEN = 3, 5
_NORMAL = re.compile(r"[A-Z2-7]{15}", re.ASCII)


def normalize(code: str) -> str | None:
    """The canonical form (upper case, no spaces or dashes), or None if it cannot be a code."""
    if not isinstance(code, str):
        return None
    compact = "".join(code.split()).replace("-", "")
    if not compact.isascii():
        return None
    compact = compact.upper()
    return compact if _NORMAL.fullmatch(compact) else None


def generate(count: int) -> list[str]:
    """``count`` distinct new codes, formatted for display."""
    codes: set[str] = set()
    while len(codes) < count:
        codes.add("".join(secrets.choice(ALPHABET) for _ in range(GROUPS * GROUP_LEN)))
    return [
        "-".join(code[i : i + GROUP_LEN] for i in range(0, len(code), GROUP_LEN)) for code in codes
    ]


def _tag(user_pk: object, normalized: str) -> str:
    return crypto.lookup_tag(normalized, purpose=f"recovery:{user_pk}")


def _tags(user_pk: object, normalized: str) -> list[str]:
    # Codes tagged before a SECRET_KEY rotation carry a tag made with a key now in
    # SECRET_KEY_FALLBACKS: still found, in the same one query.
    return crypto.lookup_tags(normalized, purpose=f"recovery:{user_pk}")


def replace_codes(user, account: MFAAccount) -> list[str]:
    """Issue a new set of codes; every earlier code of the user stops working. Returns them."""
    codes = generate(mfa_settings.RECOVERY_CODE_COUNT)
    rows = []
    for code in codes:
        norm = normalize(code)
        assert norm is not None
        rows.append(
            RecoveryCode(user=user, lookup=_tag(user.pk, norm), code_hash=make_password(norm))
        )

    def replace() -> None:
        # The account row first: its write lock (PostgreSQL), or its write conflict (MongoDB, then
        # retried), orders two replacements for one user, so one set survives, not both.
        MFAAccount.objects.filter(pk=account.pk).update(recovery_codes_left=len(rows))
        RecoveryCode.objects.filter(user=user).delete()
        RecoveryCode.objects.bulk_create(rows)

    run_in_transaction(replace)
    account.recovery_codes_left = len(rows)
    return codes


def consume(user, account: MFAAccount, code: str, *, now: datetime) -> int | None:
    """Use up ``code`` if it is one of the user's unused codes. Returns the number left, or None.

    Single use is a conditional write (``used_at`` still empty), so two concurrent uses of one
    code cannot both succeed.
    """
    norm = normalize(code)
    if norm is None:
        return None
    row = (
        RecoveryCode.objects.filter(user=user, lookup__in=_tags(user.pk, norm), used_at=None)
        .only("id", "code_hash")
        .first()
    )
    if row is None or not check_password(norm, row.code_hash):
        return None
    if not RecoveryCode.objects.filter(pk=row.pk, used_at=None).update(used_at=now):
        return None
    # One write: one code fewer, and the success resets the account's lockout.
    MFAAccount.objects.filter(pk=account.pk).update(
        recovery_codes_left=F("recovery_codes_left") - 1, failure_count=0, locked_until=None,
        last_used_at=now,
    )
    account.recovery_codes_left = max(0, account.recovery_codes_left - 1)
    account.failure_count, account.locked_until = 0, None
    return account.recovery_codes_left


def release(user, account: MFAAccount, code: str) -> bool:
    """Make a code that ``consume`` just used valid again (its login lost a race, e.g. the same
    mfa_token completed another login first). Returns whether a code was given back."""
    norm = normalize(code)
    if norm is None:
        return False
    rows = (
        RecoveryCode.objects.filter(user=user, lookup__in=_tags(user.pk, norm))
        .exclude(used_at=None)
        .update(used_at=None)
    )
    if rows:
        MFAAccount.objects.filter(pk=account.pk).update(recovery_codes_left=F("recovery_codes_left") + rows)
        account.recovery_codes_left += rows
    return bool(rows)
