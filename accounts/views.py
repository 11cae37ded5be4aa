"""POST /api/auth/register: authsite's own registration (the mfa app owns login)."""

from __future__ import annotations

from django.db import IntegrityError
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from accounts.serializers import RegisterSerializer
from mfa.api.openapi import BAD_REQUEST_SCHEMA, ErrorSerializer
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
