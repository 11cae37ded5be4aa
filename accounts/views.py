"""Registration, authsite's own (the mfa app owns login): POST /api/auth/register and the sign-up
page /account/signup/."""

from __future__ import annotations

import math

from django.contrib import messages
from django.contrib.auth import login
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.forms import SignUpForm
from accounts.models import User
from accounts.serializers import RegisterSerializer
from mfa.api.openapi import BAD_REQUEST_SCHEMA, ErrorSerializer
from mfa.http import ip_rate_wait
from mfa.throttling import RegisterRateThrottle


class RegisteredSerializer(serializers.Serializer):
    id = serializers.CharField()
    email = serializers.EmailField()
    mfa_enabled = serializers.BooleanField()


class RegisterView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [RegisterRateThrottle]

    @extend_schema(
        summary="Register with an email and a password",
        request=RegisterSerializer,
        responses={
            201: RegisteredSerializer,
            400: OpenApiResponse(
                BAD_REQUEST_SCHEMA, description="Field errors: bad email, weak password, email taken"
            ),
            415: ErrorSerializer,
            429: ErrorSerializer,
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            user = User.objects.create_user(data["email"], data["password"])
        except IntegrityError:  # a concurrent registration won the unique index
            raise ValidationError({"email": ["A user with this email already exists."]}) from None
        return Response(
            {"id": str(user.pk), "email": user.email, "mfa_enabled": False},
            status=status.HTTP_201_CREATED,
        )


# --- The sign-up page ---------------------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    """Create an account in the browser, then sign in (a password-only session; the account page
    offers two-factor authentication). Limited per IP like POST register (one shared count)."""
    if request.user.is_authenticated:
        return redirect("mfa_pages:home")
    form = SignUpForm(request.POST or None)
    status = 200
    if request.method == "POST":
        wait = ip_rate_wait(request, "register")
        if wait is not None:
            seconds = math.ceil(wait)
            form.add_error(None, f"Too many sign-ups from your network. Try again in {seconds} seconds.")
            response = render(request, "accounts/signup.html", {"form": form}, status=429)
            response["Retry-After"] = str(seconds)
            return response
        if form.is_valid():
            try:
                user = form.save()
            except IntegrityError:  # a concurrent sign-up won the unique index
                form.add_error("email", "A user with this email already exists.")
            else:
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                messages.success(request, "Your account is ready.")
                return redirect("mfa_pages:home")
        status = 400
    return render(request, "accounts/signup.html", {"form": form}, status=status)
