"""``path("api/auth/", include("mfa.urls"))``: login, the MFA endpoints, tokens and sessions.

Paths take no trailing slash (``login``), and one is tolerated (``login/``). URL names are in the
``mfa`` namespace: ``mfa:auth-login``, ``mfa:mfa-login-verify``, ``mfa:sessions-detail``,
``mfa:password-reset``, ``mfa:password-reset-confirm``, ...
"""

from rest_framework.routers import SimpleRouter

from mfa.api.views import (
    AuthViewSet,
    MFAViewSet,
    PasskeyViewSet,
    PasswordViewSet,
    SessionViewSet,
    TrustedDeviceViewSet,
    WebAuthnCredentialViewSet,
    WebAuthnViewSet,
)

app_name = "mfa"

class Router(SimpleRouter):
    """DRF's router, and DELETE on a collection where the viewset has ``destroy_all``."""

    routes = [
        route._replace(mapping={**route.mapping, "delete": "destroy_all"}) if route.name == "{basename}-list"
        else route
        for route in SimpleRouter.routes
    ]


router = Router(trailing_slash=False)
router.trailing_slash = "/?"
router.register("mfa/trusted-devices", TrustedDeviceViewSet, basename="trusted-devices")
router.register("mfa", MFAViewSet, basename="mfa")
router.register("sessions", SessionViewSet, basename="sessions")
router.register("password", PasswordViewSet, basename="password")
router.register("webauthn/credentials", WebAuthnCredentialViewSet, basename="webauthn-credentials")
router.register("webauthn", WebAuthnViewSet, basename="webauthn")
router.register("passkey", PasskeyViewSet, basename="passkey")
router.register("", AuthViewSet, basename="auth")

urlpatterns = router.urls
