"""The mfa JSON API (DRF viewsets). Thin: validate, call mfa.flows / mfa.sessions, shape the reply."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from mfa import factors, flows, password_reset, passwords, security_keys, sessions, trusted_devices
from mfa.api import openapi, serializers
from mfa.api.authentication import SessionJWTAuthentication
from mfa.api.exception_handler import api_exception_handler
from mfa.api.throttling import (
    CodeFailureRateThrottle,
    LoginRateThrottle,
    PasskeyLoginRateThrottle,
    RefreshRateThrottle,
)
from mfa.exceptions import InvalidCode, InvalidCredential, InvalidPassword, PasskeyLoginDisabled
from mfa.http import client_info
from mfa.methods import totp
from mfa.models import RevokeReason, SecurityEvent


class BaseViewSet(viewsets.GenericViewSet):
    """Bearer-token authentication only; no response is ever cached (they carry secrets,
    codes or tokens); wrong codes also count towards the per-IP failure throttle."""

    # Per-action status overrides for mfa error codes (read by mfa.exception_handler).
    mfa_error_status: dict[str, int] = {}
    # Actions a user who must enrol (MFA["REQUIRED"], grace over) may still call.
    allow_without_required_mfa = False

    authentication_classes = [SessionJWTAuthentication]
    permission_classes = [IsAuthenticated]
    # Fixed here, not taken from the host's REST_FRAMEWORK settings: the contract is JSON only.
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]
    serializer_class = serializers.EmptySerializer
    pagination_class = None

    def get_exception_handler(self):
        return api_exception_handler

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        response["Pragma"] = "no-cache"
        if getattr(request._request, "mfa_enrolment_reminder", False):
            response["X-MFA-Enrolment-Required"] = "grace-period"
        return response

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, (InvalidCode, InvalidPassword, InvalidCredential)):
            CodeFailureRateThrottle().record_failure(self.request, self)
        return super().handle_exception(exc)

    def validated(self, request: Request) -> dict[str, Any]:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def current_session_id(self, request: Request) -> Any:
        session = getattr(request, "auth_session", None)
        return session.pk if session is not None else None


def me_payload(user: Any) -> dict[str, Any]:
    methods = factors.confirmed_factors(user)
    account = factors.account_of(user)
    return {
        "id": str(user.pk),
        "email": getattr(user, user.get_email_field_name(), "") or "",
        "mfa_enabled": bool(methods),
        "methods": [str(m) for m in methods],
        "recovery_codes_left": account.recovery_codes_left if methods and account is not None else 0,
    }


def pair_payload(pair: sessions.TokenPair) -> dict[str, str]:
    body = {"access": pair.access, "refresh": pair.refresh}
    if pair.device_token:
        body["device_token"] = pair.device_token  # shown once
    return body


class AuthViewSet(BaseViewSet):
    """login, token/refresh, me, logout, logout/all."""

    @action(
        detail=False, methods=["post"], serializer_class=serializers.LoginSerializer,
        authentication_classes=[], permission_classes=[AllowAny], throttle_classes=[LoginRateThrottle],
    )
    def login(self, request: Request) -> Response:
        data = self.validated(request)
        username = data[get_user_model().USERNAME_FIELD]
        result = flows.password_login(
            username, data["password"], now=timezone.now(), client=client_info(request),
            device_token=data.get("device_token"),
        )
        if isinstance(result, flows.MFAChallenge):
            return Response(
                {"requires_mfa": True, "mfa_token": result.mfa_token, "methods": result.methods}
            )
        return Response({"requires_mfa": False, **pair_payload(result)})

    @action(
        detail=False, methods=["post"], url_path="token/refresh",
        serializer_class=serializers.RefreshSerializer, authentication_classes=[],
        permission_classes=[AllowAny], throttle_classes=[RefreshRateThrottle],
    )
    def refresh(self, request: Request) -> Response:
        data = self.validated(request)
        pair = sessions.rotate_refresh(data["refresh"], now=timezone.now(), client=client_info(request))
        return Response(pair_payload(pair))

    @action(detail=False, methods=["get"], allow_without_required_mfa=True)
    def me(self, request: Request) -> Response:
        return Response(me_payload(request.user))

    @action(detail=False, methods=["post"], allow_without_required_mfa=True)
    def logout(self, request: Request) -> Response:
        sessions.revoke_session(
            request.user, str(self.current_session_id(request)), now=timezone.now(),
            client=client_info(request), reason=RevokeReason.LOGOUT,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(
        detail=False, methods=["post"], serializer_class=serializers.ReauthenticateSerializer,
        throttle_classes=[CodeFailureRateThrottle],
    )
    def reauthenticate(self, request: Request) -> Response:
        data = self.validated(request)
        access = flows.reauthenticate(
            request.user, request.auth_session, code=data.get("code"), password=data.get("password"),
            now=timezone.now(), client=client_info(request),
        )
        return Response({"access": access})

    @action(detail=False, methods=["post"], url_path="reauthenticate/webauthn/options")
    def reauthenticate_webauthn_options(self, request: Request) -> Response:
        self.validated(request)
        options = security_keys.reauthenticate_options(request.user, request.auth_session, now=timezone.now())
        return Response(options_payload(options))

    @action(
        detail=False, methods=["post"], url_path="reauthenticate/webauthn/verify",
        serializer_class=serializers.CeremonySerializer, throttle_classes=[CodeFailureRateThrottle],
    )
    def reauthenticate_webauthn_verify(self, request: Request) -> Response:
        data = self.validated(request)
        access = security_keys.reauthenticate_verify(
            request.user, request.auth_session, data["ceremony_id"], data["credential"],
            now=timezone.now(), client=client_info(request),
        )
        return Response({"access": access})

    @action(detail=False, methods=["post"], url_path="logout/all", allow_without_required_mfa=True)
    def logout_all(self, request: Request) -> Response:
        # Every session ends and every trusted device is forgotten.
        flows.logout_everywhere(request.user, now=timezone.now(), client=client_info(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class SessionViewSet(BaseViewSet):
    """GET sessions (a bare array of live sessions), DELETE sessions/{id}."""

    lookup_value_regex = "[^/]+"

    def list(self, request: Request) -> Response:
        rows = sessions.live_sessions(request.user, now=timezone.now())
        context = {"current_session_id": str(self.current_session_id(request))}
        return Response(serializers.SessionSerializer(rows, many=True, context=context).data)

    def destroy(self, request: Request, pk: str | None = None) -> Response:
        sessions.revoke_session(
            request.user, pk or "", now=timezone.now(), client=client_info(request),
            reason=RevokeReason.REVOKED,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class EventPagination(PageNumberPagination):
    page_size = 20
    max_page_size = 100
    page_size_query_param = "page_size"

    def get_page_size(self, request: Request) -> int | None:
        # DRF silently falls back to the default on a malformed page_size; refuse it instead, like
        # any other invalid input (400 field error; above max_page_size is capped, as documented).
        raw = request.query_params.get(self.page_size_query_param)
        if raw is not None and not (raw.isascii() and raw.isdigit() and raw.strip("0")):
            raise ValidationError({self.page_size_query_param: [_("A positive whole number.")]})
        return super().get_page_size(request)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:  # both are whole numbers from 1
            parameter["schema"]["minimum"] = 1
        return parameters


class _NoFormatOverride:
    URL_FORMAT_OVERRIDE = None


class QueryFormatIsNotRenderer(DefaultContentNegotiation):
    """``?format=png`` on mfa/setup names the QR image format, not a DRF renderer: without this,
    DRF's URL_FORMAT_OVERRIDE looks for a "png" renderer and answers 404."""

    settings = _NoFormatOverride()


