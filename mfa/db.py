"""Database helpers that differ between MongoDB and SQL backends."""

from __future__ import annotations

import uuid
from contextlib import AbstractContextManager
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, transaction


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
