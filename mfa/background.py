"""Work done after the response: one worker thread per process runs queued jobs in order.

A password reset request answers before the account is even looked up, so the time of the answer
cannot tell a known address from an unknown one; the lookup, the event and the email happen here.
A job's failure is logged, never raised. Each job runs with its own database connection, closed
when the queue is empty. The queue lives in memory: jobs still queued when the process stops
(a gunicorn worker restart) are lost, as an email lost in transit would be.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from django.db import connections

logger = logging.getLogger("mfa.background")

_jobs: queue.Queue[Callable[[], object]] = queue.Queue()
_lock = threading.Lock()
_worker: threading.Thread | None = None


def _run() -> None:
    while True:
        job = _jobs.get()
        try:
            job()
        except Exception:
            logger.exception("a background job failed")
        finally:
            if _jobs.unfinished_tasks <= 1:
                connections.close_all()
            _jobs.task_done()


def submit(job: Callable[[], object]) -> None:
    """Queue ``job`` (no arguments) for the worker thread, starting the thread on first use
    (after a fork: each gunicorn worker has its own)."""
    global _worker
    with _lock:
        if _worker is None or not _worker.is_alive():
            _worker = threading.Thread(target=_run, name="mfa-background", daemon=True)
            _worker.start()
    _jobs.put(job)


def wait_idle(timeout: float = 10.0) -> bool:
    """Block until every queued job has run (tests; a graceful shutdown). False on timeout."""
    with _jobs.all_tasks_done:
        return _jobs.all_tasks_done.wait_for(lambda: _jobs.unfinished_tasks == 0, timeout=timeout)
