"""DRF permissions for a host's own views (documented path; the code is mfa.api.permissions)."""

from mfa.api.permissions import IsMFAComplete, RecentSecondFactor  # noqa: F401
