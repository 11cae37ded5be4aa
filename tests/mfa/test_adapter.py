"""The adapter is the host's extension point: messages, who must use MFA, the issuer, notifications."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from mfa.adapter import DefaultMFAAdapter, get_adapter
from tests.helpers import PASSWORD, bearer, login

pytestmark = pytest.mark.django_db


class PoliteAdapter(DefaultMFAAdapter):
    error_messages = {**DefaultMFAAdapter.error_messages, "invalid_credentials": "Those details do not match."}


class EveryoneMustEnrol(DefaultMFAAdapter):
    def is_mfa_required(self, user):
        return True


SENT: list[tuple[str, str, str]] = []


class RecordingAdapter(DefaultMFAAdapter):
    def send_notification(self, user, address, subject, body):
        SENT.append((address, subject, body))


def use(settings, adapter: type) -> None:
    settings.MFA = {**settings.MFA, "ADAPTER": f"{__name__}.{adapter.__name__}"}


def test_a_host_adapter_rewords_an_api_error(api, user, settings):
    use(settings, PoliteAdapter)
    r = login(api, user.email, "wrong password!")
    assert r.status_code == 401
    assert r.json() == {"detail": "Those details do not match.", "code": "invalid_credentials"}


def test_the_credentials_message_names_the_login_field_of_the_user_model(api, user):
    assert login(api, user.email, "wrong").json()["detail"] == "Invalid email or password."


def test_the_credentials_message_for_a_username_model(monkeypatch):
    from django.contrib.auth.models import User

    monkeypatch.setattr("django.contrib.auth.get_user_model", lambda: User)
    assert get_adapter().get_error_message("invalid_credentials") == "Invalid username or password."


def test_a_host_adapter_decides_who_must_use_mfa(api, user, settings):
    """MFA["REQUIRED"] is unset here; the adapter alone requires MFA of everybody."""
    use(settings, EveryoneMustEnrol)
    bearer(api, login(api, user.email).json()["access"])
    r = api.get(reverse("mfa:sessions-list"))
    assert r.status_code == 403 and r.json()["code"] == "mfa_enrollment_required"
    assert api.get(reverse("mfa:auth-me")).status_code == 200  # enrolment stays reachable


def test_issuer_defaults_to_the_site_name_not_authsite(settings, user):
    settings.MFA = {k: v for k, v in settings.MFA.items() if k != "ISSUER"}
    assert settings.ROOT_URLCONF == "authsite.urls"
    assert get_adapter().get_issuer(user) == "authsite"


def test_issuer_is_the_current_sites_name_with_the_sites_framework(settings, user, monkeypatch):
    """With django.contrib.sites installed, the current Site's name. (The framework is stood in
    for: installing an app in one test would leave its models in the app registry.)"""
    import sys
    import types

    settings.MFA = {k: v for k, v in settings.MFA.items() if k != "ISSUER"}

    class Site:
        class DoesNotExist(Exception):
            pass

        class objects:  # noqa: N801 - stands in for the manager
            @staticmethod
            def get_current():
                return types.SimpleNamespace(name="Example Shop")

    module = types.ModuleType("django.contrib.sites.models")
    module.Site = Site
    monkeypatch.setitem(sys.modules, "django.contrib.sites.models", module)
    from django.apps import apps

    real = apps.is_installed
    monkeypatch.setattr(apps, "is_installed", lambda name: name == "django.contrib.sites" or real(name))
    assert get_adapter().get_issuer(user) == "Example Shop"


def test_issuer_setting_wins(settings, user):
    settings.MFA = {**settings.MFA, "ISSUER": "ACME Co"}
    assert get_adapter().get_issuer(user) == "ACME Co"


def test_a_host_adapter_sends_notifications_its_own_way(api, settings, user_with_mfa, clock):
    """Disabling MFA notifies the owner through the adapter's send_notification, not by email."""
    use(settings, RecordingAdapter)
    SENT.clear()
    mail.outbox.clear()
    bearer(api, user_with_mfa.access)
    r = api.post(
        reverse("mfa:mfa-disable"),
        {"password": PASSWORD, "code": user_with_mfa.recovery_codes[0]},
        format="json",
    )
    assert r.status_code == 200, r.content
    assert [(a, s) for a, s, _ in SENT] == [(user_with_mfa.email, "Two-factor authentication was turned off")]
    assert user_with_mfa.email in SENT[0][2]
    assert mail.outbox == []


def test_the_default_adapter_emails_notifications(api, user_with_mfa, clock):
    mail.outbox.clear()
    bearer(api, user_with_mfa.access)
    api.post(reverse("mfa:mfa-disable"), {"password": PASSWORD, "code": user_with_mfa.recovery_codes[0]},
             format="json")
    assert [m.subject for m in mail.outbox] == ["Two-factor authentication was turned off"]
    assert mail.outbox[0].to == [user_with_mfa.email]
