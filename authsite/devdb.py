"""Development and test database launcher: a SecantusDB server in this process.

For development and tests only. Production uses a real MongoDB server or
MongoDB Atlas; nothing here is deployed. SecantusDB (the ``secantus`` package,
GPL-2.0) speaks the MongoDB wire protocol and always runs as this separate
process: the ``mfa`` app and the rest of the site talk to it over a socket
through pymongo and never import it.

Usage::

    python -m authsite.devdb --port PORT (--data DIR | --memory) \
        [--host 127.0.0.1] [--ttl-sweep-seconds 1]

``--port 0`` picks a free port. Once the server accepts connections, exactly
one line goes to stdout (the test fixture and the run script parse it with
``devdb: listening on ([\\d.]+):(\\d+)``); every log line goes to stderr.
SIGTERM or SIGINT stops the server cleanly (exit code 0; with ``--data`` the
data is checkpointed to DIR). A port already in use exits with status 1 and a
one-line message.

Workarounds for SecantusDB 0.7.0b3 defects (see MONGODB-NOTES.md), applied
only inside this process:

1. A nested ``$project`` inclusion (``{"ct": {"app_label": 1}}``) yields the
   literal ``1``; :func:`patch_nested_project` rewrites nested specs to dotted
   paths (``{"ct.app_label": 1}``), which MongoDB treats identically.
2. ``python -m secantus`` never passes the TTL sweep interval to the server,
   so expired documents linger up to 60 s; we construct ``SecantusDBServer``
   ourselves with ``ttl_sweep_seconds`` (default 1).
3. A nested ``$addFields`` / ``$set`` (``{"ct": {"app_label": "$x"}}``)
   replaces the embedded document instead of adding to it, so
   ``select_related()`` plus ordering by the same relation loses the related
   row (``Permission`` in the admin's user change form: 500);
   :func:`patch_nested_add_fields` rewrites it to dotted paths, as for 1.
4. Not a wrong result but a slow one: ``$and`` filters, ``$match`` after
   ``select_related()``'s ``$lookup`` stages and ``Exists()`` sub-pipelines
   were planned as collection scans (mongod uses indexes for all three);
   :mod:`authsite.devdb_planner` plans them as mongod does.

Also, ``SecantusDBServer.stop()`` closes its listening socket without waking
the thread blocked in ``accept()`` and then waits out a 2 s join timeout on
Linux; :func:`_stop_server` shuts the socket down first so stop takes
milliseconds.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import functools
import logging
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import FrameType
from typing import Any

log = logging.getLogger("authsite.devdb")

#: stdout line announcing the bound address; parsed by the test fixture and run script.
READY_LINE = "devdb: listening on {host}:{port}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m authsite.devdb",
        description="Run a SecantusDB (MongoDB wire) server for development and tests.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)"
    )
    parser.add_argument(
        "--port", type=int, required=True, help="port to bind; 0 picks a free one"
    )
    storage = parser.add_mutually_exclusive_group(required=True)
    storage.add_argument(
        "--data", type=Path, metavar="DIR", help="keep data in DIR (created if missing)"
    )
    storage.add_argument(
        "--memory", action="store_true", help="in-memory storage, gone on exit"
    )
    parser.add_argument(
        "--ttl-sweep-seconds",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="interval of the TTL-index expiry sweep (default 1; 0 disables)",
    )
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    return parser


def _flatten_projection(spec: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"x": 1, "y": "$b"}}`` -> ``{"a.x": 1, "a.y": "$b"}``.

    A sub-document counts as a nested projection when it is non-empty and has
    no ``$``-prefixed key (``{"$add": [...]}`` stays an expression). The
    top-level ``_id`` is left alone, as are non-mapping values.
    """
    flat: dict[str, Any] = {}
    for key, value in spec.items():
        path = f"{prefix}{key}"
        if (
            path != "_id"
            and isinstance(value, Mapping)
            and value
            and not any(str(k).startswith("$") for k in value)
        ):
            flat.update(_flatten_projection(value, f"{path}."))
        else:
            flat[path] = value
    return flat


