"""``python -m bench.sqlite_sync``: what SQLite's ``synchronous`` level costs per commit in WAL
mode on this machine's disk, without the site around it (BENCHMARKS.md, "SQLite durability").

Each writer commits small transactions shaped like mfa/login/verify's writes (BEGIN IMMEDIATE, a
conditional UPDATE, two INSERTs, COMMIT) into a file in the temporary directory, with the options
authsite's settings give a connection. Levels alternate over the rounds, so the machine's other
load drifts across both alike.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import threading
import time
from pathlib import Path


def _connect(path: Path, level: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=20, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={level}")
    return conn


def measure(level: str, *, writers: int, seconds: float, directory: Path) -> dict:
    path = directory / f"sync-{level}-{time.monotonic_ns()}.sqlite3"
    setup = _connect(path, level)
    setup.executescript(
        "CREATE TABLE device (id integer PRIMARY KEY, last_step integer NOT NULL);"
        "CREATE TABLE session (id integer PRIMARY KEY, jti text UNIQUE, user_id integer);"
        "CREATE TABLE event (id integer PRIMARY KEY, kind text, user_id integer);"
    )
    setup.executemany("INSERT INTO device VALUES (?, 0)", [(i,) for i in range(writers)])
    setup.close()
    latencies: list[list[float]] = [[] for _ in range(writers)]
    stop = time.monotonic() + seconds

    def write(i: int) -> None:
        conn = _connect(path, level)
        step = 0
        while time.monotonic() < stop:
            step += 1
            t0 = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("UPDATE device SET last_step = ? WHERE id = ? AND last_step < ?", (step, i, step))
            conn.execute("INSERT INTO session (jti, user_id) VALUES (?, ?)", (f"{i}-{step}", i))
            conn.execute("INSERT INTO event (kind, user_id) VALUES ('login', ?)", (i,))
            conn.execute("COMMIT")
            latencies[i].append(time.perf_counter() - t0)
        conn.close()

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    every = sorted(x for per in latencies for x in per)
    return {
        "level": level, "writers": writers, "commits_per_s": len(every) / elapsed,
        "p50_ms": statistics.median(every) * 1000, "p99_ms": every[int(len(every) * 0.99)] * 1000,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sqlite_sync", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per level, writer count and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--writers", type=int, nargs="+", default=[1, 4])
    args = parser.parse_args(argv)
    print("| synchronous | writers | round | commits/s | p50 ms | p99 ms |\n|---|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="authsite-sqlite-sync-") as tmp:
        for n in args.writers:
            for round_ in range(1, args.rounds + 1):
                for level in ("NORMAL", "FULL"):
                    r = measure(level, writers=n, seconds=args.seconds, directory=Path(tmp))
                    print(f"| {level} | {n} | {round_} | {r['commits_per_s']:.0f} | {r['p50_ms']:.2f} | "
                          f"{r['p99_ms']:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
