"""No secret in any log line or error response, with every logger at DEBUG.

The whole flow runs twice: in process (Django test client; root, django, django.request,
django.db.backends with the debug cursor forced on, pymongo and mfa all at DEBUG, every record
captured with all its attributes) and against a live gunicorn site started with LOG_LEVEL=DEBUG,
gunicorn's own debug log and its access log. Searched for: the password (right and wrong, the one a
password change sets and the one a reset sets), the TOTP secret and otpauth URI, every TOTP code sent
(right and wrong), every recovery code (as shown and normalised), every mfa_token, access and
refresh token (whole, and its signature alone), the password reset link and its token (whole, and
its signature alone).

Decision (documented in SECURITY.md): plaintext never appears, whatever the log level. Values
derived from secrets (the password hash, the encrypted TOTP secret, recovery code hashes and
lookup tags) are data at rest and stay out of the logs too: the database drivers' statement and
command logs carry them, so authsite's LOGGING drops those records unless LOG_DB_QUERIES=1 asks for
them while debugging (authsite.logfilters.DatabaseQueryLogFilter).
(SECURITY-CHECKS SEC-02; ASVS 16.2.5; OWASP MFA cheat sheet, "OTP values SHOULD NOT be logged".)
"""

from __future__ import annotations

import contextlib
import copy
import logging
import re
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from django.urls import reverse

from tests.helpers import reset_link, wait_for_background
from tests.live import live_site
from tests.robustness.helpers import (
    LIVE_ENV,
    Client,
    current_step,
    mongo_db,
    require_own_devdb,
    totp_at,
    unique_email,
)

DEBUG_LOGGERS = ["", "django", "django.request", "django.server", "django.security", "django.db.backends",
                 "pymongo", "pymongo.command", "pymongo.connection", "pymongo.serverSelection", "mfa",
                 "mfa.events", "authsite", "accounts", "rest_framework", "gunicorn"]
# a datetime's repr holds 6-digit microseconds, which can equal a TOTP code by chance
_DATETIME_REPR = re.compile(r"datetime\.datetime\([^)]*\)")


@dataclass
class Secrets:
    values: list[tuple[str, str]] = field(default_factory=list)

    def add(self, kind: str, value: str) -> str:
        self.values.append((kind, value))
        if kind in {"access token", "refresh token", "mfa_token"}:
            self.values.append((f"{kind} signature", value.rsplit(".", 1)[-1]))
        if kind == "reset token":  # "<timestamp>-<HMAC>": the HMAC is the secret part
            self.values.append((f"{kind} signature", value.rsplit("-", 1)[-1]))
        if kind == "recovery code":
            self.values.append((f"{kind} (normalised)", value.replace("-", "")))
        return value

    def leaks(self, text: str) -> list[str]:
        found = []
        plain = _DATETIME_REPR.sub("datetime(...)", text)
        for kind, value in self.values:
            if kind == "totp code":  # six digits: match them only as a whole token
                hit = re.search(rf"(?<![\w.]){re.escape(value)}(?![\w.])", plain)
            else:
                hit = re.search(re.escape(value), text)
            if hit:
                start = max(0, hit.start() - 120)
                source = plain if kind == "totp code" else text
                found.append(f"{kind} {value!r} in: ...{source[start:hit.end() + 80]!r}")
        return found


