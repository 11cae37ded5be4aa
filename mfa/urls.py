"""The JSON API's URLs, ``include("mfa.urls")`` (documented path; the code is mfa.api.urls)."""

from mfa.api.urls import app_name, urlpatterns  # noqa: F401
