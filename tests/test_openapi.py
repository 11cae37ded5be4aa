"""The OpenAPI schema: valid, complete, served with Swagger UI (files from the sidecar, no CDN)."""

import io
from urllib.parse import unquote

import pytest
import yaml
from django.core.management import call_command
from django.urls import get_resolver, reverse

pytestmark = pytest.mark.django_db(transaction=True)

EXPECTED = [
    ("post", "register"), ("post", "mfa:auth-login"), ("post", "mfa:auth-refresh"),
    ("get", "mfa:auth-me"), ("post", "mfa:auth-logout"), ("post", "mfa:auth-logout-all"),
    ("get", "mfa:sessions-list"), ("delete", "mfa:sessions-detail"),
    ("post", "mfa:mfa-setup"), ("post", "mfa:mfa-verify"),
    ("post", "mfa:mfa-login-verify"), ("post", "mfa:mfa-disable"),
    ("post", "mfa:mfa-recovery-codes"), ("get", "mfa:mfa-events"),
    ("post", "mfa:password-reset"), ("post", "mfa:password-reset-confirm"),
]


def expected() -> set[tuple[str, str]]:
    """``EXPECTED`` with the paths the schema documents (``/api/auth/sessions/{id}``)."""
    kwargs = {"mfa:sessions-detail": {"pk": "{id}"}}
    return {(method, unquote(reverse(name, kwargs=kwargs.get(name)))) for method, name in EXPECTED}


@pytest.fixture(scope="module")
def schema() -> dict:
    out = io.StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    return yaml.safe_load(out.getvalue())


def _paths(schema: dict) -> set[tuple[str, str]]:
    found = set()
    for path, ops in schema["paths"].items():
        for method in ops:
            found.add((method, path.rstrip("/").replace("{pk}", "{id}")))
    return found


def test_schema_validates_and_covers_every_endpoint(schema):
    assert _paths(schema) >= expected()


def test_every_operation_documents_its_errors(schema):
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            codes = set(op["responses"])
            assert any(c.startswith("4") for c in codes), (method, path, codes)
            assert any(c.startswith("2") for c in codes), (method, path, codes)


def test_every_mfa_route_is_in_the_schema(schema):
    documented = {p for _, p in _paths(schema)}
    resolver = get_resolver()
    checked = 0
    for pattern in resolver.url_patterns:
        if str(pattern.pattern) == "api/auth/":
            for sub in pattern.url_patterns:
                route = "/api/auth/" + str(sub.pattern).lstrip("^").split("/?$")[0].split("$")[0]
                route = route.replace("(?P<pk>[^/.]+)", "{id}").replace("(?P<pk>[^/]+)", "{id}")
                assert route.rstrip("/") in documented, route
                checked += 1
    assert checked >= 15


def test_schema_and_swagger_ui_are_served(client):
    r = client.get(reverse("schema"))
    assert r.status_code == 200 and b"openapi" in r.content
    r = client.get(reverse("swagger-ui"))
    assert r.status_code == 200 and b"swagger-ui" in r.content
    assert b"cdn.jsdelivr" not in r.content and b"unpkg.com" not in r.content


def test_password_reset_operations_are_unauthenticated_and_use_the_serializers(schema):
    paths = {path.rstrip("/"): ops for path, ops in schema["paths"].items()}
    reset = paths["/api/auth/password/reset"]["post"]
    confirm = paths["/api/auth/password/reset/confirm"]["post"]
    assert "bearerAuth" in str(paths["/api/auth/me"]["get"]["security"])
    for op in (reset, confirm):
        assert "bearerAuth" not in str(op.get("security"))
    assert set(reset["responses"]) >= {"202", "400", "429"}
    assert set(confirm["responses"]) >= {"204", "400"} and "200" not in confirm["responses"]
    body = confirm["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert set(schema["components"]["schemas"][body]["properties"]) == {"uid", "token", "new_password"}
