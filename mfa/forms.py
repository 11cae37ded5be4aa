"""Forms of the browser pages. Codes are validated with the same rules as the API."""

from __future__ import annotations

from typing import Any

from django import forms

from mfa import recovery, totp


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code from your authenticator app, or a recovery code",
        max_length=64,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "text", "autofocus": True}
        ),
    )
    totp_only = False

    def clean_code(self) -> str:
        value = self.cleaned_data["code"]
        six = totp.normalize_code(value)
        if six is not None:
            return six
        if not self.totp_only and (rcode := recovery.normalize(value)) is not None:
            return rcode
        if self.totp_only:
            raise forms.ValidationError("Enter the 6-digit code (digits 0-9) from your app.")
        raise forms.ValidationError(
            "Enter the 6-digit code from your app or a recovery code (XXXXX-XXXXX-XXXXX)."
        )


class EnrolForm(CodeForm):
    totp_only = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["code"].label = "6-digit code shown by your authenticator app"
        self.fields["code"].widget.attrs.update({"inputmode": "numeric", "autocomplete": "one-time-code"})


class DisableForm(CodeForm):
    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    field_order = ["password", "code"]
