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


def rolls_back(using: str = DEFAULT_DB_ALIAS) -> bool:
    """Whether Django's ``transaction.atomic`` is a real transaction on this database: every SQL
    backend, not django-mongodb-backend (whose writes inside it are each their own, so what a
    failed block already wrote must be given back by the caller)."""
    return bool(connections[using].features.supports_transactions)


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
