"""System checks: no password-only token door around MFA (mfa.E001), the JWT signing key (mfa.W001),
rates that parse (mfa.E006)."""

from __future__ import annotations

import sys
import types

import pytest
from django.core.checks import Error, Warning, run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings
from django.urls import include, path
from rest_framework_simplejwt.views import TokenObtainPairView


def ids(messages) -> list[str]:
    return [m.id for m in messages]


def messages_with(id_: str):
    return [m for m in run_checks() if m.id == id_]


def test_site_urls_pass_the_bypass_check():
    with override_settings(ROOT_URLCONF="authsite.urls"):
        assert messages_with("mfa.E001") == []


def test_simplejwt_token_obtain_view_in_urls_is_an_error():
    with override_settings(ROOT_URLCONF="tests.mfa.api.urls_bypass"):
        errors = messages_with("mfa.E001")
    assert len(errors) == 1
    assert isinstance(errors[0], Error)
    assert "TokenObtainPairView" in errors[0].msg and "api/extra/token/" in errors[0].msg
    assert errors[0].hint


def test_subclass_of_the_token_obtain_view_is_an_error_too():
    class FriendlyTokenView(TokenObtainPairView):
        pass

    module = types.ModuleType("tests.mfa._urls_bypass_subclass")
    module.urlpatterns = [path("", include("authsite.urls")), path("t/", FriendlyTokenView.as_view())]
    sys.modules[module.__name__] = module
    try:
        with override_settings(ROOT_URLCONF=module.__name__):
            assert len(messages_with("mfa.E001")) == 1
    finally:
        del sys.modules[module.__name__]


def test_signing_key_equal_to_secret_key_is_a_warning(settings):
    assert messages_with("mfa.W001") == []
    settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, "SIGNING_KEY": settings.SECRET_KEY}
    warnings = messages_with("mfa.W001")
    assert len(warnings) == 1 and isinstance(warnings[0], Warning)


def test_short_signing_key_is_a_warning(settings):
    settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, "SIGNING_KEY": "s" * 42}
    assert ids(messages_with("mfa.W001")) == ["mfa.W001"]


def test_missing_signing_key_falls_back_to_secret_key_and_warns(settings):
    settings.SIMPLE_JWT = {k: v for k, v in settings.SIMPLE_JWT.items() if k != "SIGNING_KEY"}
    assert ids(messages_with("mfa.W001")) == ["mfa.W001"]


def test_manage_py_check_fails_on_the_bypass():
    with override_settings(ROOT_URLCONF="tests.mfa.api.urls_bypass"), pytest.raises(SystemCheckError, match=r"mfa\.E001"):
        call_command("check")


def test_configured_rates_pass_the_rate_check():
    assert messages_with("mfa.E006") == []


@pytest.mark.parametrize(("mfa", "name"), [
    ({"IP_RATES": {"login": "5 per minute"}}, 'MFA["IP_RATES"][\'login\']'),
    ({"IP_RATES": {"refresh": "5/0m"}}, 'MFA["IP_RATES"][\'refresh\']'),
    ({"PASSWORD_RESET_RATE": "5 per minute"}, 'MFA["PASSWORD_RESET_RATE"]'),
])
def test_a_rate_that_does_not_parse_is_an_error_naming_it(settings, mfa, name):
    settings.MFA = {**settings.MFA, **mfa}
    errors = messages_with("mfa.E006")
    assert len(errors) == 1 and isinstance(errors[0], Error)
    assert errors[0].msg.startswith(f"{name} is not a rate") and errors[0].hint
    with pytest.raises(SystemCheckError, match=r"mfa\.E006"):
        call_command("check")


def test_multiples_and_off_pass_the_rate_check_in_every_scope(settings):
    settings.MFA = {**settings.MFA, "IP_RATES": {"login": "5/10m", "refresh": "off", "register": None},
                    "PASSWORD_RESET_RATE": "3/2h"}
    assert messages_with("mfa.E006") == []


def deploy_messages_with(id_: str):
    return [m for m in run_checks(include_deployment_checks=True) if m.id == id_]


def test_deploy_check_w004_without_site_url_and_debug_off(settings):
    """Reset requests would be answered 202 and no email ever sent."""
    settings.DEBUG = False
    settings.MFA = {**settings.MFA, "SITE_URL": None}
    warnings = deploy_messages_with("mfa.W004")
    assert len(warnings) == 1 and isinstance(warnings[0], Warning)
    assert "SITE_URL" in warnings[0].msg and warnings[0].hint
    assert messages_with("mfa.W004") == []  # a deploy check only


def test_no_w004_with_site_url_or_in_debug(settings):
    settings.DEBUG = False
    settings.MFA = {**settings.MFA, "SITE_URL": "https://accounts.example.org"}
    assert deploy_messages_with("mfa.W004") == []
    settings.MFA = {**settings.MFA, "SITE_URL": None}
    settings.DEBUG = True
    assert deploy_messages_with("mfa.W004") == []
