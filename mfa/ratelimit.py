"""Request limits counted in Django's cache (shared by every worker): a sliding window of the
times of recent requests per key. Used where one rule must hold for the JSON API and the pages
alike (password reset requests), so it lives here and not in a channel's throttle classes.

The window is read, then written: two concurrent requests may both pass the last free place
(as DRF's own throttles). The keys hold a keyed hash, never the address or IP itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.core.cache import cache

from mfa import crypto

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([a-z]+)\s*$")


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: int


def parse_rate(text: str | None) -> Rate | None:
    """``"10/hour"``, ``"5/10m"``, ``"30/min"`` (DRF's form, with an optional multiple of the
    unit); None or ``"off"`` means no limit. Raises ValueError on anything else."""
    if text is None or str(text).strip().lower() in {"off", "none", "0"}:
        return None
    match = _RATE.match(str(text).lower())
    if not match or int(match.group(1)) < 1 or match.group(3)[0] not in _UNITS:
        raise ValueError(f"not a rate like '10/hour' or '5/10m': {text!r}")
    multiple = int(match.group(2) or 1)
    if multiple < 1:
        raise ValueError(f"not a rate like '10/hour' or '5/10m': {text!r}")
    return Rate(int(match.group(1)), multiple * _UNITS[match.group(3)[0]])


def cache_key(scope: str, value: str) -> str:
    return f"mfa:rl:{scope}:" + crypto.lookup_tag(value, purpose=f"rl-{scope}")[:40]


def hit(limits: dict[str, Rate | None], *, now: float) -> float | None:
    """Count one use now of every key of ``limits`` (key: its rate, None for no limit) and return
    None; or, when a key is already at its rate, count nothing and return the seconds to wait (the
    longest of them). Each key is read once (one ``get_many``) and written once."""
    live = {key: rate for key, rate in limits.items() if rate is not None}
    if not live:
        return None
    stored = cache.get_many(list(live))
    recent = {key: [t for t in stored.get(key, []) if t > now - rate.seconds] for key, rate in live.items()}
    waits = [
        min(recent[key]) + rate.seconds - now for key, rate in live.items() if len(recent[key]) >= rate.count
    ]
    if waits:
        return max(waits)
    for key, rate in live.items():
        cache.set(key, [*recent[key], now][-rate.count:], rate.seconds)
    return None
