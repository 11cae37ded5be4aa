"""JSON errors for API paths, and 503 when the database cannot be reached."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.db import InterfaceError, OperationalError
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
        if is_db_outage(exception):
            logger.error(
                "database unavailable on %s %s: %s", request.method, request.path,
                type(exception.__cause__ or exception).__name__,
            )
            detail = "The service is temporarily unavailable. Try again shortly."
            if is_api(request):
                response = json_error(detail, "service_unavailable", 503)
            else:
                response = HttpResponse(detail, status=503, content_type="text/plain; charset=utf-8")
            response["Retry-After"] = "5"
            return response
        if is_api(request):
            logger.exception("unhandled error on %s %s", request.method, request.path)
            return json_error("Internal server error.", "server_error", 500)
        return None


def is_db_outage(exc: BaseException) -> bool:
    """Whether ``exc`` means the database cannot be reached (not a bug in a query).

    SQL backends raise OperationalError or InterfaceError; django-mongodb-backend raises a bare
    DatabaseError whose cause is a pymongo ConnectionFailure (server selection timeout, reset).
    """
    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    try:
        from pymongo.errors import ConnectionFailure
    except ImportError:  # pymongo is only installed with the MongoDB backend
        return False
    chain: BaseException | None = exc
    for _ in range(5):
        if chain is None:
            break
        if isinstance(chain, ConnectionFailure):
            return True
        chain = chain.__cause__ or chain.__context__
    return False
