"""mfa.db: transactions run again when the database calls their failure transient."""

from __future__ import annotations

import pytest
from django.db import DatabaseError

from mfa import db


class LabelledError(Exception):
    """Stands in for pymongo's OperationFailure: an error that carries labels."""

    def __init__(self, *labels: str) -> None:
        super().__init__("write conflict")
        self.labels = set(labels)

    def has_error_label(self, label: str) -> bool:
        return label in self.labels


def wrapped(cause: BaseException) -> DatabaseError:
    """As django-mongodb-backend raises it: DatabaseError from the driver's error."""
    try:
        raise DatabaseError() from cause
    except DatabaseError as exc:
        return exc


def test_the_transient_label_is_found_through_the_wrapping_error():
    assert db.is_transient(wrapped(LabelledError("TransientTransactionError")))
    assert not db.is_transient(wrapped(LabelledError("UnknownTransactionCommitResult")))
    assert not db.is_transient(DatabaseError("database is locked"))


@pytest.mark.django_db
def test_a_transient_failure_is_run_again_until_it_succeeds(monkeypatch):
    monkeypatch.setattr(db.time, "sleep", lambda _s: None)
    calls = []

    def work() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise wrapped(LabelledError("TransientTransactionError"))
        return "done"

    assert db.run_in_transaction(work) == "done"
    assert len(calls) == 3


@pytest.mark.django_db
def test_other_failures_are_raised_at_once_and_transient_ones_after_the_last_attempt(monkeypatch):
    monkeypatch.setattr(db.time, "sleep", lambda _s: None)
    calls = []

    def broken() -> None:
        calls.append(1)
        raise DatabaseError("no such table")

    with pytest.raises(DatabaseError):
        db.run_in_transaction(broken)
    assert len(calls) == 1

    def always_conflicting() -> None:
        calls.append(1)
        raise wrapped(LabelledError("TransientTransactionError"))

    calls.clear()
    with pytest.raises(DatabaseError):
        db.run_in_transaction(always_conflicting)
    assert len(calls) == db.TRANSACTION_ATTEMPTS
