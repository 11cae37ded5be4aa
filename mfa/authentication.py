"""Bearer-token authentication for a host's own DRF views (documented path; the code is
mfa.api.authentication)."""

from mfa.api.authentication import SessionJWTAuthentication  # noqa: F401