@dataclass
class Flow:
    """The full flow against any transport ``call(method, path, body, token) -> (status, bytes)``."""

    call: Callable[[str, str, object, str | None], tuple[int, bytes]]
    # reads the stored forms of the user's secrets (password hash, encrypted TOTP secret, recovery
    # code hashes and lookup tags) from the database: (kind, value) pairs
    stored: Callable[[str], list[tuple[str, str]]]
    # the reset link emailed to an address, once the email is out: (url, uid, token)
    reset_link: Callable[[str], tuple[str, str, str]]
    secrets: Secrets = field(default_factory=Secrets)
    error_bodies: list[str] = field(default_factory=list)

    def req(self, method: str, path: str, body=None, token: str | None = None, expect: int = 200) -> dict:
        import json

        status, content = self.call(method, path, body, token)
        text = content.decode("utf-8", "replace")
        if status >= 400:
            self.error_bodies.append(f"{method} {path} -> {status}: {text}")
        assert status == expect, (method, path, status, text)
        return json.loads(content) if content else {}

    def run(self) -> None:
        s = self.secrets
        email = unique_email("logs")
        password = s.add("password", "Pw-" + secrets.token_urlsafe(18))
        wrong_password = s.add("password", "Wrong-" + secrets.token_urlsafe(18))
        self.req("POST", reverse("register"), {"email": email, "password": password}, expect=201)
        self.req("POST", reverse("register"), {"email": email, "password": password}, expect=400)
        self.req("POST", reverse("mfa:auth-login"), {"email": email, "password": wrong_password}, expect=401)
        body = self.req("POST", reverse("mfa:auth-login"), {"email": email, "password": password})
        access = s.add("access token", body["access"])
        s.add("refresh token", body["refresh"])

        setup = self.req("POST", reverse("mfa:mfa-setup"), {}, token=access)
        secret = s.add("totp secret", setup["secret"])
        s.add("otpauth uri", setup["otpauth_uri"])
        s.add("totp secret", secret.lower())
        step = current_step()
        valid = {totp_at(secret, step + k) for k in range(-3, 4)}
        wrong = [c for c in (f"{n:06d}" for n in range(314159, 999999, 27183)) if c not in valid][:3]
        for code in wrong:
            s.add("totp code", code)
        self.req("POST", reverse("mfa:mfa-verify"), {"code": wrong[0]}, token=access, expect=400)
        codes = self.req("POST", reverse("mfa:mfa-verify"), {"code": s.add("totp code", totp_at(secret, step))},
                         token=access)["recovery_codes"]
        for code in codes:
            s.add("recovery code", code)
        for kind, value in self.stored(email):
            s.add(kind, value)

        # MFA login with TOTP (the next step: the enrolment used this one), after a wrong code
        token = s.add("mfa_token", self.req("POST", reverse("mfa:auth-login"), {"email": email, "password": password})["mfa_token"])
        self.req("POST", reverse("mfa:mfa-login-verify"), {"mfa_token": token, "code": wrong[1]}, expect=401)
        pair = self.req("POST", reverse("mfa:mfa-login-verify"),
                        {"mfa_token": token, "code": s.add("totp code", totp_at(secret, step + 1))})
        access2, refresh2 = s.add("access token", pair["access"]), s.add("refresh token", pair["refresh"])
        self.req("POST", reverse("mfa:mfa-login-verify"), {"mfa_token": token, "code": codes[5]}, expect=401)  # used
        self.req("POST", reverse("mfa:mfa-login-verify"), {"mfa_token": token[:-4] + "AAAA", "code": codes[5]}, expect=401)

        # MFA login with a recovery code
        token = s.add("mfa_token", self.req("POST", reverse("mfa:auth-login"), {"email": email, "password": password})["mfa_token"])
        pair = self.req("POST", reverse("mfa:mfa-login-verify"), {"mfa_token": token, "code": codes[0]})
        access3, refresh3 = s.add("access token", pair["access"]), s.add("refresh token", pair["refresh"])

        # refresh, then reuse of the rotated token (revokes that session)
        pair = self.req("POST", reverse("mfa:auth-refresh"), {"refresh": refresh2})
        s.add("access token", pair["access"])
        s.add("refresh token", pair["refresh"])
        self.req("POST", reverse("mfa:auth-refresh"), {"refresh": refresh2}, expect=401)
        self.req("GET", reverse("mfa:auth-me"), token=access2, expect=401)
        self.req("GET", reverse("mfa:auth-me"), token=access3)

        # regenerate the recovery codes (wrong code first), then disable (wrong password first)
        self.req("POST", reverse("mfa:mfa-recovery-codes"), {"code": wrong[2]}, token=access3, expect=400)
        new_codes = self.req("POST", reverse("mfa:mfa-recovery-codes"), {"code": codes[1]}, token=access3)["recovery_codes"]
        for code in new_codes:
            s.add("recovery code", code)
        for kind, value in self.stored(email):
            s.add(kind, value)
        self.req("POST", reverse("mfa:mfa-disable"), {"password": wrong_password, "code": new_codes[0]}, token=access3,
                 expect=400)
        self.req("POST", reverse("mfa:mfa-disable"), {"password": password, "code": new_codes[0]}, token=access3)
        self.req("GET", reverse("mfa:auth-me"), token=access3)
        self.req("POST", reverse("mfa:auth-refresh"), {"refresh": refresh3})

        # change the password (wrong current password first); this session stays
        changed = s.add("password", "Changed-" + secrets.token_urlsafe(18))
        self.req("POST", reverse("mfa:password-change"), {"current_password": wrong_password, "new_password": changed},
                 token=access3, expect=400)
        self.req("POST", reverse("mfa:password-change"), {"current_password": password, "new_password": changed},
                 token=access3, expect=204)
        self.req("POST", reverse("mfa:auth-logout"), {}, token=access3, expect=204)
        self.req("GET", reverse("mfa:auth-me"), token=access3, expect=401)

        # reset it by email: a wrong token, the link, then the used link again
        self.req("POST", reverse("mfa:password-reset"), {"email": email}, expect=202)
        url, uid, token = self.reset_link(email)
        s.add("reset link", url)
        s.add("reset token", token)
        reset = s.add("password", "Reset-" + secrets.token_urlsafe(18))
        confirm = reverse("mfa:password-reset-confirm")
        self.req("POST", confirm, {"uid": uid, "token": token[:-4] + "aaaa", "new_password": reset}, expect=400)
        self.req("POST", confirm, {"uid": uid, "token": token, "new_password": reset}, expect=204)
        self.req("POST", confirm, {"uid": uid, "token": token, "new_password": reset}, expect=400)
        self.req("POST", reverse("mfa:auth-login"), {"email": email, "password": changed}, expect=401)
        body = self.req("POST", reverse("mfa:auth-login"), {"email": email, "password": reset})
        s.add("access token", body["access"])
        s.add("refresh token", body["refresh"])


