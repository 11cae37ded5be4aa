"""``python -m bench`` (or ``./run bench``): every auth endpoint against the framework floor.

    python -m bench [--db mongodb|sqlite|both] [--seconds N]    the table (BENCHMARKS.md)
    python -m bench workers [--db ...] [--seconds N]            gunicorn worker choices

See BENCHMARKS.md for what is measured and how to read it.
"""

from __future__ import annotations

import argparse
import sys

from bench import run


def parse(argv: list[str] | None = None) -> tuple[str, run.Options]:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("what", nargs="?", choices=["endpoints", "workers"], default="endpoints",
                        help="endpoints (default): the table; workers: gunicorn worker choices")
    parser.add_argument("--db", choices=["mongodb", "sqlite", "both", "postgres"], default="both",
                        help="mongodb: a SecantusDB launched for the run; sqlite: a temporary file; "
                        "postgres: DATABASE_URL's (scripts/with-postgres ./run bench --db postgres)")
    parser.add_argument("--seconds", type=float, default=4.0, help="measured seconds per endpoint")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each")
    parser.add_argument("--connections", type=int, default=8, help="concurrent keep-alive connections")
    parser.add_argument("--workers", type=int, default=None,
                        help="gunicorn workers (default: gunicorn.conf.py's)")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads per worker (default: gunicorn.conf.py's)")
    parser.add_argument("--mfa-users", type=int, default=3000,
                        help="users with MFA: one mfa/login/verify each (default 3000)")
    parser.add_argument("--refresh-sessions", type=int, default=8000,
                        help="sessions whose refresh token is exchanged once each (default 8000)")
    parser.add_argument("--rounds", type=int, default=3, help="workers: rounds over the configurations")
    parser.add_argument("--only", action="append", default=None, metavar="ENDPOINT",
                        choices=list(run.TARGETS),
                        help="measure only this endpoint (repeatable), with the floor around it")
    args = parser.parse_args(argv)
    opts = run.Options(
        dbs=["mongodb", "sqlite"] if args.db == "both" else [args.db],
        seconds=args.seconds, warmup=args.warmup, connections=args.connections,
        workers=args.workers, threads=args.threads, mfa_users=args.mfa_users,
        refresh_sessions=args.refresh_sessions, rounds=args.rounds, only=args.only,
    )
    return args.what, opts


def main(argv: list[str] | None = None) -> int:
    from django.conf import settings

    # The runner imports tests.live (and through it Django modules) without running the site:
    # default settings are enough there. The site itself runs under gunicorn with its own.
    settings.configure()
    what, opts = parse(argv)
    if what == "workers":
        from bench import workers

        return workers.main(opts)
    return run.main(opts)


if __name__ == "__main__":
    sys.exit(main())
