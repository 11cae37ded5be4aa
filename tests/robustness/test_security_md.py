"""SECURITY.md maps promises to tests: every ``file::test`` it names must exist, so the map cannot
silently go stale when a test is renamed or removed."""

from __future__ import annotations

import re

from tests.live import ROOT

REFERENCE = re.compile(r"`([\w/]+\.py)::(test_\w+)`")


def test_every_test_named_in_security_md_exists():
    text = (ROOT / "SECURITY.md").read_text()
    references = set(REFERENCE.findall(text))
    assert len(references) > 100
    missing = []
    for path, name in sorted(references):
        source = ROOT / "tests" / path
        if not source.exists() or not re.search(rf"^\s*(async )?def {name}\(", source.read_text(), re.M):
            missing.append(f"tests/{path}::{name}")
    assert not missing, "SECURITY.md names tests that do not exist:\n" + "\n".join(missing)


def test_security_md_explains_how_to_report_a_vulnerability():
    text = (ROOT / "SECURITY.md").read_text()
    assert "## Reporting a vulnerability" in text and "privately" in text
    for section in ("## Production settings", "## Not covered", "## Logging"):
        assert section in text
