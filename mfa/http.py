"""Facts about the HTTP client (IP address, user agent), read from a request by the JSON API, the
pages and the admin, and handed to the core as a ``ClientInfo`` value."""

from __future__ import annotations

import ipaddress
from typing import Any

from rest_framework.throttling import SimpleRateThrottle

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
    pages and the admin login ask ``ip_rate_wait``, so both count in the same cache entry."""

    def get_rate(self) -> str | None:
        return mfa_settings.IP_RATES.get(self.scope)

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
