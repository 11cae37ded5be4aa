"""OpenAPI descriptions of the mfa API for drf-spectacular, applied only when it is installed.

drf-spectacular is optional (the ``openapi`` extra): without it this module does nothing. Request
bodies are the real serializers of mfa.api.serializers; only responses are described here.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from mfa.api import serializers as s
from mfa.factors import SECOND_FACTORS


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField(help_text="Stable error code, e.g. invalid_code, mfa_locked")


# A 400 is either ``{"detail", "code"}`` (malformed JSON, a wrong code or password on an endpoint
# that holds an access token, no_pending_setup, ...) or DRF's field errors ``{"<field>": [msg]}``.
# The two shapes are disjoint (``detail`` is a string in one, every value an array in the other),
# so exactly one branch of the oneOf matches. Raw schemas: drf-spectacular has no serializer form
# for "every property is a list of strings".
ERROR_SCHEMA = {
    "type": "object",
    "required": ["detail", "code"],
    "properties": {
        "detail": {"type": "string"},
        "code": {"type": "string", "description": "Stable error code, e.g. invalid_code, mfa_locked"},
    },
}
FIELD_ERRORS_SCHEMA = {
    "type": "object",
    "description": 'Field errors: {"<field>": ["message", ...]} (or non_field_errors)',
    "minProperties": 1,
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
}
BAD_REQUEST_SCHEMA = {"oneOf": [ERROR_SCHEMA, FIELD_ERRORS_SCHEMA]}


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class LoginResponseSerializer(serializers.Serializer):
    requires_mfa = serializers.BooleanField()
    access = serializers.CharField(required=False, help_text="Only when requires_mfa is false")
    refresh = serializers.CharField(required=False, help_text="Only when requires_mfa is false")
    mfa_token = serializers.CharField(required=False, help_text="Only when requires_mfa is true")
    methods = serializers.ListField(
        child=serializers.ChoiceField(choices=[m.value for m in SECOND_FACTORS]), required=False
    )


class MeSerializer(serializers.Serializer):
    id = serializers.CharField()
    email = serializers.CharField()
    mfa_enabled = serializers.BooleanField()
    methods = serializers.ListField(
        child=serializers.ChoiceField(choices=["totp", "webauthn"]),
        help_text="The user's confirmed second factors",
    )
    recovery_codes_left = serializers.IntegerField()


class SetupResponseSerializer(serializers.Serializer):
    secret = serializers.CharField(help_text="Unpadded upper-case Base32, 32 characters")
    otpauth_uri = serializers.CharField()
    qr_code = serializers.CharField(help_text="data: URI of an SVG (PNG with ?format=png)")


class EnabledSerializer(serializers.Serializer):
    mfa_enabled = serializers.BooleanField()
    recovery_codes = serializers.ListField(child=serializers.CharField())


class DisabledSerializer(serializers.Serializer):
    mfa_enabled = serializers.BooleanField()


class RecoveryCodesSerializer(serializers.Serializer):
    recovery_codes = serializers.ListField(child=serializers.CharField())


class AccessSerializer(serializers.Serializer):
    access = serializers.CharField(help_text="A new access token of the same session (no refresh)")


def document(auth_viewset: type, mfa_viewset: type, session_viewset: type) -> None:
    """Attach request, response and error descriptions to the viewsets' actions."""
    try:
        from drf_spectacular.types import OpenApiTypes
        from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
    except ImportError:  # drf-spectacular not installed: nothing to document
        return

    def err(description: str) -> Any:
        return OpenApiResponse(ErrorSerializer, description=description)

    bad = OpenApiResponse(BAD_REQUEST_SCHEMA, description="Malformed input (field errors or malformed JSON)")
    unsupported = err("Content-Type is not application/json")
    unauthenticated = err("Missing, invalid, expired or revoked access token")
    locked = err("Locked after repeated wrong codes (per user) or throttled (per IP); see Retry-After")
    throttled = err("Too many requests from this IP; see Retry-After")
    enrol = err("MFA is required for this account and it has not enrolled (mfa_enrollment_required)")

    extend_schema_view(
        login=extend_schema(
            summary="Log in with a password", request=s.LoginSerializer,
            responses={200: LoginResponseSerializer, 400: bad, 401: err("Invalid credentials"),
                       415: unsupported, 429: throttled},
        ),
        refresh=extend_schema(
            summary="Rotate a refresh token", request=s.RefreshSerializer,
            responses={200: TokenPairSerializer, 400: bad, 415: unsupported, 429: throttled,
                       401: err("Invalid, expired or reused refresh token (reuse revokes the session)")},
        ),
        me=extend_schema(
            summary="The current user",
            responses={200: MeSerializer, 401: unauthenticated, 403: enrol},
        ),
        logout=extend_schema(
            summary="End the current session", request=s.EmptySerializer,
            responses={204: None, 401: unauthenticated, 415: unsupported},
        ),
        reauthenticate=extend_schema(
            summary="Confirm it is you again (step-up): a code, or the password without MFA",
            request=s.ReauthenticateSerializer,
            responses={200: AccessSerializer, 401: unauthenticated, 403: enrol, 415: unsupported,
                       429: err("Locked after wrong codes or passwords, or throttled; see Retry-After"),
                       400: OpenApiResponse(BAD_REQUEST_SCHEMA, description=(
                           "Wrong code or password (invalid_code, invalid_password), a password where "
                           "a code is needed (code_required), or malformed input (field errors)"))},
        ),
        logout_all=extend_schema(
            summary="End every session of the user", request=s.EmptySerializer,
            responses={204: None, 401: unauthenticated, 415: unsupported},
        ),
    )(auth_viewset)

    code_errors = {400: OpenApiResponse(BAD_REQUEST_SCHEMA, description="Wrong code or password "
                                        "(invalid_code, invalid_password) or malformed input (field errors)"),
                   401: unauthenticated, 403: enrol, 415: unsupported, 429: locked}
    extend_schema_view(
        setup=extend_schema(
            summary="Start TOTP enrolment", request=s.EmptySerializer,
            parameters=[OpenApiParameter("format", OpenApiTypes.STR, enum=["svg", "png"], required=False)],
            responses={200: SetupResponseSerializer, 400: bad, 401: unauthenticated,
                       409: err("MFA already enabled"), 415: unsupported, 429: throttled},
        ),
        verify=extend_schema(
            summary="Confirm enrolment with a first code", request=s.SetupVerifySerializer,
            responses={200: EnabledSerializer, **code_errors},
        ),
        login_verify=extend_schema(
            summary="Second step of login: exchange an mfa_token and a code for tokens",
            request=s.MFALoginVerifySerializer, auth=[],
            responses={200: TokenPairSerializer, 400: bad, 415: unsupported, 429: locked,
                       401: err("Wrong code (invalid_code) or invalid, expired or used mfa_token")},
        ),
        disable=extend_schema(
            summary="Turn MFA off", request=s.DisableSerializer,
            responses={200: DisabledSerializer, **code_errors},
        ),
        totp=extend_schema(
            summary="Remove the authenticator app alone (the last factor turns MFA off)",
            responses={204: None, 400: err("TOTP is not on (mfa_not_enabled)"), 401: unauthenticated,
                       403: err("A second factor within 5 minutes is needed (reauthentication_required)")},
        ),
        recovery_codes=extend_schema(
            summary="Replace the recovery codes (a code, or {} within 5 minutes of a second factor)",
            request=s.RecoveryCodesSerializer,
            responses={200: RecoveryCodesSerializer, **code_errors,
                       403: err("No code and no second factor in the last 5 minutes "
                                "(reauthentication_required), or mfa_enrollment_required")},
        ),
        events=extend_schema(summary="The user's security events, newest first",
                             responses={200: s.SecurityEventSerializer(many=True), 400: bad,
                                        401: unauthenticated, 403: enrol,
                                        404: err("No such page (page out of range)")}),
    )(mfa_viewset)

    extend_schema_view(
        list=extend_schema(summary="The user's live sessions",
                           responses={200: s.SessionSerializer(many=True), 401: unauthenticated, 403: enrol}),
        destroy=extend_schema(
            summary="End one of the user's sessions",
            responses={204: None, 401: unauthenticated, 403: enrol, 404: err("Not one of your sessions")},
        ),
    )(session_viewset)


class ResetAcceptedSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="The same text for every address, known or not")


def document_password(password_viewset: type) -> None:
    """Describe password/change (access token), password/reset and password/reset/confirm (none)."""
    try:
        from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
    except ImportError:  # drf-spectacular not installed: nothing to document
        return

    def err(description: str) -> Any:
        return OpenApiResponse(ErrorSerializer, description=description)

    extend_schema_view(
        change=extend_schema(
            summary="Change the password (signed in)",
            description="Every other session of the user ends; this one stays; the owner is emailed.",
            request=s.PasswordChangeSerializer,
            responses={204: None,
                       400: OpenApiResponse(BAD_REQUEST_SCHEMA, description="invalid_password (the "
                                            "current password is wrong; counted in the backoff) or "
                                            "field errors (new_password refused by the validators)"),
                       401: err("Missing, invalid, expired or revoked access token"),
                       403: err("MFA is required for this account and it has not enrolled"),
                       415: err("Content-Type is not application/json"),
                       429: err("Backing off after wrong passwords (login_locked); see Retry-After")},
        ),
        reset=extend_schema(
            summary="Ask for a password reset email",
            description="Always 202 with the same body: an account with this address (if any) is "
                        "sent a single-use link after the answer.",
            request=s.PasswordResetSerializer, auth=[],
            responses={202: ResetAcceptedSerializer,
                       400: OpenApiResponse(BAD_REQUEST_SCHEMA, description="Malformed input"),
                       415: err("Content-Type is not application/json"),
                       429: err("Too many requests from this IP or for this address (throttled); "
                                "see Retry-After")},
        ),
        reset_confirm=extend_schema(
            summary="Set a new password with a reset link's uid and token",
            description="Ends every session of the account; MFA stays on; returns no tokens.",
            request=s.PasswordResetConfirmSerializer, auth=[],
            responses={204: None,
                       400: OpenApiResponse(BAD_REQUEST_SCHEMA, description="invalid_reset_token "
                                            "(wrong, used or expired link) or field errors "
                                            "(new_password refused by the password validators)"),
                       415: err("Content-Type is not application/json")},
        ),
    )(password_viewset)


