"""Database helpers that differ between MongoDB and SQL backends."""

from __future__ import annotations

from contextlib import AbstractContextManager

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
