"""What a transaction costs: ``python -m bench.txcost --db sqlite|mongodb``.

Issue 16 groundwork. The same two writes an MFA login makes after its code is checked (a
compare-and-set update of the user's MFAAccount and a SecurityEvent insert), ``--n`` times each:

- autocommit: each write commits on its own (what mfa/login/verify does today);
- atomic: both in one transaction (SQL: ``django.db.transaction.atomic()``, BEGIN IMMEDIATE on
  this site's SQLite; MongoDB: ``django_mongodb_backend.transaction.atomic()``, a session with
  startTransaction/commitTransaction: ``django.db.transaction.atomic()`` is a no-op there).

Prints wall ms per pair of writes and database round trips per pair (``authsite.roundtrips``), and
on MongoDB checks that an aborted transaction leaves nothing behind.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from bench.profile import _make_users, database


def measure(n: int) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.db.models import F

    from authsite.roundtrips import counting
    from mfa.models import EventType, MFAAccount, SecurityEvent

    call_command("migrate", verbosity=0, interactive=False)
    _make_users(1)
    account = MFAAccount.objects.get()
    user_id = account.user_id
    mongo = connection.vendor == "mongodb"
    if mongo:
        from django_mongodb_backend import transaction as mongo_transaction

        atomic: Callable[[], Any] = mongo_transaction.atomic
    else:
        atomic = transaction.atomic

    def writes() -> None:
        changed = MFAAccount.objects.filter(pk=account.pk, totp_last_step__lt=F("totp_last_step") + 1).update(
            totp_last_step=F("totp_last_step") + 1, failure_count=0, locked_until=None
        )
        assert changed == 1
        SecurityEvent.objects.create(user_id=user_id, type=EventType.LOGIN.value, ip="127.0.0.1", details={})

    def autocommit() -> None:
        writes()

    def in_transaction() -> None:
        with atomic():
            writes()

    print(f"# bench.txcost on {connection.vendor}: {n} pairs of writes per variant")
    for name, run in (("autocommit", autocommit), ("atomic", in_transaction)) * 2:
        for _ in range(10):
            run()
        wall, trips = [], []
        for _ in range(n):
            with counting() as c:
                started = time.perf_counter()
                run()
                wall.append((time.perf_counter() - started) * 1000)
            trips.append(c.count)
        print(f"{name:>10}: wall ms per 2 writes median {statistics.median(wall):.2f}, "
              f"mean {statistics.mean(wall):.2f}; round trips {statistics.mean(trips):.2f}")
    if mongo:
        before = SecurityEvent.objects.count(), MFAAccount.objects.get().totp_last_step
        try:
            with atomic():
                writes()
                raise RuntimeError("abort")
        except RuntimeError:
            pass
        after = SecurityEvent.objects.count(), MFAAccount.objects.get().totp_last_step
        print(f"aborted transaction left the data unchanged: {before == after} ({before} -> {after})")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.txcost")
    parser.add_argument("--db", choices=("sqlite", "mongodb"), default="sqlite")
    parser.add_argument("--n", type=int, default=300)
    args = parser.parse_args()
    with database(args.db, "txcost"):
        measure(args.n)

if __name__ == "__main__":
    main()
