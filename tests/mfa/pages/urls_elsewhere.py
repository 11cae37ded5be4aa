"""Test URLconf: a host that mounts mfa's API under /v2/auth/ (not /api/), with two plain Django
views of its own, one of them marked as a JSON view."""

from django.contrib import admin
from django.http import HttpResponse, JsonResponse
from django.urls import include, path

from mfa.middleware import mfa_json


def plain_page(request):
    return HttpResponse("a page")


@mfa_json
def plain_json(request):
    return JsonResponse({"ok": True})


urlpatterns = [
    path("v2/auth/", include("mfa.urls")),
    path("account/", include("mfa.pages_urls")),
    path("admin/", admin.site.urls),
    path("page/", plain_page),
    path("data/", plain_json),
]
