"""Real-browser test helpers: where Debian's Chromium is, its flags, and whether the browser tests
can run here (the Playwright package, Chromium and zbarimg)."""

from __future__ import annotations

import os
import shutil
from importlib.util import find_spec

CHROMIUM = "/usr/bin/chromium"
# The network is closed: without the background-networking flags Chromium floods refused
# connections (component updates, sync, QUIC probes).
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--headless", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
TIMEOUT_MS = 10_000


def browser_unavailable() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if find_spec("playwright") is None:
        return "the Python package playwright is not installed (pip install -r requirements-dev.txt)"
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    if shutil.which("zbarimg") is None:
        return "zbarimg is missing (apt-get install zbar-tools)"
    return None