class MFAViewSet(BaseViewSet):
    """mfa/setup, mfa/verify, mfa/login/verify, mfa/disable, mfa/recovery-codes, mfa/events."""

    # A wrong code is 401 where no access token is held yet; 400 elsewhere (the contract).
    throttle_classes = [CodeFailureRateThrottle]

    @action(
        detail=False, methods=["post"], allow_without_required_mfa=True,
        content_negotiation_class=QueryFormatIsNotRenderer,
    )
    def setup(self, request: Request) -> Response:
        self.validated(request)
        image_format = request.query_params.get("format", "svg")
        if image_format not in ("svg", "png"):  # checked before a new secret replaces a pending one
            raise ValidationError({"format": [_('"svg" (the default) or "png".')]})
        enrolment = flows.start_setup(request.user, now=timezone.now(), session=request.auth_session)
        return Response(
            {
                "secret": enrolment.secret,
                "otpauth_uri": enrolment.otpauth_uri,
                "qr_code": totp.qr_data_uri(enrolment.otpauth_uri, image_format=image_format),
            }
        )

    @action(
        detail=False, methods=["post"], serializer_class=serializers.SetupVerifySerializer,
        allow_without_required_mfa=True,
    )
    def verify(self, request: Request) -> Response:
        data = self.validated(request)
        codes = flows.confirm_setup(
            request.user, data["code"], now=timezone.now(), client=client_info(request),
            keep_session_id=self.current_session_id(request), session=request.auth_session,
        )
        # Recovery codes only with the account's first factor; a further one keeps the old codes.
        return Response({"mfa_enabled": True, **({"recovery_codes": codes} if codes else {})})

    @action(
        detail=False, methods=["post"], url_path="login/verify",
        serializer_class=serializers.MFALoginVerifySerializer, authentication_classes=[],
        permission_classes=[AllowAny], mfa_error_status={"invalid_code": status.HTTP_401_UNAUTHORIZED},
    )
    def login_verify(self, request: Request) -> Response:
        data = self.validated(request)
        pair = flows.complete_mfa_login(
            data["mfa_token"], data["code"], now=timezone.now(), client=client_info(request),
            trust_device=data["trust_device"],
        )
        return Response(pair_payload(pair))

    @action(
        detail=False, methods=["post"], url_path="login/webauthn/options",
        serializer_class=serializers.MFATokenSerializer, authentication_classes=[],
        permission_classes=[AllowAny],
    )
    def login_webauthn_options(self, request: Request) -> Response:
        data = self.validated(request)
        options = security_keys.mfa_login_options(data["mfa_token"], now=timezone.now())
        return Response(options_payload(options))

    @action(
        detail=False, methods=["post"], url_path="login/webauthn/verify",
        serializer_class=serializers.MFALoginWebAuthnVerifySerializer, authentication_classes=[],
        permission_classes=[AllowAny], mfa_error_status={"invalid_credential": status.HTTP_401_UNAUTHORIZED},
    )
    def login_webauthn_verify(self, request: Request) -> Response:
        data = self.validated(request)
        pair = security_keys.mfa_login_verify(
            data["mfa_token"], data["ceremony_id"], data["credential"], now=timezone.now(),
            client=client_info(request), trust_device=data["trust_device"],
        )
        return Response(pair_payload(pair))

    @action(detail=False, methods=["post"], serializer_class=serializers.DisableSerializer)
    def disable(self, request: Request) -> Response:
        data = self.validated(request)
        flows.disable(
            request.user, data["password"], data.get("code"), now=timezone.now(),
            client=client_info(request), keep_session_id=self.current_session_id(request),
            session=request.auth_session,
        )
        return Response({"mfa_enabled": False})

    @action(detail=False, methods=["delete"], url_path="totp")
    def totp(self, request: Request) -> Response:
        """Remove the authenticator app alone (a second factor within 5 minutes)."""
        flows.remove_totp(
            request.user, now=timezone.now(), client=client_info(request), session=request.auth_session,
            keep_session_id=self.current_session_id(request),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(
        detail=False, methods=["post"], url_path="recovery-codes",
        serializer_class=serializers.RecoveryCodesSerializer,
    )
    def recovery_codes(self, request: Request) -> Response:
        data = self.validated(request)
        codes = flows.regenerate_recovery_codes(
            request.user, data.get("code"), now=timezone.now(), client=client_info(request),
            session=request.auth_session,
        )
        return Response({"recovery_codes": codes})

    @action(
        detail=False, methods=["get"], serializer_class=serializers.SecurityEventSerializer,
        pagination_class=EventPagination, throttle_classes=[],
    )
    def events(self, request: Request) -> Response:
        rows = SecurityEvent.objects.filter(user=request.user).order_by("-created_at")
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


def options_payload(options: security_keys.Options) -> dict[str, Any]:
    return {"ceremony_id": options.ceremony_id, "publicKey": options.public_key}


class WebAuthnViewSet(BaseViewSet):
    """webauthn/register/options and /verify: adding a security key or passkey."""

    throttle_classes = [CodeFailureRateThrottle]

    @action(
        detail=False, methods=["post"], url_path="register/options",
        serializer_class=serializers.RegisterOptionsSerializer, allow_without_required_mfa=True,
    )
    def register_options(self, request: Request) -> Response:
        data = self.validated(request)
        options = security_keys.register_options(
            request.user, passkey=data["passkey"], now=timezone.now(), session=request.auth_session
        )
        return Response(options_payload(options))

    @action(
        detail=False, methods=["post"], url_path="register/verify",
        serializer_class=serializers.RegisterVerifySerializer, allow_without_required_mfa=True,
    )
    def register_verify(self, request: Request) -> Response:
        data = self.validated(request)
        key, codes = security_keys.register_verify(
            request.user, data["ceremony_id"], data["credential"], data["name"], now=timezone.now(),
            client=client_info(request), session=request.auth_session,
            keep_session_id=self.current_session_id(request),
        )
        body = {k: v for k, v in serializers.KeySerializer(key).data.items()
                if k in ("id", "name", "passkey", "created_at")}
        if codes:
            body["recovery_codes"] = codes
        return Response(body, status=status.HTTP_201_CREATED)


class WebAuthnCredentialViewSet(BaseViewSet):
    """GET webauthn/credentials (a bare array), PATCH and DELETE webauthn/credentials/{id}."""

    lookup_value_regex = "[^/]+"
    serializer_class = serializers.KeySerializer

    def list(self, request: Request) -> Response:
        return Response(serializers.KeySerializer(security_keys.keys_of(request.user), many=True).data)

    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        serializer = serializers.KeyRenameSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        key = security_keys.rename_key(
            request.user, pk or "", serializer.validated_data["name"], client=client_info(request)
        )
        return Response(serializers.KeySerializer(key).data)

    def destroy(self, request: Request, pk: str | None = None) -> Response:
        security_keys.remove_key(
            request.user, pk or "", now=timezone.now(), client=client_info(request),
            session=request.auth_session, keep_session_id=self.current_session_id(request),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasskeyViewSet(BaseViewSet):
    """passkey/login/options and /verify: sign in with a passkey alone (MFA["PASSKEY_LOGIN"])."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [PasskeyLoginRateThrottle]
    mfa_error_status = {"invalid_credential": status.HTTP_401_UNAUTHORIZED}

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # Off: 404 on both calls, before the body is read (a method they do not take stays 405).
        if self.action is not None and not security_keys.passkey_login_enabled():
            raise PasskeyLoginDisabled()
        super().initial(request, *args, **kwargs)

    @action(detail=False, methods=["post"], url_path="login/options")
    def login_options(self, request: Request) -> Response:
        self.validated(request)
        return Response(options_payload(security_keys.passkey_login_options(now=timezone.now())))

    @action(
        detail=False, methods=["post"], url_path="login/verify",
        serializer_class=serializers.CeremonySerializer,
    )
    def login_verify(self, request: Request) -> Response:
        data = self.validated(request)
        pair = security_keys.passkey_login_verify(
            data["ceremony_id"], data["credential"], now=timezone.now(), client=client_info(request)
        )
        return Response(pair_payload(pair))


class TrustedDeviceViewSet(BaseViewSet):
    """GET mfa/trusted-devices (a bare array), DELETE mfa/trusted-devices/{id}, DELETE
    mfa/trusted-devices (all of the user's)."""

    lookup_value_regex = "[^/]+"
    serializer_class = serializers.TrustedDeviceSerializer

    def list(self, request: Request) -> Response:
        rows = trusted_devices.live_devices(request.user, now=timezone.now())
        session = request.auth_session
        context = {"current_device_id": str(session.trusted_device_id) if session.trusted_device_id else None}
        return Response(serializers.TrustedDeviceSerializer(rows, many=True, context=context).data)

    def destroy(self, request: Request, pk: str | None = None) -> Response:
        trusted_devices.revoke(request.user, pk or "", client=client_info(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    def destroy_all(self, request: Request) -> Response:
        trusted_devices.revoke_all(request.user, client=client_info(request), reason="revoked_all")
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordViewSet(BaseViewSet):
    """password/change (signed in), password/reset (ask for an email with a link),
    password/reset/confirm (use it)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @action(
        detail=False, methods=["post"], serializer_class=serializers.PasswordChangeSerializer,
        authentication_classes=[SessionJWTAuthentication], permission_classes=[IsAuthenticated],
        throttle_classes=[CodeFailureRateThrottle],
    )
    def change(self, request: Request) -> Response:
        data = self.validated(request)
        try:
            passwords.change_password(
                request.user, data["current_password"], data["new_password"], now=timezone.now(),
                client=client_info(request), keep_session_id=self.current_session_id(request),
            )
        except DjangoValidationError as exc:
            raise ValidationError({"new_password": list(exc.messages)}) from None
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=False, methods=["post"], serializer_class=serializers.PasswordResetSerializer)
    def reset(self, request: Request) -> Response:
        data = self.validated(request)
        password_reset.request_reset(data["email"], now=timezone.now(), client=client_info(request))
        # The same bytes for every address: the email (if any) is sent after this answer.
        return Response({"detail": password_reset_accepted_message()}, status=status.HTTP_202_ACCEPTED)

    @action(
        detail=False, methods=["post"], url_path="reset/confirm",
        serializer_class=serializers.PasswordResetConfirmSerializer,
    )
    def reset_confirm(self, request: Request) -> Response:
        data = self.validated(request)
        try:
            password_reset.confirm_reset(
                data["uid"], data["token"], data["new_password"], now=timezone.now(),
                client=client_info(request),
            )
        except DjangoValidationError as exc:
            raise ValidationError({"new_password": list(exc.messages)}) from None
        return Response(status=status.HTTP_204_NO_CONTENT)


def password_reset_accepted_message() -> str:
    return _("If an account uses this address, an email with a link to reset its password is on its way.")


openapi.document(AuthViewSet, MFAViewSet, SessionViewSet)
openapi.document_password(PasswordViewSet)
openapi.document_trusted_devices(TrustedDeviceViewSet)
openapi.document_webauthn(AuthViewSet, MFAViewSet, WebAuthnViewSet, WebAuthnCredentialViewSet, PasskeyViewSet)
