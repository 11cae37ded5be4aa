"""The browser pages' URLs, ``include("mfa.pages_urls")`` (documented path; the code is mfa.pages.urls)."""

from mfa.pages.urls import app_name, urlpatterns  # noqa: F401
