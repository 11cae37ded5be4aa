"""The per-account lockout for wrong second factors, kept in the database (MFAAccount) so every
worker shares it.

Every wrong second factor counts, TOTP, recovery-code and security-key attempts together, whatever
the endpoint and whichever mfa_token was used (RFC 4226 7.3: "across login sessions"). From the
LOCKOUT_THRESHOLD-th consecutive failure the user waits LOCKOUT_BASE_SECONDS, doubling with each
further failure up to LOCKOUT_MAX_SECONDS; while locked every attempt, a right one included, is
refused. Each attempt is claimed (counted) before it is evaluated, so parallel attempts cannot
outrun the lockout; a success resets the counter (``reset``, or the recovery code's own write).

Every attempt runs inside ``counted()``: on PostgreSQL (SQL with row locks) one transaction, so an
attempt's writes (its claim, the factor's own write, a login's session and events) cost one commit,
and a refusal commits what it counted before it is raised; on SQLite and MongoDB each write is its
own compare-and-set commit (mfa.db.attempts_in_one_transaction says why).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models import Q

from mfa import db
from mfa.adapter import get_adapter
from mfa.conf import mfa_settings
from mfa.events import ClientInfo, emit
from mfa.exceptions import LockedOut, MFAError
from mfa.models import EventType, MFAAccount


@contextmanager
def counted(using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Run one second-factor attempt as one durable write where the database makes that cheap.

    On PostgreSQL (``db.attempts_in_one_transaction``) this is one transaction: the claim's row
    lock holds parallel attempts of the account until the commit, a successful login's claim,
    step or code, session row and events commit at once, and a login that does not complete
    leaves none of them. A refusal (an MFAError: wrong code, locked, replay...) is raised only
    after the commit, so its count and its failure event always stay; any other error (a
    database error, the IntegrityError of an mfa_token used meanwhile) rolls everything back.
    Notifications wait for the commit (``transaction.on_commit``).

    On SQLite and MongoDB each write commits on its own, and each is safe on its own: the claim
    and the TOTP step are compare-and-set writes (lockout.claim_attempt, totp.accept_step), the
    mfa_token's single use is a unique insert, and what a lost login spent is given back
    (flows.finish_mfa_login). A MongoDB multi-document transaction would add a round trip
    (``commitTransaction``) and need a replica set for no guarantee these writes lack.
    """
    if not db.attempts_in_one_transaction(using):
        yield
        return
    refusal: MFAError | None = None
    with transaction.atomic(using=using):
        try:
            yield
        except MFAError as exc:
            refusal = exc
    if refusal is not None:
        raise refusal


def backoff_seconds(failure_count: int, threshold: int | None) -> int:
    """The wait after ``failure_count`` consecutive failures: 0 below ``threshold`` (0 or None: no
    backoff), then LOCKOUT_BASE_SECONDS doubling with each further failure up to
    LOCKOUT_MAX_SECONDS. The one schedule of the code lockout and the password backoff."""
    if not threshold or failure_count < threshold:
        return 0
    doublings = min(failure_count - threshold, 32)
    return min(mfa_settings.LOCKOUT_BASE_SECONDS * 2**doublings, mfa_settings.LOCKOUT_MAX_SECONDS)


def ensure_not_locked(account: MFAAccount, *, now: datetime) -> None:
    """Raise LockedOut if the account is inside a backoff period."""
    if account.locked_until is not None and account.locked_until > now:
        raise LockedOut((account.locked_until - now).total_seconds())


def wait_seconds(failure_count: int) -> int:
    """Seconds of code lockout after ``failure_count`` consecutive failures (never off: a
    threshold below 1 counts as 1)."""
    return backoff_seconds(failure_count, max(1, mfa_settings.LOCKOUT_THRESHOLD or 1))


# Lost compare-and-set rounds before a claim gives up (answered as a lockout of one second).
_CLAIM_ROUNDS = 32


def claim_attempt(account: MFAAccount, *, now: datetime) -> int:
    """Reserve one code attempt before the code is evaluated; returns the consecutive failures
    before it. Raises LockedOut while the user is locked.

    The attempt is counted as a failure up front, in one conditional write (compare-and-set on the
    count, refused while locked), and when that failure would start or extend the lockout the
    same write sets it. A success then resets both (the success's own conditional write). So a
    burst of parallel wrong codes evaluates at most what the lockout allows one after another: once
    the threshold's attempt is claimed, the others find the user locked, on every database.
    """
    for _ in range(_CLAIM_ROUNDS):
        ensure_not_locked(account, now=now)
        before = account.failure_count
        changes: dict[str, object] = {"failure_count": before + 1}
        wait = wait_seconds(before + 1)
        if wait:
            changes["locked_until"] = now + timedelta(seconds=wait)
        claimed = (
            MFAAccount.objects.filter(pk=account.pk, failure_count=before)
            .filter(Q(locked_until=None) | Q(locked_until__lte=now))
            .update(**changes)
        )
        if claimed:
            for field, value in changes.items():
                setattr(account, field, value)
            return before
        # Another attempt got there first: read the count and lock it left, and try again.
        fresh = next(iter(
            MFAAccount.objects.filter(pk=account.pk).values_list("failure_count", "locked_until")[:1]
        ), None)
        if fresh is None:
            raise LockedOut(1)  # the account was removed meanwhile
        account.failure_count, account.locked_until = fresh
    raise LockedOut(1)


def release_claim(account: MFAAccount, failures_before: int) -> None:
    """Give back an attempt claimed for a code that could not be evaluated at all (the secret is
    unreadable: the server's fault, not a guess). Only if nothing else was counted since."""
    if MFAAccount.objects.filter(pk=account.pk, failure_count=failures_before + 1).update(
        failure_count=failures_before, locked_until=None
    ):
        account.failure_count, account.locked_until = failures_before, None


def record_failure(
    account: MFAAccount, user: Any, *, now: datetime, client: ClientInfo, method: str
) -> None:
    """Report a wrong code whose attempt ``claim_attempt`` already counted: the ``mfa_failed``
    event, and ``mfa_locked`` (with the owner told once per streak) when it locked the user."""
    count = account.failure_count
    emit(EventType.MFA_FAILED, user, client, method=str(method), failure_count=count)
    wait = wait_seconds(count)
    if wait:
        emit(EventType.MFA_LOCKED, user, client, retry_after=wait)
        if count == mfa_settings.LOCKOUT_THRESHOLD:
            # The password was right (or the caller holds a session) but the codes are not: tell
            # the account owner once per streak (ASVS 6.3.5), not on every guess; after the commit,
            # so no email is sent while the attempt holds the database's writer lock.
            transaction.on_commit(lambda: get_adapter().notify(user, EventType.MFA_LOCKED))


def reset(account: MFAAccount) -> None:
    """A second factor succeeded: the consecutive failures start again from zero."""
    MFAAccount.objects.filter(pk=account.pk).update(failure_count=0, locked_until=None)
    account.failure_count, account.locked_until = 0, None


def totp_disabled(failures: int) -> bool:
    """Whether TOTP codes are refused outright after ``failures`` consecutive failures: from
    MFA["TOTP_MAX_FAILURES"] (NIST SP 800-63B 3.2.2: no more than 100); a successful recovery code
    resets the count."""
    limit = mfa_settings.TOTP_MAX_FAILURES
    return bool(limit) and failures >= limit