def _assert_nothing_leaks(flow: Flow, log_text: str) -> None:
    leaks = flow.secrets.leaks(log_text)
    assert not leaks, f"{len(leaks)} secret(s) in the logs:\n" + "\n".join(leaks[:10])
    leaks = flow.secrets.leaks("\n".join(flow.error_bodies))
    assert not leaks, f"{len(leaks)} secret(s) in error responses:\n" + "\n".join(leaks[:10])
    assert len(flow.error_bodies) >= 10


# --- In process -------------------------------------------------------------------------------------


class Capture(logging.Handler):
    """Keeps each record formatted, plus every attribute (extras such as ``sql``/``params``, which
    a structured log formatter would write out)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))
        self.lines.append(repr({k: v for k, v in vars(record).items() if k not in {"msg", "args"}}))
        self.lines.append(repr(record.args))


@contextlib.contextmanager
def debug_logging(*, db_queries: bool = False) -> Iterator[Capture]:
    """authsite's production LOGGING (its filters included), then every logger at DEBUG into one
    capture, and Django's statement logging forced on (as DEBUG=True would)."""
    from logging.config import dictConfig

    from django.db import connection

    import authsite.settings as production

    names = [*DEBUG_LOGGERS, "django.db.backends", "pymongo.command"]
    saved = {n: (logging.getLogger(n).level, logging.getLogger(n).disabled, list(logging.getLogger(n).filters),
                 list(logging.getLogger(n).handlers)) for n in names}
    config = copy.deepcopy(production.LOGGING)
    config["filters"]["no_db_queries"]["enabled"] = db_queries
    dictConfig(config)
    capture = Capture()
    logging.getLogger().addHandler(capture)
    for name in DEBUG_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
        logging.getLogger(name).disabled = False
    connection.force_debug_cursor = True
    try:
        yield capture
    finally:
        connection.force_debug_cursor = False
        for name, (level, disabled, filters, handlers) in saved.items():
            logger = logging.getLogger(name)
            logger.setLevel(level)
            logger.disabled = disabled
            logger.filters[:] = filters
            logger.handlers[:] = handlers


