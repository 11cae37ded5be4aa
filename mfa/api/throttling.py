"""Per-client-IP throttles (DRF), with rates from MFA["IP_RATES"] (``None`` disables one).

The per-user lockout for wrong codes is separate (mfa.lockout) and ignores these.
"""

from __future__ import annotations

from typing import Any

from mfa.http import IPRateThrottle


class RegisterRateThrottle(IPRateThrottle):
    scope = "register"


class LoginRateThrottle(IPRateThrottle):
    scope = "login"


class PasskeyLoginRateThrottle(IPRateThrottle):
    scope = "passkey_login"


class RefreshRateThrottle(IPRateThrottle):
    scope = "refresh"


class CodeFailureRateThrottle(IPRateThrottle):
    """Counts only wrong codes: ``allow_request`` looks, ``record_failure`` adds one."""

    scope = "code_failures"

    def allow_request(self, request: Any, view: Any) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        self.history = self.cache.get(self.key, [])
        self.now = self.timer()
        while self.history and self.history[-1] <= self.now - self.duration:
            self.history.pop()
        if len(self.history) >= self.num_requests:
            return self.throttle_failure()
        return True

    def record_failure(self, request: Any, view: Any) -> None:
        if self.rate is None:
            return
        key = self.get_cache_key(request, view)
        now = self.timer()
        history = [t for t in self.cache.get(key, []) if t > now - self.duration]
        history.insert(0, now)
        self.cache.set(key, history, self.duration)
