"""Fixtures of the robustness suite: one live gunicorn site shared by the fuzzing, race and soak
tests (starting one costs seconds), on its own in-memory SecantusDB."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.live import LiveSite, live_site
from tests.robustness.helpers import LIVE_ENV, require_own_devdb


@pytest.fixture(scope="package")
def live(tmp_path_factory) -> Iterator[LiveSite]:
    """gunicorn (2 workers x 4 threads, production settings, DEBUG off) on a loopback port."""
    require_own_devdb()
    env = {**LIVE_ENV, "CACHE_DIR": str(tmp_path_factory.mktemp("live-cache"))}
    with live_site(extra_env=env, workers=2, threads=4) as site:
        yield site
