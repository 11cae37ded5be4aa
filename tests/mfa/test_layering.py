"""The package's layers, read from its source: no import cycle anywhere in mfa, a core that knows no
HTTP and neither channel, and channels that do not lean on each other (STYLE.md, "Layout")."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "mfa"

# One-line re-exports of documented import paths: they point into api/ and pages/.
REEXPORTS = {"mfa.urls", "mfa.pages_urls", "mfa.middleware", "mfa.permissions", "mfa.authentication",
             "mfa.throttling"}
# Core modules that meet HTTP by nature: the admin (Django admin views), the system checks (the
# URLconf), the app config (wires receivers), and the request-facts helper shared by both channels.
EDGE = {"mfa.admin", "mfa.checks", "mfa.apps", "mfa.http"}
HTTP_MODULES = ("django.http", "django.shortcuts", "django.template", "django.views", "rest_framework")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts}


def imports_of(name: str) -> set[str]:
    """Every module ``name`` imports, at module level or inside a function (a deferred import is
    still a dependency), as dotted names; ``from mfa import x`` counts as ``mfa.x``."""
    tree = ast.parse(MODULES[name].read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def mfa_imports_of(name: str) -> set[str]:
    return {m for m in imports_of(name) if m in MODULES and m != "mfa" and m != name}


def layer_of(name: str) -> str:
    if name.startswith("mfa.api"):
        return "api"
    # The template tags are the pages' (Django finds them only in mfa/templatetags/).
    if name.startswith(("mfa.pages", "mfa.templatetags")):
        return "pages"
    if name in REEXPORTS:
        return "reexport"
    if name in EDGE or name.startswith("mfa.management"):
        return "edge"
    return "core"


def cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    graph = {name: sorted(mfa_imports_of(name)) for name in MODULES}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for name in graph:
        if name not in index:
            visit(name)
    return found


def test_the_import_graph_is_read_from_every_module():
    assert {"mfa.flows", "mfa.api.views", "mfa.pages.middleware", "mfa.methods.totp"} <= set(MODULES)
    assert "mfa.methods.totp" in mfa_imports_of("mfa.flows")
    assert "mfa.conf" in mfa_imports_of("mfa.crypto")


def test_mfa_has_no_import_cycle():
    assert cycles() == []


def test_the_cycle_finder_finds_a_cycle(monkeypatch):
    """The test above can fail: a deferred import of crypto in conf (the cycle that once was)
    is reported."""
    real = mfa_imports_of

    def with_cycle(name: str) -> set[str]:
        extra = {"mfa.crypto"} if name == "mfa.conf" else set()
        return real(name) | extra

    monkeypatch.setattr(sys.modules[__name__], "mfa_imports_of", with_cycle)
    assert ["mfa.conf", "mfa.crypto"] in cycles()


@pytest.mark.parametrize("name", sorted(n for n in MODULES if layer_of(n) == "core"))
def test_core_modules_know_no_http_and_neither_channel(name):
    """Use cases take values (now=, client=) and raise mfa.exceptions; a management command can
    call them (STYLE.md, "Domain modules take values")."""
    imported = imports_of(name)
    http = sorted(m for m in imported if m.startswith(HTTP_MODULES) and not m.startswith("rest_framework_simplejwt"))
    assert http == [], f"{name} imports {http}"
    channels = sorted(m for m in mfa_imports_of(name) if layer_of(m) in {"api", "pages", "reexport"})
    assert channels == [], f"{name} imports {channels}"


@pytest.mark.parametrize(("layer", "other"), [("api", "pages"), ("pages", "api")])
def test_the_two_channels_do_not_import_each_other(layer, other):
    leaks = {
        name: sorted(m for m in mfa_imports_of(name) if layer_of(m) in {other, "reexport"})
        for name in MODULES if layer_of(name) == layer
    }
    assert {k: v for k, v in leaks.items() if v} == {}


def test_methods_are_below_the_use_cases():
    """A method's verification rule does not call back into the use cases or sessions."""
    for name in MODULES:
        if name.startswith("mfa.methods."):
            assert not mfa_imports_of(name) & {"mfa.flows", "mfa.sessions", "mfa.factors", "mfa.policy"}, name
