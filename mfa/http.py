"""Facts about the HTTP client (IP address, user agent), read from a request by the JSON API, the
pages and the admin, and handed to the core as a ``ClientInfo`` value."""

from __future__ import annotations

import ipaddress
from typing import Any

from rest_framework.throttling import SimpleRateThrottle

from mfa import ratelimit
from mfa.conf import mfa_settings
from mfa.events import ClientInfo


def client_ip(request: Any) -> str | None:
    """REMOTE_ADDR, or with MFA["TRUSTED_PROXIES"] = N the N-th address from the right of
    X-Forwarded-For (the one the outermost trusted proxy saw). Forged headers are ignored."""
    meta = request.META
    address = meta.get("REMOTE_ADDR", "")
    proxies = mfa_settings.TRUSTED_PROXIES
    if proxies:
        forwarded = [a.strip() for a in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
        if forwarded:
            address = forwarded[-min(proxies, len(forwarded))]
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def client_info(request: Any) -> ClientInfo:
    agent = request.META.get("HTTP_USER_AGENT", "")
    if not isinstance(agent, str):
        agent = ""
    return ClientInfo(ip=client_ip(request), user_agent=agent[:512])


class IPRateThrottle(SimpleRateThrottle):
    """A per-client-IP limit (Django REST framework's throttle), its rate MFA["IP_RATES"][scope]
    (``None`` disables it). The JSON API uses these as throttle classes (mfa.api.throttling); the
    pages and the admin login ask ``ip_rate_wait``, so both count in the same cache entry.

    Rates are read by mfa.ratelimit.parse_rate, as every rate of mfa (a multiple of the unit,
    ``"5/10m"``, is accepted in every scope; ``"off"`` disables), not by DRF's parser."""

    def get_rate(self) -> str | None:
        rate = mfa_settings.IP_RATES.get(self.scope)
        return None if ratelimit.parse_rate(rate) is None else rate

    def parse_rate(self, rate: str | None) -> tuple[int | None, int | None]:
        parsed = ratelimit.parse_rate(rate)
        return (None, None) if parsed is None else (parsed.count, parsed.seconds)

    def get_cache_key(self, request: Any, view: Any) -> str:
        # The client address as mfa sees it (MFA["TRUSTED_PROXIES"]), not DRF's get_ident, which
        # trusts any X-Forwarded-For unless the host sets REST_FRAMEWORK["NUM_PROXIES"].
        ident = client_ip(request) or "unknown"
        return self.cache_format % {"scope": self.scope, "ident": ident}


def ip_rate_wait(request: Any, scope: str) -> float | None:
    """Count this request against the per-IP limit ``scope`` (a plain Django request will do);
    None when allowed, else the seconds to wait."""
    throttle = type(f"{scope}IPRate", (IPRateThrottle,), {"scope": scope})()
    if throttle.allow_request(request, None):
        return None
    return max(1.0, throttle.wait() or 1.0)
