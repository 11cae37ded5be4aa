"""A live site for tests and benchmarks: the SecantusDB launcher (when no DATABASE_URL is given),
``migrate``, then gunicorn with the repository's gunicorn.conf.py on a free loopback port."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIVE_SECRET = "live-test-secret-key-" + "s" * 40
LIVE_JWT_KEY = "live-test-jwt-signing-key-" + "j" * 40
LIVE_MFA_KEY = "bGl2ZS1zaXRlLW1mYS1lbmNyeXB0aW9uLWtleS0zMmI="  # a Fernet key: base64 of 32 bytes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveSite:
    url: str
    env: dict[str, str]
    server: subprocess.Popen
    devdb: subprocess.Popen | None = None
    devdb_args: list[str] = field(default_factory=list)
    devdb_port: int | None = None
    # gunicorn's stderr (its own log and the site's logging), read continuously by a thread: an
    # unread pipe fills up (64 KiB) and then blocks every worker that logs, i.e. the whole site.
    stderr_lines: deque[str] = field(default_factory=lambda: deque(maxlen=200_000))

    def log_text(self) -> str:
        """Everything gunicorn and the site have written to stderr so far."""
        return "".join(list(self.stderr_lines))

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, check=check,
            capture_output=True, text=True, timeout=120,
        )

    def stop_database(self) -> None:
        """Stop the SecantusDB process (fault injection)."""
        assert self.devdb is not None, "the site runs on an external DATABASE_URL"
        self.devdb.terminate()
        self.devdb.wait(timeout=15)

    def start_database(self) -> None:
        """Start SecantusDB again on the same port and storage."""
        from tests.helpers import READY

        self.devdb = subprocess.Popen(
            [sys.executable, "-m", "authsite.devdb", "--port", str(self.devdb_port), *self.devdb_args],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        assert self.devdb.stdout is not None
        line = self.devdb.stdout.readline()
        assert READY.search(line), line


def _drain(stream, sink: deque[str]) -> None:
    for line in iter(stream.readline, ""):
        sink.append(line)
    stream.close()


def _wait_http(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2)  # noqa: S310 - loopback only
            return
        except urllib.error.HTTPError:
            return  # any HTTP answer means it is serving
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer in time")


@contextlib.contextmanager
def live_site(
    *, database_url: str | None = None, data_dir: Path | None = None, extra_env: dict[str, str] | None = None,
    workers: int | None = 2, threads: int | None = 4,
) -> Iterator[LiveSite]:
    """Serve the site with gunicorn on loopback. Without ``database_url``, a SecantusDB process is
    started (``data_dir``: on disk there, else in memory) and stopped afterwards. ``workers`` or
    ``threads`` None: gunicorn.conf.py's own default."""
    from tests.helpers import start_devdb, stop_devdb

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST_"))}
    env.update(
        DEBUG="0", SECRET_KEY=LIVE_SECRET, JWT_SIGNING_KEY=LIVE_JWT_KEY, MFA_ENCRYPTION_KEYS=LIVE_MFA_KEY,
        SECURE_SSL_REDIRECT="0",
        SECURE_COOKIES="0", ALLOWED_HOSTS="127.0.0.1,localhost", LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="authsite.settings",
        # Links in emails (password reset) point at this site.
        SITE_URL=f"http://127.0.0.1:{port}",
    )
    for name, value in (("GUNICORN_WORKERS", workers), ("GUNICORN_THREADS", threads)):
        if value is None:
            env.pop(name, None)
        else:
            env[name] = str(value)
    # Throttle state of its own: the default file cache (var/cache) is shared by every live site
    # on the machine, so a per-IP limit (register: 20/hour from 127.0.0.1) would carry over.
    cache_dir = tempfile.mkdtemp(prefix="authsite-live-cache-")
    env["CACHE_DIR"] = cache_dir
    env.update(extra_env or {})
    devdb = None
    devdb_args: list[str] = []
    devdb_port = None
    if database_url is None:
        devdb_args = ["--data", str(data_dir)] if data_dir is not None else ["--memory"]
        devdb, devdb_port = start_devdb(*devdb_args)
        database_url = f"mongodb://127.0.0.1:{devdb_port}/authsite?directConnection=true"
    env["DATABASE_URL"] = database_url
    server = None
    site = None
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True,
            capture_output=True, timeout=180,
        )
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "authsite.wsgi:application", "-c", "gunicorn.conf.py",
             "-b", f"127.0.0.1:{port}"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            errors="replace",
        )
        url = f"http://127.0.0.1:{port}"
        site = LiveSite(url, env, server, devdb, devdb_args, devdb_port)
        threading.Thread(target=_drain, args=(server.stderr, site.stderr_lines), daemon=True).start()
        # a literal path: the benchmarks use this module with settings that have no URLconf
        _wait_http(url + "/api/auth/me", server)
        yield site
    finally:
        if site is not None:  # the database the test left running (start_database() replaces it)
            devdb = site.devdb
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
        if devdb is not None and devdb.poll() is None:
            stop_devdb(devdb)
        shutil.rmtree(cache_dir, ignore_errors=True)
