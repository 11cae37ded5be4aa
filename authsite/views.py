"""Site-level views: JSON error handlers for API paths, and a tiny health check."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views import csrf, defaults
from django.views.decorators.csrf import csrf_exempt

from authsite.middleware import is_api, json_error
from mfa.middleware import mfa_json


@mfa_json
@csrf_exempt
def api_not_found(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
    return json_error("Not found.", "not_found", 404)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: JSON on API paths, Django's page elsewhere."""
    if is_api(request):
        return json_error("CSRF verification failed.", "csrf_failed", 403)
    return csrf.csrf_failure(request, reason=reason)


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api(request):
        return json_error("Not found.", "not_found", 404)
    return defaults.page_not_found(request, exception)


def handler500(request: HttpRequest) -> HttpResponse:
    if is_api(request):
        return json_error("Internal server error.", "server_error", 500)
    return defaults.server_error(request)


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api(request):
        return json_error("Bad request.", "bad_request", 400)
    return defaults.bad_request(request, exception)


def handler403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api(request):
        return json_error("Forbidden.", "permission_denied", 403)
    return defaults.permission_denied(request, exception)
