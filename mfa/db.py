"""Database helpers that differ between MongoDB and SQL backends."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections, transaction

T = TypeVar("T")


def is_mongodb(using: str = DEFAULT_DB_ALIAS) -> bool:
    return connections[using].vendor == "mongodb"


def atomic(using: str = DEFAULT_DB_ALIAS) -> AbstractContextManager:
    """A real transaction on every backend.

    Django's ``transaction.atomic`` is a no-op on django-mongodb-backend; its own ``atomic`` runs a
    multi-document transaction (a replica set or sharded cluster in production MongoDB). The
    backend is imported only when it is in use, so the app never depends on it.
    """
    if is_mongodb(using):
        from django_mongodb_backend import transaction as mongo_transaction

        return mongo_transaction.atomic(using)
    return transaction.atomic(using=using)


# Attempts of a transaction the database reported as transient before the error is raised.
TRANSACTION_ATTEMPTS = 10


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` (or an error it was raised from) carries MongoDB's TransientTransactionError
    label: the whole transaction may simply be run again (a write conflict with a concurrent
    transaction, a primary stepping down). django-mongodb-backend raises DatabaseError from
    pymongo's OperationFailure, which holds the label."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        has_label = getattr(current, "has_error_label", None)
        if callable(has_label) and has_label("TransientTransactionError"):
            return True
        current = current.__cause__ or current.__context__
    return False


def run_in_transaction(work: Callable[[], T], using: str = DEFAULT_DB_ALIAS) -> T:
    """``work()`` in one real transaction (``atomic``), run again after a short random pause when
    the database calls the failure transient (``is_transient``), up to TRANSACTION_ATTEMPTS times;
    MongoDB's drivers ask for exactly that. ``work`` must be safe to run again: an aborted attempt
    leaves nothing behind, but work outside the database (an email) must not be inside it."""
    for attempt in range(1, TRANSACTION_ATTEMPTS + 1):
        try:
            with atomic(using):
                return work()
        except Exception as exc:
            if attempt == TRANSACTION_ATTEMPTS or not is_transient(exc):
                raise
        time.sleep(random.uniform(0, min(0.2, 0.005 * 2**attempt)))
    raise AssertionError("unreachable")


def attempts_in_one_transaction(using: str = DEFAULT_DB_ALIAS) -> bool:
    """Whether a second-factor attempt's writes run as one transaction (``lockout.counted``).

    Yes on SQL databases that lock rows (PostgreSQL, MySQL...): one commit per login, and a login
    that fails before its commit leaves nothing. Not on SQLite: it has one writer lock for the
    whole file, and a transaction holds it across the Python work between its statements, while
    an autocommit statement holds it only while SQLite runs it (measured in BENCHMARKS.md: with
    one transaction mfa/login/verify lost about 40% of its throughput and its p99 grew fourfold,
    at both ``synchronous`` levels). Not on MongoDB, where Django's ``atomic`` is a no-op. There
    each write is its own, and the guarantees come from the compare-and-set writes themselves.
    """
    connection = connections[using]
    return connection.vendor not in ("sqlite", "mongodb") and connection.features.supports_transactions


def parse_uuid(value: Any) -> uuid.UUID | None:
    """A row id from outside (a path segment, a JSON field) as a UUID, or None when it cannot be
    one: mfa's models all have UUID primary keys, and a malformed id must be a 404 or a refusal,
    never a database error."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None
