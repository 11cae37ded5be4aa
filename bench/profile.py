"""Profile the auth endpoints in-process: ``python -m bench.profile --db sqlite|mongodb``.

Issue 16 groundwork: where the time of login, mfa/login/verify, token/refresh and GET me goes,
before any change. One process, no HTTP server: Django's test ``Client`` drives the whole stack
(middleware, DRF, the ORM) against a fresh database (a temporary SQLite file in WAL mode, or a
SecantusDB process in memory started with ``tests.helpers.start_devdb``), migrated here.

For each endpoint, in the order a real login makes them (each step uses what the previous one
returned, every token once):

1. ``--warmup`` requests, not measured (imports, caches, first connection);
2. ``--n`` requests timed without a profiler (wall ms per request, round trips per request from
   ``authsite.roundtrips``' counter, the header the benchmarks read);
3. ``--n`` more under cProfile: the top ``--top`` functions by cumulative time, per request.

login uses MFA users (password right: the answer is an mfa_token), so it pays one Argon2id hash.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

PASSWORD = "profile password, long enough"  # noqa: S105 - a benchmark fixture
DOMAIN = "profile.example"
ENDPOINTS = ("login", "mfa/login/verify", "token/refresh", "GET me")


def _environment(database_url: str, cache_dir: str) -> None:
    from tests.live import LIVE_JWT_KEY, LIVE_MFA_KEY, LIVE_SECRET

    os.environ.update(
        DJANGO_SETTINGS_MODULE="authsite.settings", DATABASE_URL=database_url, DEBUG="0",
        SECRET_KEY=LIVE_SECRET, JWT_SIGNING_KEY=LIVE_JWT_KEY, MFA_ENCRYPTION_KEYS=LIVE_MFA_KEY,
        SECURE_SSL_REDIRECT="0", SECURE_COOKIES="0", ALLOWED_HOSTS="testserver,127.0.0.1",
        LOG_LEVEL="WARNING", BENCH_ENDPOINTS="1", CACHE_DIR=cache_dir,
        AUTH_IP_RATE_LOGIN="off", AUTH_IP_RATE_REFRESH="off", AUTH_IP_RATE_CODE_FAILURES="off",
        AUTH_IP_RATE_REGISTER="off",
    )


def _make_users(count: int) -> list[tuple[str, str]]:
    """``count`` users with TOTP on (MFAAccount + confirmed TOTPDevice, secret encrypted as the app
    stores it, last step well in the past); returns [(email, secret)]."""
    import pyotp
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.db import connection
    from django.utils import timezone

    from mfa import crypto
    from mfa.factors import new_user_handle
    from mfa.models import MFAAccount, TOTPDevice

    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode=WAL")
    user_model = get_user_model()
    now = timezone.now()
    hashed = make_password(PASSWORD)
    emails = [f"u{i}@{DOMAIN}" for i in range(count)]
    user_model.objects.bulk_create([user_model(email=e, password=hashed, date_joined=now) for e in emails])
    users = {u.email: u for u in user_model.objects.filter(email__endswith=f"@{DOMAIN}")}
    secrets = [pyotp.random_base32(length=32) for _ in emails]
    step = int(now.timestamp()) // 30
    MFAAccount.objects.bulk_create([
        MFAAccount(user=users[e], user_handle=new_user_handle(), totp_last_step=step - 10, created_at=now)
        for e in emails
    ])
    TOTPDevice.objects.bulk_create([
        TOTPDevice(user=users[e], encrypted_secret=crypto.encrypt(s), confirmed=True, created_at=now,
                   setup_at=now, confirmed_at=now)
        for e, s in zip(emails, secrets, strict=True)
    ])
    return list(zip(emails, secrets, strict=True))


def _requests(users: list[tuple[str, str]]) -> dict[str, Callable[[Any, int], Any]]:
    """One callable per endpoint: (client, i) -> response, for the i-th user; each step keeps what
    the next one needs."""
    import pyotp

    state: dict[str, dict[int, str]] = {"mfa_token": {}, "refresh": {}, "access": {}}

    def post(client: Any, path: str, body: dict, **extra: Any) -> Any:
        return client.post(path, json.dumps(body), content_type="application/json", **extra)

    def login(client: Any, i: int) -> Any:
        r = post(client, "/api/auth/login", {"email": users[i][0], "password": PASSWORD})
        state["mfa_token"][i] = r.json()["mfa_token"]
        return r

    def verify(client: Any, i: int) -> Any:
        code = pyotp.TOTP(users[i][1]).now()
        r = post(client, "/api/auth/mfa/login/verify", {"mfa_token": state["mfa_token"][i], "code": code})
        state["refresh"][i] = r.json()["refresh"]
        return r

    def refresh(client: Any, i: int) -> Any:
        r = post(client, "/api/auth/token/refresh", {"refresh": state["refresh"][i]})
        state["access"][i] = r.json()["access"]
        return r

    def me(client: Any, i: int) -> Any:
        return client.get("/api/auth/me", HTTP_AUTHORIZATION=f"Bearer {state['access'][i]}")

    return dict(zip(ENDPOINTS, (login, verify, refresh, me), strict=True))


def _top(profile: cProfile.Profile, calls: int, top: int) -> str:
    """The ``top`` functions by cumulative time, in ms per request, paths shortened."""
    stats = pstats.Stats(profile, stream=io.StringIO())
    rows = []
    for (path, line, name), (_cc, ncalls, _tt, cum, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append((cum, ncalls, _short(path), line, name))
    rows.sort(reverse=True)
    out = [f"    {'cum ms/req':>10} {'calls/req':>9}  function"]
    skipped = ("bench/profile.py", "cProfile", "{built-in method builtins.exec}", *_WRAPPERS)
    shown = 0
    for cum, ncalls, path, line, name in rows:
        where = f"{path}:{line}({name})" if line else name
        if any(s in where for s in skipped):
            continue
        out.append(f"    {cum * 1000 / calls:10.3f} {ncalls / calls:9.1f}  {where}")
        shown += 1
        if shown == top:
            break
    return "\n".join(out)


# Frames every request passes through whole (test client, handler, middleware chain, view
# dispatch): their cumulative time is the request's, so they would fill the top 15 and say nothing.
_WRAPPERS = (
    "django/test/", "django/core/handlers/", "django/utils/deprecation.py", "contextlib.py",
    "django/views/decorators/csrf.py", "django/views/generic/base.py", "rest_framework/views.py:5",
    "(__call__)", "(inner)", "(_view_wrapper)", "(_get_response)",
)


def _own(profile: cProfile.Profile, calls: int, top: int) -> str:
    """The ``top`` functions by own time (excluding callees), in ms per request."""
    stats = pstats.Stats(profile, stream=io.StringIO())
    rows = sorted(
        ((tt, ncalls, _short(path), line, name)
         for (path, line, name), (_cc, ncalls, tt, _cum, _callers) in stats.stats.items()),  # type: ignore[attr-defined]
        reverse=True,
    )[:top]
    out = [f"    {'own ms/req':>10} {'calls/req':>9}  function (own time)"]
    for tt, ncalls, path, line, name in rows:
        where = f"{path}:{line}({name})" if line else name
        out.append(f"    {tt * 1000 / calls:10.3f} {ncalls / calls:9.1f}  {where}")
    return "\n".join(out)


def _short(path: str) -> str:
    for marker in ("site-packages/", "/lib/python3"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


@contextmanager
def database(db: str, name: str) -> Iterator[str]:
    """The URL of a fresh database for one in-process run: a SQLite file, or a SecantusDB in memory
    (tests.helpers.start_devdb); with ``_environment`` set for it; removed afterwards."""
    from tests.helpers import start_devdb, stop_devdb

    workdir = tempfile.mkdtemp(prefix=f"authsite-{name}-")
    devdb = None
    try:
        if db == "mongodb":
            devdb, port = start_devdb("--memory")
            url = f"mongodb://127.0.0.1:{port}/authsite_{name}?directConnection=true"
        else:
            url = f"sqlite:///{workdir}/{name}.sqlite3"
        _environment(url, os.path.join(workdir, "cache"))
        yield url
    finally:
        if devdb is not None:
            stop_devdb(devdb)
        shutil.rmtree(workdir, ignore_errors=True)


def run(db: str, n: int, warmup: int, top: int) -> None:
    import django
    from django.core.management import call_command
    from django.test import Client

    from authsite.roundtrips import HEADER

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    from django.db import connection

    total = warmup + 2 * n
    users = _make_users(total)
    requests = _requests(users)
    client = Client()
    print(f"# bench.profile on {connection.vendor} ({db}): {warmup} warm-up + {n} timed + {n} profiled "
          f"requests per endpoint, Python {sys.version.split()[0]}")
    for name, call in requests.items():
        trips: list[int] = []

        def one(i: int, name: str = name, call: Callable = call, trips: list[int] = trips) -> None:
            r = call(client, i)
            if r.status_code != 200:
                raise SystemExit(f"{name} #{i}: {r.status_code} {r.content[:300]!r}")
            trips.append(int(r[HEADER]))

        for i in range(warmup):
            one(i)
        del trips[:]
        wall = []
        for i in range(warmup, warmup + n):
            started = time.perf_counter()
            one(i)
            wall.append((time.perf_counter() - started) * 1000)
        profile = cProfile.Profile()
        for i in range(warmup + n, total):
            profile.enable()
            one(i)
            profile.disable()
        print(f"\n## {name}: wall ms/req median {statistics.median(wall):.2f}, "
              f"mean {statistics.mean(wall):.2f} "
              f"(no profiler); DB round trips/req {sorted(set(trips))} (mean {statistics.mean(trips):.2f})")
        print(_top(profile, n, top))
        print(_own(profile, n, 8))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "mongodb"), default="sqlite")
    parser.add_argument("--n", type=int, default=100, help="timed requests, and as many profiled")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args(argv)
    with database(args.db, "profile"):
        run(args.db, args.n, args.warmup, args.top)

if __name__ == "__main__":
    main()
