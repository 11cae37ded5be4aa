"""authsite.devdb: the SecantusDB launcher, driven as a child process over pymongo.

No Django database: each test starts its own server with ``--port 0``.
"""

from __future__ import annotations

import datetime as dt
import re
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pymongo import MongoClient

REPO_ROOT = Path(__file__).resolve().parents[2]
READY = re.compile(r"devdb: listening on ([\d.]+):(\d+)")


@contextmanager
def devdb(tmp_path: Path, *args: str) -> Iterator[MongoClient]:
    """Run ``python -m authsite.devdb --port 0 ARGS``; yield a client; SIGTERM it.

    Asserts the ready line arrives within 15 s and the process exits 0.
    """
    stderr_path = tmp_path / f"devdb-{time.monotonic_ns()}.err"
    with stderr_path.open("w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "authsite.devdb", "--port", "0", *args],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        assert proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            ready = sel.select(timeout=15)
        line = proc.stdout.readline() if ready else ""
        match = READY.fullmatch(line.strip())
        assert match, f"no ready line: {line!r}\n{stderr_path.read_text()}"
        client: MongoClient = MongoClient(
            f"mongodb://{match[1]}:{match[2]}/?directConnection=true",
            serverSelectionTimeoutMS=5000,
        )
        try:
            yield client
        finally:
            client.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0, stderr_path.read_text()
        assert proc.stdout.read() == "", "only the ready line goes to stdout"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def test_memory_server_projects_nested_inclusion_and_sweeps_ttl(
    tmp_path: Path,
) -> None:
    with devdb(tmp_path, "--memory") as client:
        db = client.devdb_test
        db.ct.insert_one({"ct": {"app_label": "x", "model": "y"}})
        # SecantusDB 0.7.0b3 defect 1: stock answer is {"ct": {"app_label": 1}}.
        nested = db.ct.aggregate([{"$project": {"_id": 0, "ct": {"app_label": 1}}}])
        assert list(nested) == [{"ct": {"app_label": "x"}}]
        concat = {"$concat": ["$ct.app_label", "$ct.model"]}  # stays an expression
        expr = db.ct.aggregate([{"$project": {"_id": 0, "ct": concat}}])
        assert list(expr) == [{"ct": "xy"}]
        # Defect 3: a nested $addFields adds to the embedded document instead of replacing it.
        added = db.ct.aggregate([{"$project": {"_id": 0}}, {"$addFields": {"ct": {"extra": "$ct.model"}}}])
        assert list(added) == [{"ct": {"app_label": "x", "model": "y", "extra": "y"}}]

        # Defect 2: the sweep runs every second (the CLI's is stuck at 60 s).
        now = dt.datetime.now(dt.UTC)
        db.tokens.create_index("expires_at", expireAfterSeconds=0)
        db.tokens.insert_many(
            [
                {"k": "old", "expires_at": now - dt.timedelta(seconds=5)},
                {"k": "live", "expires_at": now + dt.timedelta(hours=1)},
            ]
        )
        deadline = time.monotonic() + 4
        while db.tokens.count_documents({"k": "old"}) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [d["k"] for d in db.tokens.find()] == ["live"]


def test_data_dir_survives_restart(tmp_path: Path) -> None:
    data = tmp_path / "db" / "nested"  # created by the launcher
    with devdb(tmp_path, "--data", str(data)) as client:
        client.devdb_test.things.insert_many([{"i": i} for i in range(10)])
    with devdb(tmp_path, "--data", str(data)) as client:
        assert client.devdb_test.things.count_documents({}) == 10


def test_port_in_use_exits_nonzero_with_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "authsite.devdb", "--port", str(port), "--memory"],
            cwd=REPO_ROOT,
            capture_output=True,
            check=False,
            text=True,
            timeout=30,
        )
    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"devdb: cannot listen on 127.0.0.1:{port}: address already in use"
    ]
