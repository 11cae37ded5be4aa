"""Reading configuration from environment variables, with clear errors.

Kept free of Django imports so settings.py can use it before Django is configured.
"""

from __future__ import annotations

import os
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str | None:
    """Return the variable's value, or ``default`` when it is unset or empty."""
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def env_bool(name: str, default: bool) -> bool:
    """Parse a boolean variable: 1/true/yes/on or 0/false/no/off."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be 0 or 1 (got {raw!r}).")


def env_int(name: str, default: int, *, minimum: int = 1) -> int:
    """Parse a positive integer variable (a number of seconds, a count...)."""
    raw = env_str(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer (got {raw!r}).") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum} (got {value}).")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    """Parse a comma-separated list, ignoring blanks."""
    raw = env_str(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_rate(name: str, default: str) -> str | None:
    """A rate such as ``20/min`` or ``5/10min`` (5 per 10 minutes), as mfa reads every rate
    (mfa.ratelimit.parse_rate); ``off`` disables it (returns None)."""
    from mfa.ratelimit import parse_rate

    raw = (env_str(name, default) or "").strip()
    try:
        rate = parse_rate(raw)
    except ValueError:
        raise ImproperlyConfigured(
            f"{name} must be a rate like '20/min' or '5/10min', or 'off' (got {raw!r})."
        ) from None
    return None if rate is None else raw


def env_url(name: str, default: str | None) -> str | None:
    """An absolute http(s) origin such as ``https://example.com``, without a trailing slash."""
    raw = env_str(name, default)
    if raw is None:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ImproperlyConfigured(f"{name} must be like https://example.com (got {raw!r}).")
    return raw.rstrip("/")


MONGO_DEFAULT_OPTIONS = {
    # Fail fast when the server is missing instead of pymongo's 30 s default: an API request then
    # answers 503 within about 2 s (authsite.middleware; tests/robustness/test_db_faults.py).
    "serverSelectionTimeoutMS": "2000",
    "connectTimeoutMS": "2000",
    # Every query of the site is a small indexed read or write: 5 s means a hung server.
    "socketTimeoutMS": "5000",
}


SQLITE_SYNCHRONOUS_LEVELS = ("OFF", "NORMAL", "FULL", "EXTRA")


def sqlite_options(name: str, *, timeout: int, synchronous: str) -> dict:
    """OPTIONS for Django's SQLite backend when several threads and processes share one file.

    ``transaction_mode`` IMMEDIATE: ``atomic()`` takes the write lock at BEGIN, so a second writer
    waits for it (up to ``timeout`` seconds) instead of failing. In the default DEFERRED mode a
    transaction that has read and then writes fails at once with "database is locked" when another
    one holds the lock: SQLite cannot wait there without breaking isolation, whatever the timeout.
    WAL lets readers run beside the writer. ``synchronous`` in WAL mode: NORMAL fsyncs at
    checkpoints only (a power cut or OS crash can lose the last commits, never corrupts the file),
    FULL fsyncs every commit (BENCHMARKS.md measures both). An in-memory database has no journal
    file to put in WAL mode and nothing to sync, so it gets neither pragma.
    """
    level = synchronous.strip().upper()
    if level not in SQLITE_SYNCHRONOUS_LEVELS:
        raise ImproperlyConfigured(
            f"SQLITE_SYNCHRONOUS must be one of {', '.join(SQLITE_SYNCHRONOUS_LEVELS)} (got {synchronous!r})."
        )
    options: dict = {"transaction_mode": "IMMEDIATE", "timeout": timeout}
    if name != ":memory:":
        options["init_command"] = f"PRAGMA journal_mode=WAL; PRAGMA synchronous={level}"
    return options


def database_from_url(
    url: str, *, base_dir: str, sqlite_timeout: int = 20, sqlite_synchronous: str = "NORMAL"
) -> dict:
    """Build a Django DATABASES entry from a URL.

    ``mongodb://`` / ``mongodb+srv://``: django-mongodb-backend, the database name from the path,
    short timeouts added unless the URL sets them. ``sqlite:///relative`` or ``sqlite:////abs``
    (``sqlite://`` alone: in memory), with the OPTIONS of ``sqlite_options``.
    ``postgres://user:pass@host:port/name``.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in {"mongodb", "mongodb+srv"}:
        name = unquote(parts.path.lstrip("/"))
        if not name:
            raise ImproperlyConfigured(
                "DATABASE_URL for MongoDB must name the database, e.g. "
                "mongodb://127.0.0.1:27017/authsite"
            )
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        for key, value in MONGO_DEFAULT_OPTIONS.items():
            query.setdefault(key, value)
        host_url = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))
        return {"ENGINE": "django_mongodb_backend", "HOST": host_url, "NAME": name}
    if scheme == "sqlite":
        if parts.netloc not in ("", "localhost"):
            raise ImproperlyConfigured("DATABASE_URL for SQLite looks like sqlite:///path/db.sqlite3")
        path = parts.path
        if path in ("", "/", "/:memory:"):
            name = ":memory:"
        elif path.startswith("//"):
            name = path[1:]  # sqlite:////abs/path
        else:
            name = os.path.join(base_dir, path.lstrip("/"))
        entry = {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": name,
            "OPTIONS": sqlite_options(name, timeout=sqlite_timeout, synchronous=sqlite_synchronous),
        }
        if name != ":memory:":
            # Tests on a file database use a file too (test_<name> beside it), not Django's default
            # shared in-memory one: each thread then has its own connection and the race tests run
            # against SQLite's real locking and transactions.
            head, tail = os.path.split(name)
            entry["TEST"] = {"NAME": os.path.join(head, f"test_{tail}")}
        return entry
    if scheme in {"postgres", "postgresql", "pgsql"}:
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
        }
    raise ImproperlyConfigured(
        f"DATABASE_URL has an unsupported scheme {scheme!r}: use mongodb://, sqlite:// or postgres://."
    )
