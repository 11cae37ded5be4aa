"""gunicorn worker choices measured: sync vs gthread, thread and process counts, for the floor and
``GET me`` (``python -m bench workers``). One database and one prepared data set per backend; every
configuration runs its own gunicorn, all started together and driven in turn for several rounds."""

from __future__ import annotations

import contextlib
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import run as bench_run

CONFIGS: list[tuple[str, int, int]] = [
    ("sync", 2, 1),
    ("sync", 4, 1),
    ("gthread", 2, 1),
    ("gthread", 2, 4),
    ("gthread", 2, 8),
    ("gthread", 3, 4),
    ("gthread", 4, 2),
    ("gthread", 4, 4),
]


def measure(db: str, opts: bench_run.Options, configs: list[tuple[str, int, int]],
            rounds: int) -> list[dict[str, Any]]:
    """Every configuration is served at once (one gunicorn each, idle until driven) and driven in
    turn, ``rounds`` times over, so slow drifts of the machine's other load hit them all alike."""
    from tests.helpers import start_devdb, stop_devdb
    from tests.live import live_site

    devdb = None
    tmp_dir = tempfile.TemporaryDirectory(prefix="authsite-bench-workers-")
    with tmp_dir as tmp, contextlib.ExitStack() as stack:
        workdir = Path(tmp)
        if db == "mongodb":
            devdb, port = start_devdb("--memory")
            stack.callback(stop_devdb, devdb)
            url = f"mongodb://127.0.0.1:{port}/authsite?directConnection=true"
        else:
            url = f"sqlite:///{workdir / 'bench.sqlite3'}"
        sites = []
        for kind, workers, threads in configs:
            env = {**bench_run.SITE_ENV, "GUNICORN_WORKER_CLASS": kind}
            sites.append(stack.enter_context(
                live_site(database_url=url, extra_env=env, workers=workers, threads=threads)))
        data = bench_run._prepare(sites[0], workdir, opts)
        runs: dict[int, list[dict[str, Any]]] = {i: [] for i in range(len(configs))}
        for round_ in range(rounds):
            for i, site in enumerate(sites):
                runs[i].append(_measure_one(site, data, opts, devdb))
                last = runs[i][-1]
                print(f"  round {round_ + 1}  {_label(*configs[i]):30} "
                      f"floor {last['floor']['rps']:6.0f} req/s   me {last['me']['rps']:6.0f} req/s")
    rows = []
    for i, (kind, workers, threads) in enumerate(configs):
        row: dict[str, Any] = {"worker_class": kind, "workers": workers, "threads": threads, "runs": runs[i]}
        for name in ("floor", "me"):
            results = [r[name] for r in runs[i]]
            row[name] = {
                "rps": statistics.median(r["rps"] for r in results),
                "p99_ms": statistics.median(r["p99_ms"] for r in results),
                "cpu_ms": statistics.median(bench_run._cpu(r) for r in results),
                "errors": sum(r["errors"] for r in results),
            }
        rows.append(row)
    return rows


def _measure_one(site: Any, data: dict[str, Any], opts: bench_run.Options, devdb: Any) -> dict[str, Any]:
    """The floor, then GET me, on one site."""
    server = bench_run.Server.of(site)
    if devdb is not None:
        server.db_pids = [devdb.pid]
    host = f"{server.host}:{server.port}"
    rows = [bench_run._request("GET", f"/api/bench/row/{pk}", host) for pk in data["user_ids"]]
    me = [bench_run._request("GET", "/api/auth/me", host, token=t) for t in data["me_access"]]
    return {
        "floor": bench_run.run_client(server, rows, cyclic=True, opts=opts),
        "me": bench_run.run_client(server, me, cyclic=True, opts=opts),
    }


def _label(kind: str, workers: int, threads: int) -> str:
    if kind == "sync":
        return f"sync, {workers} workers"
    return f"gthread, {workers} workers x {threads} threads"


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| workers | floor req/s | floor p99 ms | floor CPU ms/req | GET me req/s | GET me p99 ms "
        "| GET me CPU ms/req | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        floor, me = r["floor"], r["me"]
        lines.append(
            f"| {_label(r['worker_class'], r['workers'], r['threads'])} | {floor['rps']:.0f} "
            f"| {floor['p99_ms']:.1f} | {floor['cpu_ms']:.2f} | {me['rps']:.0f} | {me['p99_ms']:.1f} "
            f"| {me['cpu_ms']:.2f} | {floor['errors'] + me['errors']} |"
        )
    return "\n".join(lines)


def main(opts: bench_run.Options) -> int:
    bench_run.OUT_DIR.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    results = {}
    for db in opts.dbs:
        print(f"\n=== worker choices on {db}: {opts.connections} connections, "
              f"{opts.seconds:g} s per endpoint, {opts.rounds} rounds (medians) ===")
        results[db] = measure(db, opts, CONFIGS, rounds=opts.rounds)
    for db, rows in results.items():
        print(f"\n## {db}\n{table(rows)}")
    out = bench_run.OUT_DIR / "last-workers.json"
    out.write_text(json.dumps(results, indent=1, default=str))
    print(f"\nwhole run: {time.perf_counter() - started:.0f} s; "
          f"raw results in {out.relative_to(bench_run.ROOT)}")
    return 0
