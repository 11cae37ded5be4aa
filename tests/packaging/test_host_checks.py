"""Host-site configuration mistakes mfa catches: the middleware without mfa's pages (mfa.E002), a bare
string as MFA["ENCRYPTION_KEYS"]."""

from types import ModuleType

import pytest
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured
from django.urls import include, path

from mfa import crypto


def urlconf(name: str, urlpatterns: list) -> ModuleType:
    """A host site's URLconf module (ROOT_URLCONF may be a module as well as a dotted path)."""
    module = ModuleType(name)
    module.urlpatterns = urlpatterns
    return module


API_ONLY = urlconf("host_api_only", [path("api/auth/", include("mfa.urls"))])
API_AND_PAGES = urlconf(
    "host_api_and_pages",
    [path("api/auth/", include("mfa.urls")), path("account/", include("mfa.pages_urls"))],
)
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
WITH_MFA = [*MIDDLEWARE, "mfa.middleware.PartialLoginMiddleware"]


def check_ids() -> set[str]:
    return {message.id for message in run_checks()}


def test_middleware_without_mfa_pages_fails_check_e002(settings):
    settings.ROOT_URLCONF = API_ONLY
    settings.MIDDLEWARE = WITH_MFA
    assert "mfa.E002" in check_ids()


def test_api_only_site_without_the_middleware_passes_e002(settings):
    settings.ROOT_URLCONF = API_ONLY
    settings.MIDDLEWARE = MIDDLEWARE
    assert "mfa.E002" not in check_ids()


def test_middleware_with_mfa_pages_passes_e002(settings):
    settings.ROOT_URLCONF = API_AND_PAGES
    settings.MIDDLEWARE = WITH_MFA
    assert "mfa.E002" not in check_ids()


def test_encryption_keys_given_as_a_bare_string_is_refused(settings):
    settings.MFA = {**settings.MFA, "ENCRYPTION_KEYS": "one-key-not-in-a-list"}
    with pytest.raises(ImproperlyConfigured, match="list of keys"):
        crypto.encrypt("JBSWY3DPEHPK3PXP")
    settings.MFA = {**settings.MFA, "ENCRYPTION_KEYS": ["one-key-not-in-a-list"]}
    assert crypto.decrypt(crypto.encrypt("JBSWY3DPEHPK3PXP")) == "JBSWY3DPEHPK3PXP"
