"""JSON errors for API paths, and 503 when the database cannot be reached."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.db import DatabaseError, InterfaceError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError

logger = logging.getLogger("authsite.errors")

API_PREFIX = "/api/"


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def json_error(detail: str, code: str, status: int) -> JsonResponse:
    response = JsonResponse({"detail": detail, "code": code}, status=status)
    response["Cache-Control"] = "no-store"
    return response


# Exceptions Django's own handler turns into 400/403/404 (django.core.handlers.exception).
CLIENT_ERRORS = (Http404, PermissionDenied, BadRequest, SuspiciousOperation, MultiPartParserError)


class ApiErrorMiddleware:
    """Turns an unhandled exception on an API path into JSON: 503 for database outages (with
    Retry-After), 500 otherwise. No traceback or exception text ever reaches the client."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, CLIENT_ERRORS):
            # Django answers these with 4xx through the JSON handlers in authsite.views (e.g. a
            # body over DATA_UPLOAD_MAX_MEMORY_SIZE raises RequestDataTooBig inside DRF's parsing).
            return None
        if isinstance(exception, (DatabaseError, InterfaceError)) or _is_db_outage(exception):
            logger.error("database unavailable on %s %s: %s", request.method, request.path,
                         type(exception).__name__)
            response = json_error(
                "The service is temporarily unavailable. Try again shortly.",
                "service_unavailable", 503,
            )
            response["Retry-After"] = "5"
            return response
        if is_api(request):
            logger.exception("unhandled error on %s %s", request.method, request.path)
            return json_error("Internal server error.", "server_error", 500)
        return None


def _is_db_outage(exc: Any) -> bool:
    try:
        from pymongo.errors import ConnectionFailure, ServerSelectionTimeoutError
    except ImportError:  # pymongo is only installed with the MongoDB backend
        return False
    return isinstance(exc, (ConnectionFailure, ServerSelectionTimeoutError))
