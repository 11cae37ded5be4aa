"""Logging filters used by authsite's LOGGING."""

from __future__ import annotations

import logging


class DatabaseQueryLogFilter(logging.Filter):
    """Drops the database layer's statement and command records (DEBUG) unless ``enabled``.

    Django (``django.db.backends``, django-mongodb-backend's operations too) and pymongo
    (``pymongo.command``) log every statement or command with its values at DEBUG: password
    hashes, encrypted TOTP secrets, recovery code hashes and lookup tags among them. Those are
    secrets at rest and must not spread into log storage (ASVS 16.2.5), so even with
    LOG_LEVEL=DEBUG they stay out unless LOG_DB_QUERIES=1 asks for them while debugging.
    """

    def __init__(self, enabled: bool = False) -> None:
        super().__init__()
        self.enabled = enabled

    def filter(self, record: logging.LogRecord) -> bool:
        return self.enabled or record.levelno > logging.DEBUG