def _flatten_nested_specs(name: str) -> None:
    """Wrap ``secantus.aggregate.<name>(doc, spec, vars)`` so that nested sub-document specs
    reach it as dotted paths (see :func:`_flatten_projection`). SecantusDB looks the function up
    as a module global on every call, so the wrapper also covers stages inside ``$lookup`` and
    ``$facet`` sub-pipelines. Idempotent. Re-check on a SecantusDB upgrade."""
    from secantus import aggregate

    original: Callable[..., dict[str, Any]] = getattr(aggregate, name)
    if getattr(original, "_devdb_patched", False):
        return

    @functools.wraps(original)
    def flattened(doc: dict[str, Any], spec: Mapping[str, Any], vars: dict[str, Any]) -> dict[str, Any]:
        if any(isinstance(v, Mapping) for v in spec.values()):
            spec = _flatten_projection(spec)
        return original(doc, spec, vars)

    flattened._devdb_patched = True  # type: ignore[attr-defined]
    setattr(aggregate, name, flattened)


def patch_nested_project() -> None:
    """Workaround for SecantusDB 0.7.0b3 defect 1: a nested ``$project`` inclusion
    (``{"ct": {"app_label": 1}}``) yields the literal ``1``; mongod treats it like the dotted
    ``{"ct.app_label": 1}``. Drop it once upstream treats nested and dotted inclusion alike."""
    _flatten_nested_specs("_project_one")


def patch_nested_add_fields() -> None:
    """Workaround for SecantusDB 0.7.0b3 defect 3: a nested ``$addFields``/``$set``
    (``{"a": {"x": expr}}``) replaces the embedded ``a``; mongod adds ``x`` to it like
    ``{"a.x": expr}``. django-mongodb-backend relies on that when it sorts by a joined field."""
    _flatten_nested_specs("_add_fields_one")


def _stop_server(server: Any) -> None:
    """Stop the server promptly and close its storage (checkpointing ``--data``).

    ``shutdown()`` wakes the accept thread (on Linux ``close()`` alone does not,
    and ``stop()`` would wait out its 2 s join timeout). ``_socket`` is private;
    if it goes away upstream this degrades to a slower stop, not an error.
    """
    listener = getattr(server, "_socket", None)
    if isinstance(listener, socket.socket):
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)
    server.stop()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=args.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )

    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        stopping.set()

    # Installed before the (slow) import and storage open, so an early
    # SIGTERM still ends in a clean shutdown rather than a kill.
    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    started = time.monotonic()
    import wiredtiger
    from secantus import SecantusDBServer, __version__

    patch_nested_project()
    patch_nested_add_fields()
    # Plan the site's queries as mongod does (indexes under $and, $match before $lookup).
    from authsite import devdb_planner

    devdb_planner.patch_conjunction_index_use()
    devdb_planner.patch_match_pushdown()
    devdb_planner.patch_lookup_subpipeline_match()

    if args.memory:
        storage_path = ":memory:"
    else:
        try:
            args.data.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            print(
                f"devdb: cannot create data directory {args.data}: {exc}",
                file=sys.stderr,
            )
            return 1
        storage_path = str(args.data.resolve())

    try:
        server = SecantusDBServer(
            host=args.host,
            port=args.port,
            storage_path=storage_path,
            # Advertise a single-node replica set (the default) so pymongo
            # allows multi-document transactions and change streams.
            replica_set_name="secantus",
            enable_test_commands=False,
            ttl_sweep_seconds=args.ttl_sweep_seconds,  # defect 2 workaround
            # Journal + checkpoint on close even if SECANTUS_TEST_FAST_STORAGE=1
            # is in the environment; ignored for in-memory storage.
            durable=True,
        )
    except (wiredtiger.WiredTigerError, OSError, RuntimeError) as exc:
        # e.g. another devdb holds DIR's WiredTiger.lock: "Device or resource busy"
        print(f"devdb: cannot open storage {storage_path}: {exc}", file=sys.stderr)
        return 1

    try:
        server.start()
    except OSError as exc:
        server.stop()  # closes storage and removes the in-memory temp dir
        in_use = exc.errno == errno.EADDRINUSE
        reason = "address already in use" if in_use else exc.strerror or str(exc)
        print(
            f"devdb: cannot listen on {args.host}:{args.port}: {reason}",
            file=sys.stderr,
        )
        return 1

    host, port = server.address
    log.info(
        "SecantusDB %s up in %.2f s, storage %s, TTL sweep every %g s",
        __version__,
        time.monotonic() - started,
        storage_path,
        args.ttl_sweep_seconds,
    )
    print(READY_LINE.format(host=host, port=port), flush=True)

    try:
        while not stopping.wait(1.0):
            pass
    finally:
        t0 = time.monotonic()
        _stop_server(server)
        log.info("stopped in %.2f s", time.monotonic() - t0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