try:  # register the Bearer scheme of mfa's authentication class with drf-spectacular
    from drf_spectacular.extensions import OpenApiAuthenticationExtension

    class SessionJWTScheme(OpenApiAuthenticationExtension):
        target_class = "mfa.api.authentication.SessionJWTAuthentication"
        name = "bearerAuth"

        def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
            return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}

except ImportError:  # drf-spectacular not installed
    pass


class CeremonyOptionsSerializer(serializers.Serializer):
    ceremony_id = serializers.CharField(help_text="Send it back with the credential")
    publicKey = serializers.DictField(  # noqa: N815 - the WebAuthn name
        help_text="WebAuthn Level 3 JSON options (parseCreationOptionsFromJSON, parseRequestOptionsFromJSON)"
    )


class KeyRegisteredSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    passkey = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    recovery_codes = serializers.ListField(
        child=serializers.CharField(), required=False,
        help_text="Only when this is the account's first factor",
    )


def document_webauthn(
    auth_viewset: type, mfa_viewset: type, webauthn_viewset: type, credential_viewset: type,
    passkey_viewset: type,
) -> None:
    """Describe the security-key and passkey operations."""
    try:
        from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
    except ImportError:  # drf-spectacular not installed: nothing to document
        return

    def err(description: str) -> Any:
        return OpenApiResponse(ErrorSerializer, description=description)

    bad = OpenApiResponse(BAD_REQUEST_SCHEMA, description="invalid_credential (the answer did not verify: "
                          "origin, RP ID, challenge, signature, used, expired or another's ceremony) or "
                          "field errors")
    unauthenticated = err("Missing, invalid, expired or revoked access token")
    step_up = err("A second factor in the last 5 minutes is needed (reauthentication_required)")
    off = err("WebAuthn is not configured on this site (webauthn_not_configured)")
    unsupported = err("Content-Type is not application/json")
    locked = err("Locked after repeated wrong second factors (mfa_locked); see Retry-After")
    options = {200: CeremonyOptionsSerializer, 415: unsupported, 503: off}
    malformed = OpenApiResponse(BAD_REQUEST_SCHEMA, description="Malformed input (field errors)")

    extend_schema_view(
        reauthenticate_webauthn_options=extend_schema(
            summary="Start re-authenticating with a security key", request=s.EmptySerializer,
            responses={**options, 400: OpenApiResponse(BAD_REQUEST_SCHEMA, description=(
                           "The user has no security key (mfa_not_enabled), or malformed input")),
                       401: unauthenticated},
        ),
        reauthenticate_webauthn_verify=extend_schema(
            summary="Re-authenticate with a security key: a new access token, the second-factor time now",
            request=s.CeremonySerializer,
            responses={200: OpenApiResponse(description="{access}"), 400: bad, 401: unauthenticated,
                       415: unsupported, 429: locked, 503: off},
        ),
    )(auth_viewset)
    extend_schema_view(
        login_webauthn_options=extend_schema(
            summary="Second step of login with a security key: options", request=s.MFATokenSerializer,
            auth=[],
            responses={**options, 400: OpenApiResponse(BAD_REQUEST_SCHEMA, description=(
                           "The user has no security key (mfa_not_enabled), or malformed input")),
                       401: err("Invalid, expired or used mfa_token (invalid_mfa_token)")},
        ),
        login_webauthn_verify=extend_schema(
            summary="Second step of login with a security key: tokens",
            request=s.MFALoginWebAuthnVerifySerializer, auth=[],
            responses={200: TokenPairSerializer, 400: malformed,
                       401: err("invalid_credential or invalid_mfa_token"), 415: unsupported, 429: locked,
                       503: off},
        ),
    )(mfa_viewset)
    extend_schema_view(
        register_options=extend_schema(
            summary="Start adding a security key or passkey", request=s.RegisterOptionsSerializer,
            responses={**options, 400: malformed, 401: unauthenticated, 403: step_up},
        ),
        register_verify=extend_schema(
            summary="Finish adding a security key or passkey", request=s.RegisterVerifySerializer,
            responses={201: KeyRegisteredSerializer, 400: bad, 401: unauthenticated, 403: step_up,
                       415: unsupported, 503: off},
        ),
    )(webauthn_viewset)
    extend_schema_view(
        list=extend_schema(summary="The user's security keys",
                           responses={200: s.KeySerializer(many=True), 401: unauthenticated}),
        partial_update=extend_schema(
            summary="Rename a security key", request=s.KeyRenameSerializer,
            responses={200: s.KeySerializer, 400: malformed,
                       401: unauthenticated, 404: err("Not one of your keys")},
        ),
        destroy=extend_schema(
            summary="Remove a security key (the last factor turns MFA off)",
            responses={204: None, 401: unauthenticated, 403: step_up, 404: err("Not one of your keys")},
        ),
    )(credential_viewset)
    extend_schema_view(
        login_options=extend_schema(
            summary="Sign in with a passkey: options", request=s.EmptySerializer, auth=[],
            responses={**options, 404: err("Passkey login is off (passkey_login_disabled)"),
                       429: err("Too many requests from this IP")},
        ),
        login_verify=extend_schema(
            summary="Sign in with a passkey: tokens", request=s.CeremonySerializer, auth=[],
            responses={200: TokenPairSerializer, 400: malformed, 401: err("invalid_credential"),
                       404: err("Passkey login is off (passkey_login_disabled)"),
                       415: unsupported, 429: err("Too many requests from this IP"), 503: off},
        ),
    )(passkey_viewset)


def document_trusted_devices(viewset: type) -> None:
    """Describe mfa/trusted-devices (list, revoke one, revoke all)."""
    try:
        from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
    except ImportError:  # drf-spectacular not installed: nothing to document
        return
    unauthenticated = OpenApiResponse(
        ErrorSerializer, description="Missing, invalid, expired or revoked access token"
    )
    extend_schema_view(
        list=extend_schema(summary="The user's trusted devices",
                           responses={200: s.TrustedDeviceSerializer(many=True), 401: unauthenticated}),
        destroy=extend_schema(summary="Forget one trusted device", responses={
            204: None, 401: unauthenticated,
            404: OpenApiResponse(ErrorSerializer, description="Not one of your trusted devices")}),
    )(viewset)
    # DELETE on the collection is no DRF action (mfa.api.urls maps it): described on the method.
    viewset.destroy_all = extend_schema(  # type: ignore[attr-defined]
        summary="Forget every trusted device of the user",
        operation_id="auth_mfa_trusted_devices_destroy_all",
        responses={204: None, 401: unauthenticated},
    )(viewset.destroy_all)
