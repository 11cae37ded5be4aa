"""The proof that mfa is a pip-installable app: build the wheel, install it into a brand-new virtualenv,
make a brand-new site with ``django-admin startproject`` (SQLite, Django's default User), configure
it with the code blocks of docs/using-mfa.md (marked ``<!-- fresh-site: NAME -->``, applied as
written), migrate, and log in, enrol and complete an MFA login over real HTTP against ``runserver``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import pyotp
import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "using-mfa.md"
PASSWORD = "correct horse battery staple"
SNIPPET = re.compile(r"<!-- fresh-site: ([\w-]+) -->\s*```python\n(.*?)```", re.DOTALL)
# Templates the guide has a host site write, by their path in the site ("templates/mfa/base.html").
TEMPLATE_SNIPPET = re.compile(r"<!-- fresh-site-template: ([\w/.-]+) -->\s*```html\n(.*?)```", re.DOTALL)


def guide_templates() -> dict[str, str]:
    return dict(TEMPLATE_SNIPPET.findall(GUIDE.read_text()))


def guide_snippets() -> dict[str, str]:
    snippets: dict[str, str] = {}
    for name, code in SNIPPET.findall(GUIDE.read_text()):
        assert name not in snippets, f"two snippets named {name!r} in {GUIDE.name}"
        snippets[name] = code
    return snippets


README = ROOT / "README.md"
PACKAGE = ROOT / "mfa"


def documented_import_paths() -> list[str]:
    """Every ``mfa`` import path the guide and the README show: ``from mfa.x import y`` lines, and
    dotted names in backticks or quotes (``mfa.middleware.PartialLoginMiddleware``,
    ``include("mfa.urls")``). Not import paths: check ids (``mfa.E001``), permissions (``mfa.delete_totpdevice``)
    and model labels (``mfa.SecurityEvent``); a one-dot name counts only when it is a module."""
    paths: set[str] = set()
    for text in (GUIDE.read_text(), README.read_text()):
        for module, names in re.findall(r"from (mfa(?:\.\w+)*) import ([\w, ]+)", text):
            paths.update(f"{module}.{name.strip()}" for name in names.split(",") if name.strip())
        # backticked or quoted: `mfa.x.Y`, include("mfa.urls"), "mfa.middleware.PartialLoginMiddleware"
        for dotted in re.findall(r"[`\"']@?(mfa(?:\.\w+)+)(?:\(\))?[`\"']", text):
            first = dotted.split(".")[1]
            if dotted.count(".") == 1 and not ((PACKAGE / f"{first}.py").exists() or (PACKAGE / first).is_dir()):
                continue
            paths.add(dotted)
    return sorted(paths)


IMPORT_CHECK = """
import importlib
failed = []
for dotted in PATHS:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            failed.append(dotted)
        break
    else:
        failed.append(dotted)
assert not failed, failed
print("imports ok", len(PATHS))
"""


def test_the_documented_import_paths_are_found_and_import_here():
    paths = documented_import_paths()
    for expected in ("mfa.urls", "mfa.pages_urls", "mfa.middleware.PartialLoginMiddleware",
                     "mfa.middleware.mfa_exempt", "mfa.permissions.IsMFAComplete",
                     "mfa.authentication.SessionJWTAuthentication", "mfa.throttling.RegisterRateThrottle",
                     "mfa.adapter.DefaultMFAAdapter", "mfa.admin.MFAUserAdminMixin",
                     "mfa.signals.refresh_reuse_detected"):
        assert expected in paths, expected
    assert not any(p.startswith(("mfa.E0", "mfa.W0", "mfa.delete_", "mfa.SecurityEvent")) for p in paths)
    namespace: dict = {"PATHS": paths}
    exec(IMPORT_CHECK, namespace)  # noqa: S102 - our own check


def test_guide_has_every_snippet_the_fresh_site_applies():
    assert set(guide_snippets()) == {
        "settings-apps", "urls-minimal", "settings-keys", "settings-middleware", "urls", "admin",
        "settings-templates",
    }
    assert set(guide_templates()) == {"templates/layout.html", "templates/mfa/base.html"}


def test_guide_documents_every_mfa_setting_with_its_default():
    from mfa.conf import DEFAULTS

    text = GUIDE.read_text()
    rows = dict(re.findall(r"^\| `([A-Z_]+)` \| (.+?) \|", text, re.MULTILINE))
    assert set(rows) == set(DEFAULTS), "the MFA settings table and mfa.conf.DEFAULTS differ"
    for key, default in DEFAULTS.items():
        shown = rows[key].strip("`")
        if isinstance(default, str):
            assert shown == f'"{default}"', (key, shown)
        elif default is None or isinstance(default, int):
            assert shown == repr(default), (key, shown)
        else:  # timedelta or dict: the documented Python expression must evaluate to the default
            from datetime import timedelta

            assert eval(shown, {"timedelta": timedelta}) == default, (key, shown)  # noqa: S307


# --- the fresh site ---------------------------------------------------------------------------------


def run(cmd: list[str | Path], *, cwd: Path, env: dict[str, str], timeout: float = 180) -> str:
    proc = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{output}"
    return output


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a user's shell: none of this test run's Django or Python settings."""
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "PYTHON", "PYTEST", "VIRTUAL_ENV"))
        and k not in {"DATABASE_URL", "SECRET_KEY", "JWT_SIGNING_KEY", "AUTHSITE_TEST_DB_FROM_FIXTURE"}
    }
    env.update(extra)
    return env


