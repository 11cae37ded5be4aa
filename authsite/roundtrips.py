"""Counting database round trips per request, for the benchmarks and the round-trip tests.

Only installed when ``BENCH_ENDPOINTS=1`` (authsite.settings). ``RoundtripCounterMiddleware`` counts
every SQL statement (``connection.execute_wrapper``) and every MongoDB command (a pymongo
``CommandListener`` given to the MongoClient in ``DATABASES["default"]["OPTIONS"]``) made while
the request is handled, and sends the total in the ``X-DB-Roundtrips`` response header.

pymongo calls command listeners in the thread that runs the command, and Django's connections are
per thread, so a thread-local counter is exact under gunicorn's threaded workers. Server
monitoring (heartbeats) uses other listener types and is not counted.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from pymongo import monitoring

HEADER = "X-DB-Roundtrips"

_state = threading.local()


def _count_one() -> None:
    depth = getattr(_state, "depth", 0)
    if depth:
        _state.count += 1


class MongoCommandCounter(monitoring.CommandListener):
    """Counts the commands this thread sends while a request is being counted."""

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        _count_one()

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


MONGO_LISTENER = MongoCommandCounter()


def mongo_client_options() -> dict[str, Any]:
    """MongoClient keyword arguments that attach the counter (DATABASES[...]["OPTIONS"])."""
    return {"event_listeners": [MONGO_LISTENER]}


def _sql_wrapper(execute: Callable, sql: str, params: Any, many: bool, context: dict) -> Any:
    _count_one()
    return execute(sql, params, many, context)


class counting:  # noqa: N801 - used like a function: ``with counting() as c: ...; c.count``
    """Count this thread's database round trips inside the block (``.count`` afterwards)."""

    def __enter__(self) -> counting:
        from django.db import connection

        self.count = 0
        self._outer = getattr(_state, "count", 0)
        _state.count = 0
        _state.depth = getattr(_state, "depth", 0) + 1
        self._sql = None
        if connection.vendor != "mongodb" and _state.depth == 1:  # the outermost block counts SQL
            self._sql = connection.execute_wrapper(_sql_wrapper)
            self._sql.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._sql is not None:
            self._sql.__exit__(*exc)
        self.count = _state.count
        _state.depth -= 1
        _state.count = self._outer + self.count


class RoundtripCounterMiddleware:
    """Adds ``X-DB-Roundtrips: <n>`` to every response (benchmark builds only)."""

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        with counting() as counter:
            response = self.get_response(request)
        response[HEADER] = str(counter.count)
        return response
