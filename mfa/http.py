"""Facts about the HTTP client (IP address, user agent), read from a request by the JSON API, the
pages and the admin, and handed to the core as a ``ClientInfo`` value."""

from __future__ import annotations

import ipaddress
from typing import Any

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
