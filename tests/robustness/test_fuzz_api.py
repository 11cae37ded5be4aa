"""Schema-driven fuzzing (schemathesis) of every API operation against a live gunicorn site.

The site's own OpenAPI schema (/api/schema/) drives generation. Every operation is run three
times: with no token, with the access token of a user without MFA, and with the access token of a
user with MFA on. Phases: the schema's examples, schemathesis' coverage phase (boundary and
negative values, missing and extra fields, wrong types) and random fuzzing (valid and invalid
data) with a bounded number of examples per operation and a fixed seed, so a failure reproduces.
Checks on every response: no 5xx, a documented status code, the documented content type, a body
matching the documented schema, and every error is a JSON object with no traceback
(SECURITY-CHECKS INP-01..INP-10: "never 500").

schemathesis' own pytest plugin does not work with pytest 9.2 (it writes ``Function._nodeid``), so
the tests drive its engine, the one its CLI uses, and fail with the engine's failure reports.
``FUZZ_EXAMPLES`` (default 25) and ``FUZZ_SEED`` change the budget and the seed:
``FUZZ_EXAMPLES=200 ./run tests tests/robustness/test_fuzz_api.py``.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from urllib.parse import unquote

import pytest
import schemathesis
from django.urls import reverse
from schemathesis.engine import Status, events, from_schema

from tests.robustness.helpers import Client, LiveUser, login, mfa_login, mfa_user, register

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
SEED = int(os.environ.get("FUZZ_SEED", "20260801"))
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "errors_are_json",
    # invalid input (per the schema) is refused with a 4xx; a protected operation refuses a
    # request without its Authorization header or with a wrong token; wrong methods get 405
    "negative_data_rejection",
    "ignored_auth",
    "missing_required_header",
    "unsupported_method",
]
# The operations as schemathesis labels them: the method and the documented path, which the schema
# gives with a trailing slash.
OPERATIONS = [
    ("POST", "register"), ("POST", "mfa:auth-login"), ("POST", "mfa:auth-refresh"), ("GET", "mfa:auth-me"),
    ("POST", "mfa:auth-logout"), ("POST", "mfa:auth-logout-all"), ("GET", "mfa:sessions-list"),
    ("DELETE", "mfa:sessions-detail"), ("POST", "mfa:mfa-setup"), ("POST", "mfa:mfa-verify"),
    ("POST", "mfa:mfa-login-verify"), ("POST", "mfa:mfa-disable"), ("POST", "mfa:mfa-recovery-codes"),
    ("GET", "mfa:mfa-events"), ("POST", "mfa:password-reset"), ("POST", "mfa:password-reset-confirm"),
]


def operations() -> set[str]:
    """``OPERATIONS`` as labels: ``"DELETE /api/auth/sessions/{id}/"``."""
    kwargs = {"mfa:sessions-detail": {"pk": "{id}"}}
    return {f"{method} {unquote(reverse(name, kwargs=kwargs.get(name)))}/" for method, name in OPERATIONS}


@schemathesis.check
def errors_are_json(ctx, response, case) -> bool | None:
    """Every 4xx/5xx is an ``application/json`` object (``{"detail", "code"}`` or field errors)
    with no traceback in it."""
    if response.status_code < 400:
        return None
    content_type = (response.headers.get("content-type") or [""])[0]
    assert content_type.startswith("application/json"), (
        f"{response.status_code} answered with Content-Type {content_type!r}: {response.content[:200]!r}"
    )
    body = json.loads(response.content)
    assert isinstance(body, dict) and body, f"error body is not a non-empty JSON object: {body!r}"
    text = response.content.decode("utf-8", "replace")
    assert "Traceback" not in text and 'File "' not in text, text[:500]
    return True


class Identity:
    """The caller: no token, or a user whose access token is renewed when a case has ended its
    session (logout, logout/all, DELETE sessions/{id} with an id taken from GET sessions)."""

    def __init__(self, client: Client | None = None, user: LiveUser | None = None) -> None:
        self.client, self.user = client, user
        self.relogins = 0

    def after(self, case, response) -> None:
        if self.user is None or self.client is None or response.status_code not in (200, 204):
            return
        path = case.path.rstrip("/")
        ending = {reverse("mfa:auth-logout"), reverse("mfa:auth-logout-all"), reverse("mfa:mfa-disable")}
        if not (path in ending or case.method.upper() == "DELETE"):
            return  # nothing else can end the caller's own session
        if self.client.get(reverse("mfa:auth-me"), token=self.user.access).status != 401:
            return
        self.relogins += 1
        probe = self.client.post(reverse("mfa:auth-login"), {"email": self.user.email, "password": self.user.password})
        if probe.status == 429 or (probe.status == 200 and probe.json["requires_mfa"] != bool(self.user.secret)):
            # The fuzzer's wrong passwords (password/change, reauthenticate, mfa/disable go through
            # the password gate) backed this account off, or a DELETE removed its second factor:
            # carry on as a new user of the same kind.
            self.user = mfa_user(self.client) if self.user.secret else login(self.client, register(self.client))
            return
        if not self.user.secret:
            login(self.client, self.user)
            return
        # MFA on: the password and a TOTP code of a step not used yet; once the steps in reach are
        # used up (two per 30 s), carry on as a new user with MFA on.
        code = self.user.next_code()
        if code is None:
            self.user = mfa_user(self.client)
            return
        r = mfa_login(self.client, self.user, code)
        assert r.status == 200, (r.status, r.text)
        self.user.access, self.user.refresh = r.json["access"], r.json["refresh"]


# The identity of the running test, read by the auth provider and the hook below (schemathesis'
# after_call hook is process-wide; both do nothing when no fuzzing test is running).
_current: dict[str, Identity] = {}


class BearerToken:
    """schemathesis auth provider: the current identity's access token, read for every case (no
    caching), so the ``ignored_auth`` check can see that each protected operation refuses a
    request without it or with a wrong one."""

    def get(self, case, ctx) -> str | None:
        identity = _current.get("identity")
        return identity.user.access if identity is not None and identity.user is not None else None

    def set(self, case, data, ctx) -> None:
        if data:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@schemathesis.hook
def after_call(context, case, response) -> None:
    identity = _current.get("identity")
    if identity is not None:
        identity.after(case, response)


def _config() -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "workers": 1,
            "generation": {"max-examples": EXAMPLES, "database": "none", "mode": "all"},
            "phases": {
                "examples": {"enabled": True},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": False},
            },
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
        }
    )


def fuzz(base_url: str, identity: Identity) -> tuple[Counter, list[str]]:
    """Run every phase on every operation; return the cases sent per operation and the failures."""
    schema = schemathesis.openapi.from_url(f"{base_url}{reverse('schema')}?format=json", config=_config())
    if identity.user is not None:
        schema.auth(refresh_interval=None)(BearerToken)
    cases: Counter = Counter()
    problems: list[str] = []
    _current["identity"] = identity
    try:
        for event in from_schema(schema).execute():
            if isinstance(event, events.ScenarioFinished) and event.is_test_scenario:
                cases[event.label] += len(event.recorder.cases)
                for checks in event.recorder.checks.values():
                    for check in checks:
                        if check.status == Status.FAILURE and check.failure_info is not None:
                            info = check.failure_info
                            problems.append(
                                f"{event.label} [{check.name}] {info.failure.title}\n"
                                f"{info.failure.message}\n{info.code_sample}"
                            )
            elif isinstance(event, (events.NonFatalError, events.FatalError)):
                problems.append(f"engine error: {event!r} {getattr(event, 'info', '')}")
    finally:
        _current.pop("identity", None)
    return cases, problems


def _assert_clean(cases: Counter, problems: list[str]) -> None:
    unique = list(dict.fromkeys(problems))
    assert not unique, f"{len(unique)} failure(s):\n\n" + "\n\n".join(unique[:15])
    expected = operations()
    assert set(cases) >= expected, f"operations not exercised: {expected - set(cases)}"
    assert all(cases[op] >= 5 for op in expected), cases


@pytest.fixture(scope="module")
def fuzz_client(live) -> Iterator[Client]:
    client = Client(live.url)
    yield client
    client.close()


def test_api_conforms_to_its_schema_under_fuzzing_without_a_token(live):
    cases, problems = fuzz(live.url, Identity())
    _assert_clean(cases, problems)


def test_api_conforms_to_its_schema_under_fuzzing_with_an_access_token(live, fuzz_client):
    identity = Identity(fuzz_client, login(fuzz_client, register(fuzz_client)))
    cases, problems = fuzz(live.url, identity)
    _assert_clean(cases, problems)


def test_api_conforms_to_its_schema_under_fuzzing_as_a_user_with_mfa(live, fuzz_client):
    identity = Identity(fuzz_client, mfa_user(fuzz_client))
    cases, problems = fuzz(live.url, identity)
    _assert_clean(cases, problems)
    assert identity.user is not None
    r = fuzz_client.get(reverse("mfa:auth-me"), token=identity.user.access)
    assert r.status == 200 and r.json["mfa_enabled"] is True, r.text  # fuzzing never turned MFA off