@pytest.mark.django_db(transaction=True)
def test_full_flow_in_process_logs_no_secret_at_debug(api):
    def call(method: str, path: str, body, token: str | None) -> tuple[int, bytes]:
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
        r = getattr(api, method.lower())(path, body, format="json", **headers)
        return r.status_code, r.content

    def stored(email: str) -> list[tuple[str, str]]:
        from django.contrib.auth import get_user_model

        from mfa.models import RecoveryCode, TOTPDevice

        user = get_user_model().objects.get(email=email)
        values = [("password hash", user.password)]
        values += [("encrypted totp secret", d.encrypted_secret) for d in TOTPDevice.objects.filter(user=user)]
        for row in RecoveryCode.objects.filter(user=user):
            values += [("recovery code hash", row.code_hash), ("recovery lookup tag", row.lookup)]
        return values

    def reset_link_sent(email: str) -> tuple[str, str, str]:
        from django.core import mail

        wait_for_background()
        (message,) = [m for m in mail.outbox if m.to == [email] and "reset" in m.subject.lower()]
        return reset_link(message.body)

    flow = Flow(call, stored, reset_link_sent)
    with debug_logging() as capture:
        flow.run()
        status, _ = call("POST", reverse("mfa:auth-login"), None, None)  # no body at all
    assert status == 400
    text = "\n".join(capture.lines)
    _assert_nothing_leaks(flow, text)
    # the capture saw the request and security-event logs, so a leak there would have been found
    assert "security event mfa_enabled" in text and f"Unauthorized: {reverse('mfa:auth-me')}" in text
    # and the password change and the reset, the email's job after the answer included
    assert "security event password_changed" in text and "security event password_reset_requested" in text


@pytest.mark.django_db(transaction=True)
def test_database_statement_logs_are_opt_in(make_user):
    """LOG_DB_QUERIES=1 lets the statement logs through (so the filter, not a blind capture, is
    what keeps stored values out of the logs above); by default they are dropped."""
    from django.contrib.auth import get_user_model

    user = make_user()
    with debug_logging(db_queries=False) as quiet:
        get_user_model().objects.filter(pk=user.pk).update(password=user.password)
    with debug_logging(db_queries=True) as verbose:
        get_user_model().objects.filter(pk=user.pk).update(password=user.password)
    assert "accounts_user" not in "\n".join(quiet.lines)
    assert "accounts_user" in "\n".join(verbose.lines)
    assert user.password in "\n".join(verbose.lines)  # what the default keeps out


# --- Live site: gunicorn stderr with LOG_LEVEL=DEBUG, and its access log ------------------------------


@pytest.mark.slow
def test_full_flow_on_a_live_site_logs_no_secret_at_debug(tmp_path):
    require_own_devdb()
    access_log = tmp_path / "access.log"
    mail_dir = tmp_path / "mail"
    env = {**LIVE_ENV, "CACHE_DIR": str(tmp_path / "cache"), "LOG_LEVEL": "DEBUG",
           "GUNICORN_LOGLEVEL": "debug", "GUNICORN_ACCESSLOG": str(access_log),
           "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend", "EMAIL_FILE_PATH": str(mail_dir)}
    with live_site(extra_env=env) as site:
        client = Client(site.url)

        def call(method: str, path: str, body, token: str | None) -> tuple[int, bytes]:
            r = client.call(method, path, body, token=token)
            return r.status, r.content

        def stored(email: str) -> list[tuple[str, str]]:
            mongo, db = mongo_db(site)
            try:
                user = db.accounts_user.find_one({"email": email})
                values = [("password hash", user["password"])]
                values += [("encrypted totp secret", d["encrypted_secret"])
                           for d in db.mfa_totpdevice.find({"user_id": user["_id"]})]
                for row in db.mfa_recoverycode.find({"user_id": user["_id"]}):
                    values += [("recovery code hash", row["code_hash"]), ("recovery lookup tag", row["lookup"])]
                return values
            finally:
                mongo.close()

        def reset_link_sent(email: str) -> tuple[str, str, str]:
            """The link of the reset email to ``email`` in the file backend's directory (a file per
            message, notifications too), once it is written whole (it ends with 79 dashes)."""
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                for path in mail_dir.glob("*.log"):
                    text = path.read_text(errors="replace")
                    whole = text.rstrip().endswith("-" * 79)
                    if f"To: {email}" in text and "/account/password/reset/" in text and whole:
                        return reset_link(text)
                time.sleep(0.1)
            raise AssertionError(f"no reset email to {email} in {mail_dir}")

        flow = Flow(call, stored, reset_link_sent)
        flow.run()
        r = client.post(reverse("mfa:auth-login"), None, headers={"Content-Type": "text/plain"})
        assert r.status == 415
        client.close()
        log = site.log_text()
    text = log + "\n" + access_log.read_text()
    _assert_nothing_leaks(flow, text)
    assert "security event mfa_disabled" in text and f"POST {reverse('mfa:mfa-login-verify')}" in text
    assert "security event password_reset_requested" in text and f"POST {reverse('mfa:password-reset-confirm')}" in text
    assert "DEBUG" in log  # the site really logged at DEBUG
