"""Request and response shapes of the mfa API. Validation only: no domain logic here."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from mfa.adapter import get_adapter
from mfa.factors import parse_code
from mfa.models import AuthSession, SecurityEvent, TrustedDevice, WebAuthnCredential
from mfa.password_gate import normalize_password


class StrictCharField(serializers.CharField):
    """A CharField that refuses numbers and booleans instead of converting them to strings:
    ``123456`` as a JSON number would lose a leading zero (``012345``), so codes must be strings."""

    default_error_messages = {"invalid": _("Not a valid string.")}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class PasswordField(StrictCharField):
    """A password: never trimmed, at most 4096 chars, NFC-normalised (NIST 800-63B 3.1.1.2) when
    it is to be stored. A password to be checked (``nfc=False``) goes to the password gate as
    typed: the gate normalises it, and still accepts a password stored before normalisation."""

    def __init__(self, *, nfc: bool = True, **kwargs: Any) -> None:
        self.nfc = nfc
        kwargs.setdefault("trim_whitespace", False)
        kwargs.setdefault("max_length", 4096)
        kwargs.setdefault("style", {"input_type": "password"})
        kwargs.setdefault("write_only", True)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        return normalize_password(value) if self.nfc else value


class CodeField(StrictCharField):
    """A code as a user types it, canonicalised by mfa.factors.parse_code (the pages' forms use
    the same parser and messages)."""

    allow_recovery_code = True
    message_key = "invalid_code_format"

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 64)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = parse_code(super().to_internal_value(data), allow_recovery_code=self.allow_recovery_code)
        if value is None:
            raise serializers.ValidationError(
                get_adapter().get_error_message(self.message_key), code="invalid_format"
            )
        return value


class TOTPCodeField(CodeField):
    """Six ASCII digits; spaces inside or around are ignored."""

    allow_recovery_code = False
    message_key = "invalid_totp_format"

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 32)
        kwargs.setdefault("help_text", _("6 digits from the authenticator app"))
        super().__init__(**kwargs)


class AnyCodeField(CodeField):
    """A TOTP code or a recovery code (case, spaces and dashes forgiven)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", _("6 digits, or a recovery code XXXXX-XXXXX-XXXXX"))
        super().__init__(**kwargs)


class LoginSerializer(serializers.Serializer):
    """The user model's USERNAME_FIELD (email for an email-login model, username for Django's own
    User) and the password. The OpenAPI description is built from this serializer."""

    password = PasswordField(nfc=False)

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        model = get_user_model()
        name = model.USERNAME_FIELD
        label = model._meta.get_field(name).verbose_name
        fields = {name: StrictCharField(max_length=254, help_text=label), **fields}
        fields["device_token"] = StrictCharField(
            max_length=256, required=False, allow_blank=True,
            help_text=_("A trusted device's token: a user with MFA then signs in without the second factor"),
        )
        return fields


class StrictBooleanField(serializers.BooleanField):
    """true or false only (not "yes", 1 or "on")."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


def trust_device_field() -> StrictBooleanField:
    return StrictBooleanField(
        default=False, help_text=_("Trust this device: later logins here skip the second factor")
    )


class MFALoginVerifySerializer(serializers.Serializer):
    mfa_token = StrictCharField(max_length=2048)
    code = AnyCodeField()
    trust_device = trust_device_field()


class SetupVerifySerializer(serializers.Serializer):
    code = TOTPCodeField()


class CodeSerializer(serializers.Serializer):
    code = AnyCodeField()


class RecoveryCodesSerializer(serializers.Serializer):
    """A current code, or nothing when this session gave a second factor in the last 5 minutes."""

    code = AnyCodeField(required=False)


class ReauthenticateSerializer(serializers.Serializer):
    """A code (TOTP or recovery) for a user with MFA; the password for a user without it."""

    code = AnyCodeField(required=False)
    password = PasswordField(nfc=False, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "code" not in attrs and "password" not in attrs:
            raise serializers.ValidationError(
                {"code": [_("Give a code (or the password, for an account without two-factor "
                            "authentication).")]},
                code="required",
            )
        return attrs


class DisableSerializer(serializers.Serializer):
    """The password, and a current code unless this session gave a second factor in the last 5
    minutes."""

    password = PasswordField(nfc=False)
    code = AnyCodeField(required=False)


class RefreshSerializer(serializers.Serializer):
    refresh = StrictCharField(max_length=4096)


class StrictEmailField(serializers.EmailField):
    """An email address given as a JSON string (a number or a list is refused, not converted)."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class PasswordChangeSerializer(serializers.Serializer):
    current_password = PasswordField(nfc=False)
    new_password = PasswordField()


class PasswordResetSerializer(serializers.Serializer):
    email = StrictEmailField(max_length=254)


class PasswordResetConfirmSerializer(serializers.Serializer):
    """``uid`` and ``token`` as the reset link carries them (any string: a wrong, empty or overlong
    one is ``invalid_reset_token``, not a field error), and the new password."""

    uid = StrictCharField(allow_blank=True, trim_whitespace=False, help_text=_("From the reset link"))
    token = StrictCharField(allow_blank=True, trim_whitespace=False, help_text=_("From the reset link"))
    new_password = PasswordField()


class EmptySerializer(serializers.Serializer):
    pass


class SessionSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="pk", read_only=True)
    current = serializers.SerializerMethodField()

    class Meta:
        model = AuthSession
        fields = ["id", "created_at", "last_used_at", "ip", "user_agent", "current"]

    def get_current(self, session: AuthSession) -> bool:
        return str(session.pk) == self.context.get("current_session_id")


class SecurityEventSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="pk", read_only=True)

    class Meta:
        model = SecurityEvent
        fields = ["id", "type", "created_at", "ip", "user_agent", "details"]


# --- Security keys (WebAuthn) ----------------------------------------------------------------------


class CredentialField(serializers.JSONField):
    """The object a browser's ``credential.toJSON()`` returns (checked in depth by
    mfa.methods.webauthn: here only that it is a JSON object)."""

    default_error_messages = {"invalid": _("A credential object, as credential.toJSON() returns it.")}

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, dict):
            self.fail("invalid")
        return data


class KeyNameField(StrictCharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("help_text", _("A name you choose for the key"))
        super().__init__(**kwargs)


class RegisterOptionsSerializer(serializers.Serializer):
    passkey = StrictBooleanField(
        default=False, error_messages={"invalid": _("true or false.")},
        help_text=_("Register as a passkey (discoverable, with user verification)"),
    )


class CeremonySerializer(serializers.Serializer):
    ceremony_id = StrictCharField(max_length=64)
    credential = CredentialField()


class RegisterVerifySerializer(CeremonySerializer):
    name = KeyNameField(required=False, allow_blank=True, default="")


class KeyRenameSerializer(serializers.Serializer):
    name = KeyNameField()


class MFATokenSerializer(serializers.Serializer):
    mfa_token = StrictCharField(max_length=2048)


class MFALoginWebAuthnVerifySerializer(CeremonySerializer):
    mfa_token = StrictCharField(max_length=2048)
    trust_device = trust_device_field()


class KeySerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="pk", read_only=True)

    class Meta:
        model = WebAuthnCredential
        fields = ["id", "name", "passkey", "backed_up", "created_at", "last_used_at"]


class TrustedDeviceSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="pk", read_only=True)
    current = serializers.SerializerMethodField()

    class Meta:
        model = TrustedDevice
        fields = ["id", "name", "created_at", "last_used_at", "expires_at", "current"]

    def get_current(self, device: TrustedDevice) -> bool:
        return str(device.pk) == self.context.get("current_device_id")
