"""SQLite as a production database: a file opened through authsite's settings is in WAL mode with
the configured synchronous level, and two transactions that read and then write at the same time
both commit (IMMEDIATE), where Django's default DEFERRED mode fails one with "database is locked".

Each case runs the real settings in a fresh interpreter against a temporary file, with one Django
connection per thread, as gunicorn's threads have."""

from __future__ import annotations

import json

import pytest

from tests.authsite.helpers import run_with_settings

SCRIPT = r"""
import json, sys, threading, time
import django
django.setup()
from django.db import connection, connections, transaction

deferred = sys.argv[1] == "deferred"
if deferred:
    connections.settings["default"]["OPTIONS"]["transaction_mode"] = None  # Django's default

with connection.cursor() as cursor:
    cursor.execute("PRAGMA journal_mode")
    journal_mode = cursor.fetchone()[0]
    cursor.execute("PRAGMA synchronous")
    synchronous = cursor.fetchone()[0]
    if connection.settings_dict["NAME"] != ":memory:":
        cursor.execute("CREATE TABLE counter (id integer PRIMARY KEY, n integer NOT NULL)")
        cursor.execute("INSERT INTO counter VALUES (1, 0)")
connection.close()

start = threading.Barrier(2)
both_read = threading.Barrier(2)
outcome = {}


def read_then_write(i):
    try:
        start.wait(10)
        t0 = time.monotonic()
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT n FROM counter WHERE id = 1")
                n = cursor.fetchone()[0]
                if deferred:
                    both_read.wait(10)  # IMMEDIATE: the second waits at BEGIN, so never reads here
                time.sleep(0.2)
                cursor.execute("UPDATE counter SET n = %s WHERE id = 1", [n + 1])
        outcome[i] = ["ok", time.monotonic() - t0]
    except Exception as exc:
        outcome[i] = [f"{type(exc).__name__}: {exc}", time.monotonic() - t0]
    finally:
        connection.close()


final = None
if connection.settings_dict["NAME"] != ":memory:":
    threads = [threading.Thread(target=read_then_write, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    with connection.cursor() as cursor:
        cursor.execute("SELECT n FROM counter WHERE id = 1")
        final = cursor.fetchone()[0]
print(json.dumps({"journal_mode": journal_mode, "synchronous": synchronous,
                  "outcomes": sorted(outcome.values()), "final": final}))
"""


def run(database_url: str, mode: str = "settings", **variables: str) -> dict:
    proc = run_with_settings(
        ["-c", SCRIPT, mode], timeout=120, **{"DEBUG": "1", "DATABASE_URL": database_url, **variables}
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


@pytest.mark.parametrize(("level", "number"), [(None, 1), ("FULL", 2), ("normal", 1)])
def test_a_file_database_is_in_wal_mode_with_the_configured_synchronous_level(tmp_path, level, number):
    variables = {"SQLITE_SYNCHRONOUS": level} if level else {}

    result = run(f"sqlite:///{tmp_path / 'db.sqlite3'}", **variables)

    assert result["journal_mode"] == "wal"
    assert result["synchronous"] == number  # PRAGMA synchronous: 1 NORMAL, 2 FULL


def test_in_memory_database_still_opens_without_wal():
    result = run("sqlite://")

    assert result["journal_mode"] == "memory"


def test_two_read_then_write_transactions_both_commit_the_second_waiting(tmp_path):
    result = run(f"sqlite:///{tmp_path / 'db.sqlite3'}", SQLITE_TIMEOUT="10")

    assert [status for status, _ in result["outcomes"]] == ["ok", "ok"]
    assert result["final"] == 2  # serialised: no lost update
    # Each thread sleeps 0.2 s holding the write lock; the slower also waited for the first's
    # commit (0.2 s more, less the few ms between the two threads' starts).
    assert result["outcomes"][1][1] >= 0.35


def test_deferred_transactions_fail_one_writer_at_once_whatever_the_timeout(tmp_path):
    """What IMMEDIATE avoids: both read, then the second to write cannot wait for the lock without
    breaking its snapshot, so SQLite refuses it even with a 10 s busy timeout."""
    result = run(f"sqlite:///{tmp_path / 'db.sqlite3'}", "deferred", SQLITE_TIMEOUT="10")

    statuses = sorted(status for status, _ in result["outcomes"])
    assert statuses[0] == "OperationalError: database is locked", result
    assert statuses[1] == "ok"
    assert result["final"] == 1
    assert max(seconds for _, seconds in result["outcomes"]) < 5  # not the busy timeout