def build_wheel(tmp: Path, env: dict[str, str]) -> Path:
    """``pip wheel . --no-deps`` in a copy of the checkout (no build/ or egg-info left in the repo,
    no stale build/lib), with accounts/, authsite/ and tests/ present so the exclusion is real."""
    src = tmp / "src"
    shutil.copytree(
        ROOT, src,
        ignore=shutil.ignore_patterns(
            ".git", ".venv*", "var", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
            ".ruff_cache", "node_modules",
        ),
    )
    out = tmp / "wheelhouse"
    run([sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "-q", "-w", out], cwd=src, env=env)
    (wheel,) = out.glob("django_mfa_sessions-*.whl")
    return wheel


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HTTP:
    def __init__(self, base: str) -> None:
        self.base = base

    def request(self, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(  # noqa: S310 - http://127.0.0.1 only
            self.base + path, data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as r:  # noqa: S310 - loopback only
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode(errors="replace")[:2000]


def wait_for_server(port: int, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"runserver exited ({proc.returncode}):\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"runserver did not listen on {port}:\n{log.read_text()}")


@pytest.mark.slow
def test_wheel_installs_into_a_new_startproject_site_and_mfa_login_works_over_http(tmp_path):
    snippets = guide_snippets()
    env = clean_env()

    # 1. The wheel: the mfa package with its templates and migrations, nothing of the demo site.
    wheel = build_wheel(tmp_path, env)
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "mfa/migrations/0001_initial.py", "mfa/templates/mfa/challenge.html", "mfa/templates/mfa/base.html",
        "mfa/templates/admin/mfa/reset_mfa_confirmation.html", "mfa/management/commands/mfa_purge.py",
        "mfa/api/views.py", "mfa/pages/middleware.py", "mfa/methods/totp.py",
        "mfa/locale/fr/LC_MESSAGES/django.po", "mfa/locale/fr/LC_MESSAGES/django.mo",
    ):
        assert required in names, required
    dist_info = wheel.name.rsplit("-", 3)[0] + ".dist-info"
    assert {n.split("/")[0] for n in names} == {"mfa", dist_info}  # no accounts/, authsite/, tests/
    metadata = zipfile.ZipFile(wheel).read(f"{dist_info}/METADATA").decode()
    assert "Name: django-mfa-sessions" in metadata and "Version: 0.1.0" in metadata
    requires = re.findall(r"^Requires-Dist: (.+)$", metadata, re.MULTILINE)
    always = sorted(re.split(r"[<>=!~;\[ ]", r)[0].lower() for r in requires if "extra ==" not in r)
    assert always == sorted(
        ["django", "djangorestframework", "djangorestframework-simplejwt", "pyotp", "segno", "webauthn", "cryptography"]
    ), requires
    assert any(r.startswith("django-mongodb-backend") and 'extra == "mongodb"' in r for r in requires)
    assert not any("secantus" in r.lower() for r in requires)

    # 2. A brand-new virtualenv with only the wheel and its dependencies (the versions this
    # repository tests with, via requirements.txt as constraints).
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", venv], cwd=tmp_path, env=env)
    py, bindir = venv / "bin" / "python", venv / "bin"
    run(
        [py, "-m", "pip", "install", "-q", "--disable-pip-version-check", "-c", ROOT / "requirements.txt", wheel],
        cwd=tmp_path, env=env, timeout=300,
    )
    installed = run([py, "-m", "pip", "list", "--format=freeze"], cwd=tmp_path, env=env).lower()
    assert "django-mfa-sessions==" in installed
    assert "secantus" not in installed and "django-mongodb-backend" not in installed
    env = clean_env(PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")

    # 3. startproject, then only INSTALLED_APPS and the include: check has no errors.
    run([bindir / "django-admin", "startproject", "mysite"], cwd=tmp_path, env=env)
    site = tmp_path / "mysite"
    settings_py, urls_py = site / "mysite" / "settings.py", site / "mysite" / "urls.py"

    def add_to_settings(code: str) -> None:
        settings_py.write_text(settings_py.read_text() + "\n" + code)

    add_to_settings(snippets["settings-apps"])
    urls_py.write_text(snippets["urls-minimal"])
    out = run([py, "manage.py", "check"], cwd=site, env=env)
    assert "ERRORS:" not in out, out

    # 4. The rest of the guide: keys and MFA settings, middleware, pages, the admin mixin.
    # The two secrets, made as the guide shows.
    env["JWT_SIGNING_KEY"] = secrets.token_urlsafe(48)
    env["MFA_ENCRYPTION_KEY"] = Fernet.generate_key().decode()
    add_to_settings(snippets["settings-keys"])
    add_to_settings(snippets["settings-middleware"])
    urls_py.write_text(snippets["urls"])
    run([py, "manage.py", "startapp", "accounts"], cwd=site, env=env)
    add_to_settings('INSTALLED_APPS += ["accounts"]\n')  # "add it to INSTALLED_APPS" (guide, Admin)
    (site / "accounts" / "admin.py").write_text(snippets["admin"])
    # The guide's "Put the pages inside your own layout": the host's layout and its mfa/base.html.
    add_to_settings(snippets["settings-templates"])
    for relative, text in guide_templates().items():
        (site / relative).parent.mkdir(parents=True, exist_ok=True)
        (site / relative).write_text(text)
    out = run([py, "manage.py", "check"], cwd=site, env=env)
    assert "System check identified no issues" in out, out
    out = run([py, "manage.py", "makemigrations", "--check", "--dry-run"], cwd=site, env=env)
    assert "No changes detected" in out, out
    out = run([py, "manage.py", "migrate", "--noinput"], cwd=site, env=env)
    assert "Applying mfa.0001_initial... OK" in out, out
    run(
        [py, "manage.py", "shell", "-c",
         f"from django.contrib.auth.models import User; User.objects.create_user('alice', password={PASSWORD!r})"],
        cwd=site, env=env,
    )

    # 5. runserver, and the whole flow over HTTP.
    port = free_port()
    log = tmp_path / "runserver.log"
    with log.open("w") as log_file:
        server = subprocess.Popen(
            [str(py), "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=site, env=env, stdout=log_file, stderr=subprocess.STDOUT,
        )
    try:
        wait_for_server(port, server, log)
        api = HTTP(f"http://127.0.0.1:{port}/api/auth/")

        status, body = api.request("POST", "login", {"username": "alice", "password": PASSWORD})
        assert status == 200 and body["requires_mfa"] is False, (status, body)
        access = body["access"]
        assert body["refresh"]

        status, setup = api.request("POST", "mfa/setup", {}, token=access)
        assert status == 200 and setup["otpauth_uri"].startswith("otpauth://totp/"), (status, setup)
        assert "issuer=My%20Site" in setup["otpauth_uri"]  # MFA["ISSUER"] from the guide's settings
        totp = pyotp.TOTP(setup["secret"])
        status, body = api.request("POST", "mfa/verify", {"code": totp.now()}, token=access)
        assert status == 200 and body["mfa_enabled"] is True, (status, body)
        assert len(body["recovery_codes"]) == 10

        status, body = api.request("POST", "login", {"username": "alice", "password": PASSWORD})
        assert status == 200 and body["requires_mfa"] is True and "access" not in body, (status, body)
        # The enrolment used the current step; the next one is within the accepted drift.
        next_code = totp.at(time.time() + 30)
        status, pair = api.request(
            "POST", "mfa/login/verify", {"mfa_token": body["mfa_token"], "code": next_code}
        )
        assert status == 200 and pair["access"] and pair["refresh"], (status, pair)

        status, me = api.request("GET", "me", token=pair["access"])
        assert status == 200 and me["mfa_enabled"] is True and me["recovery_codes_left"] == 10, me
        # Enabling MFA ends the user's other sessions but keeps the one that enrolled.
        status, _ = api.request("GET", "me", token=access)
        assert status == 200

        # Templates come from the wheel: the browser sign-in page renders.
        status, page = HTTP(f"http://127.0.0.1:{port}").request("GET", "/account/login/")
        assert status == 200 and "<form" in page, (status, page)

        # Every import path the guide and the README document works from the installed wheel.
        paths = documented_import_paths()
        out = run([py, "manage.py", "shell", "-c", f"PATHS = {paths!r}\n" + IMPORT_CHECK], cwd=site, env=env)
        assert f"imports ok {len(paths)}" in out, out
        # The French catalogue ships in the wheel and Django finds it.
        out = run([py, "manage.py", "shell", "-c", FRENCH_CHECK], cwd=site, env=env)
        assert "french ok" in out, out

        # The pages sit inside the host's layout: its header on the challenge page, mfa's form
        # and stylesheet in it, mfa's own header not.
        out = run([py, "manage.py", "shell", "-c", HOST_LAYOUT_CHECK.replace("PASSWORD", repr(PASSWORD))],
                  cwd=site, env=env)
        assert "host layout ok" in out, out

        # The admin mixin from the guide, on Django's own User admin: columns, then "Reset MFA".
        out = run([py, "manage.py", "shell", "-c", ADMIN_CHECK], cwd=site, env=env)
        assert "admin ok" in out, out
        status, body = api.request("POST", "login", {"username": "alice", "password": PASSWORD})
        assert status == 200 and body["requires_mfa"] is False, (status, body)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()

    out = run([py, "manage.py", "mfa_purge"], cwd=site, env=env)
    assert "deleted" in out, out


# Run with `manage.py shell -c` in the fresh site: a superuser (without MFA) opens the user list
# and resets alice's MFA through the admin action.
ADMIN_CHECK = """
from django.contrib.auth.models import User
from django.test import Client
admin_user = User.objects.create_superuser("root", password="another long passphrase")
alice = User.objects.get(username="alice")
client = Client(HTTP_HOST="localhost")
client.force_login(admin_user)
page = client.get("/admin/auth/user/")
assert page.status_code == 200, page.status_code
assert b"Recovery codes left" in page.content and b"reset_mfa" in page.content
reply = client.post("/admin/auth/user/", {"action": "reset_mfa", "_selected_action": [alice.pk], "post": "yes"})
assert reply.status_code == 302, reply.status_code
from mfa.models import TOTPDevice
assert not TOTPDevice.objects.filter(user=alice).exists()
print("admin ok")
"""


# alice (MFA on) signs in with her password in a browser session: the challenge page comes in the
# host's layout (templates/mfa/base.html from the guide).
HOST_LAYOUT_CHECK = """
from django.test import Client
client = Client(HTTP_HOST="localhost")
reply = client.post("/account/login/", {"username": "alice", "password": PASSWORD}, follow=True)
page = reply.content.decode()
assert reply.redirect_chain[-1][0].startswith("/account/challenge/"), reply.redirect_chain
assert '<header id="site-header"><a href="/">My Site</a></header>' in page, page
assert 'name="code"' in page and "/static/mfa/mfa.css" in page, page
assert "Two-factor authentication | My Site</title>" in page, page
assert 'class="mfa-header"' not in page, page
print("host layout ok")
"""


# The shipped French catalogue, from the installed wheel: an API message and a page.
FRENCH_CHECK = """
from django.test import Client
from django.utils import translation
from mfa.adapter import get_adapter
with translation.override("fr"):
    message = get_adapter().get_error_message("invalid_credentials")
    page = Client(HTTP_HOST="localhost").get("/account/login/").content.decode()
assert message != "Invalid username or password." and "nom d" in message, message
assert '<html lang="fr">' in page, page[:200]
print("french ok")
"""
