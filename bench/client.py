"""The load client: a separate process driving one endpoint with a fixed number of keep-alive
connections (closed loop: each connection sends its next request when the previous answer is in).

``python -m bench.client JOB.pickle RESULT.json``. The job holds pre-built HTTP/1.1 request bytes, so
the timed loop only sends bytes and parses status line and headers: one ``selectors`` loop in one
process, no HTTP library. Connections the server closes (``Connection: close``, as gunicorn's sync
workers do after every response) are reopened. The first ``warmup`` seconds are not counted.

The result: completed requests (measured, and with the warm-up), elapsed seconds, latencies,
status counts, the mean of the ``X-DB-Roundtrips`` header, and this process's CPU seconds (its own
ceiling: CPU seconds per request).
"""

from __future__ import annotations

import json
import pickle
import resource
import selectors
import socket
import sys
import time
from dataclasses import dataclass, field
from typing import Any

HEADER_END = b"\r\n\r\n"


@dataclass
class Job:
    host: str
    port: int
    requests: list[bytes]
    cyclic: bool  # reuse requests round-robin; else each is sent once and the run may end early
    seconds: float
    warmup: float
    connections: int
    ok_status: tuple[int, ...] = (200,)


@dataclass
class Conn:
    sock: socket.socket
    buf: bytearray = field(default_factory=bytearray)
    sent_at: float = 0.0
    counted: bool = False


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _parse_head(head: bytes) -> tuple[int, int, bool, int | None]:
    """(status, content length, server closes, X-DB-Roundtrips) of a response head."""
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length, close, trips = 0, False, None
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection":
            close = value.strip().lower() == b"close"
        elif name == b"x-db-roundtrips":
            trips = int(value)
        elif name == b"transfer-encoding":
            raise ValueError("chunked responses are not supported by the bench client")
    return status, length, close, trips


def run(job: Job) -> dict[str, Any]:
    sel = selectors.DefaultSelector()
    requests = job.requests
    next_index = 0

    def take() -> bytes | None:
        nonlocal next_index
        if next_index >= len(requests):
            if not job.cyclic or not requests:
                return None
            next_index = 0
        item = requests[next_index]
        next_index += 1
        return item

    def connect() -> Conn:
        sock = socket.create_connection((job.host, job.port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        return Conn(sock)

    latencies: list[float] = []
    statuses: dict[int, int] = {}
    trips_sum = trips_n = 0
    conn_errors = 0
    exhausted = False
    start = time.perf_counter()
    measure_from = start + job.warmup
    stop_at = measure_from + job.seconds
    cpu_at_measure: float | None = None
    last_done = measure_from
    all_done = 0  # warm-up included: the server's CPU time is divided by this

    def send(conn: Conn) -> bool:
        nonlocal exhausted
        now = time.perf_counter()
        if now >= stop_at:
            return False
        request = take()
        if request is None:
            exhausted = True
            return False
        conn.sent_at = now
        conn.counted = now >= measure_from
        conn.sock.sendall(request)  # small requests: the socket buffer takes them at once
        return True

    def open_one() -> int:
        """A new connection with a request in flight: 1 if it is live, 0 when nothing is left."""
        conn = connect()
        if send(conn):
            sel.register(conn.sock, selectors.EVENT_READ, conn)
            return 1
        conn.sock.close()
        return 0

    def retire(conn: Conn) -> None:
        sel.unregister(conn.sock)
        conn.sock.close()

    live = sum(open_one() for _ in range(job.connections))

    while live:
        if cpu_at_measure is None and time.perf_counter() >= measure_from:
            cpu_at_measure = _cpu()
        for key, _ in sel.select(timeout=1.0):
            conn: Conn = key.data
            try:
                chunk = conn.sock.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                chunk = b""
            if not chunk:  # closed by the server before (or instead of) an answer
                retire(conn)
                conn_errors += 1
                live += open_one() - 1
                continue
            conn.buf += chunk
            end = conn.buf.find(HEADER_END)
            if end < 0:
                continue
            status, length, close, trips = _parse_head(bytes(conn.buf[:end]))
            if len(conn.buf) < end + 4 + length:
                continue
            done = time.perf_counter()
            del conn.buf[: end + 4 + length]
            all_done += 1
            if conn.counted and done <= stop_at:
                latencies.append(done - conn.sent_at)
                statuses[status] = statuses.get(status, 0) + 1
                if trips is not None and status in job.ok_status:
                    trips_sum += trips
                    trips_n += 1
                last_done = done
            if close:
                retire(conn)
                live += open_one() - 1
            elif not send(conn):
                retire(conn)
                live -= 1
    cpu_used = _cpu() - (cpu_at_measure if cpu_at_measure is not None else _cpu())
    elapsed = max((stop_at if not exhausted else last_done) - measure_from, 1e-9)
    return {
        "completed": len(latencies),
        "all_completed": all_done,
        "elapsed": elapsed,
        "latencies": latencies,
        "statuses": {str(k): v for k, v in statuses.items()},
        "ok": sum(v for k, v in statuses.items() if k in job.ok_status),
        "conn_errors": conn_errors,
        "roundtrips": trips_sum / trips_n if trips_n else None,
        "client_cpu": cpu_used,
        "exhausted": exhausted,
    }


def main(argv: list[str]) -> int:
    with open(argv[0], "rb") as f:
        job: Job = pickle.load(f)  # noqa: S301 - written by bench.run a moment ago
    result = run(job)
    with open(argv[1], "w") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
