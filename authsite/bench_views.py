"""Benchmark-only endpoints, routed only when ``BENCH_ENDPOINTS=1`` (never in production).

- ``GET /api/bench/ping``: no database, no DRF: the HTTP stack's own ceiling (and the load
  client's, see bench/).
- ``GET /api/bench/row/<pk>``: the framework floor: a DRF view with no authentication that reads one
  user row by primary key from the site's database. Every auth endpoint is measured against it.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.http import HttpRequest, JsonResponse
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


def ping(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


class RowView(APIView):
    """One row by primary key: the least work a DRF endpoint backed by the database can do."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []

    def get(self, request: Request, pk: str) -> Response:
        model = get_user_model()
        try:
            user = model._default_manager.get(pk=pk)
        except (model.DoesNotExist, ValueError, ValidationError):
            return Response({"detail": "Not found.", "code": "not_found"}, status=404)
        return Response({"id": str(user.pk), "is_active": user.is_active})
