"""Per-IP throttles, e.g. RegisterRateThrottle for a host's own registration view (documented path;
the code is mfa.api.throttling)."""

from mfa.api.throttling import (  # noqa: F401
    CodeFailureRateThrottle,
    LoginRateThrottle,
    RefreshRateThrottle,
    RegisterRateThrottle,
)
