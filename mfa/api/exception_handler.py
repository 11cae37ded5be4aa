"""The DRF exception handler: JSON ``{"detail": str, "code": str}`` for every API error."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions as drf_exceptions
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from mfa.exceptions import LockedOut, MFAError


def _detail_text(detail: Any) -> str:
    if isinstance(detail, (list, tuple)) and detail:
        return _detail_text(detail[0])
    if isinstance(detail, dict) and detail:
        return _detail_text(next(iter(detail.values())))
    return str(detail)


def error_response(exc: MFAError, *, status_code: int | None = None) -> Response:
    code = status_code or exc.status_code
    response = Response({"detail": str(exc.detail), "code": exc.code}, status=code)
    if isinstance(exc, LockedOut):
        response["Retry-After"] = str(exc.retry_after)
    if code == status.HTTP_401_UNAUTHORIZED:
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    """JSON for every error: mfa errors as ``{detail, code}``, DRF's with a ``code`` added."""
    if isinstance(exc, MFAError):
        view = context.get("view")
        overrides = getattr(view, "mfa_error_status", {}) or {}
        return error_response(exc, status_code=overrides.get(exc.code))
    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = drf_exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, drf_exceptions.APIException) and not isinstance(
        exc, drf_exceptions.ValidationError
    ):
        codes = exc.get_codes()
        response.data = {
            "detail": _detail_text(exc.detail),
            "code": codes if isinstance(codes, str) else _detail_text(codes),
        }
    if response.status_code == status.HTTP_401_UNAUTHORIZED and "WWW-Authenticate" not in response:
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response
