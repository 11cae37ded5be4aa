"""Forms of the browser pages. Passwords and codes are checked by the same use cases as the API."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from mfa import password_gate
from mfa.adapter import get_adapter
from mfa.conf import mfa_settings
from mfa.events import UNKNOWN_CLIENT
from mfa.exceptions import InvalidCredentials, LoginLocked
from mfa.factors import parse_code
from mfa.http import client_info, ip_rate_wait
from mfa.password_gate import Door, normalize_password


class PasswordLoginForm(AuthenticationForm):
    """Django's sign-in form, checked by the password gate (mfa.password_gate), as the API login
    is: the same per-IP limit (MFA["IP_RATES"]["login"], one shared count), the same backoff and
    the same events. A refusal for too many attempts is kept in ``locked``."""

    door = Door.BROWSER_LOGIN
    locked: LoginLocked | None = None

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is not None and password:
            try:
                client = UNKNOWN_CLIENT
                if self.request is not None:
                    client = client_info(self.request)
                    wait = ip_rate_wait(self.request, "login")
                    if wait is not None:
                        raise LoginLocked(wait)
                self.user_cache = password_gate.check_login(
                    username, password, now=timezone.now(), client=client, door=self.door
                )
            except LoginLocked as exc:
                self.locked = exc
                raise forms.ValidationError(
                    get_adapter().get_error_message("login_locked_wait", seconds=exc.retry_after),
                    code="login_locked",
                ) from None
            except InvalidCredentials:
                raise self.get_invalid_login_error() from None
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


class AdminPasswordLoginForm(PasswordLoginForm, AdminAuthenticationForm):
    """The Django admin's sign-in form through the same gate (staff only, as the admin's own);
    MFAConfig.ready() installs it on ``django.contrib.admin.site``."""

    door = Door.ADMIN_LOGIN


class OneTimeCodeInput(forms.TextInput):
    """A text input for a code that never writes a submitted value back into the page: after a
    wrong code the field is empty again (no secret left in a field, nor in the browser's cache
    of the page)."""

    def format_value(self, value: Any) -> None:
        return None


class CodeForm(forms.Form):
    """One code: TOTP, or (unless ``totp_only``) a recovery code; parsed by mfa.factors.parse_code,
    the parser of the API's code fields, with the same messages."""

    code = forms.CharField(
        label=_("Code from your authenticator app, or a recovery code"),
        max_length=64,
        widget=OneTimeCodeInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "text", "autofocus": True}
        ),
    )
    totp_only = False

    def clean_code(self) -> str:
        value = parse_code(self.cleaned_data["code"], allow_recovery_code=not self.totp_only)
        if value is None:
            key = "invalid_totp_format" if self.totp_only else "invalid_code_format"
            raise forms.ValidationError(get_adapter().get_error_message(key), code="invalid_format")
        return value


class ChallengeForm(CodeForm):
    """The challenge's code, and "Trust this browser for N days" (N: MFA["TRUST_DAYS"]; no such
    box when trusted devices are off)."""

    trust_device = forms.BooleanField(required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        days = mfa_settings.TRUST_DAYS
        if not days:
            del self.fields["trust_device"]
        else:
            self.fields["trust_device"].label = ngettext(
                "Trust this browser for %(days)d day", "Trust this browser for %(days)d days", days
            ) % {"days": days}

    @property
    def trust_requested(self) -> bool:
        return bool(self.cleaned_data.get("trust_device")) and "trust_device" in self.fields


class EnrolForm(CodeForm):
    totp_only = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["code"].label = _("6-digit code shown by your authenticator app")
        self.fields["code"].widget.attrs.update({"inputmode": "numeric", "autocomplete": "one-time-code"})


class DisableForm(CodeForm):
    password = forms.CharField(
        label=_("Your password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    field_order = ["password", "code"]


class KeyNameForm(forms.Form):
    """The name of a security key (what the keys page lists; at most 64 characters)."""

    name = forms.CharField(label=_("Name"), max_length=64, strip=True)


class PasswordResetRequestForm(forms.Form):
    email = forms.EmailField(
        label=_("Email"), max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )


class SetNewPasswordForm(forms.Form):
    """The new password twice. Checked by mfa.passwords (normalised, then Django's validators)
    when the reset is confirmed; here only that both entries match."""

    new_password1 = forms.CharField(
        label=_("New password"), strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password", "autofocus": True}),
    )
    new_password2 = forms.CharField(
        label=_("New password again"), strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        first, second = data.get("new_password1"), data.get("new_password2")
        if first and second and normalize_password(first) != normalize_password(second):
            mismatch = forms.ValidationError(_("The two passwords differ."), code="mismatch")
            self.add_error("new_password2", mismatch)
        return data


class PasswordChangeForm(SetNewPasswordForm):
    """The current password (checked by the password gate when the change is made) and the new
    one twice."""

    current_password = forms.CharField(
        label=_("Current password"), strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
    )
    field_order = ["current_password", "new_password1", "new_password2"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["new_password1"].widget.attrs.pop("autofocus", None)
