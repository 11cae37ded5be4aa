"""The sign-up form of the browser pages (the API's is accounts.serializers.RegisterSerializer)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import BaseUserCreationForm

from accounts.models import User, normalize_email
from mfa.password_gate import normalize_password


class SignUpForm(BaseUserCreationForm):
    """An email and a password typed twice, checked by the site's password validators; the password
    is stored NFC-normalised, as every door of the password gate reads it."""

    class Meta:
        model = User
        fields = ("email",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["email"].widget.attrs.update({"autocomplete": "email", "autofocus": True})
        for name in ("password1", "password2"):
            self.fields[name].widget.attrs["autocomplete"] = "new-password"

    def clean_email(self) -> str:
        email = normalize_email(self.cleaned_data["email"])
        if User.objects.filter(email=email).exists():
            raise forms.ValidationError("A user with this email already exists.", code="unique")
        return email

    def clean_password1(self) -> str:
        return normalize_password(self.cleaned_data["password1"])

    def clean_password2(self) -> str:
        return normalize_password(self.cleaned_data["password2"])
