"""The sign-up page (/account/signup/) and the links of the sign-in page (issue 12)."""

from __future__ import annotations

import unicodedata

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from mfa.models import AuthSession
from tests.helpers import PASSWORD, login

pytestmark = pytest.mark.django_db(transaction=True)

SIGNUP = "/account/signup/"


def sign_up(client: Client, email: str, password: str = PASSWORD, again: str | None = None, **extra):
    return client.post(SIGNUP, {"email": email, "password1": password, "password2": again or password}, **extra)


def test_the_page_is_at_its_documented_address_and_works_without_javascript():
    assert reverse("signup") == SIGNUP
    r = Client().get(SIGNUP)
    assert r.status_code == 200
    html = r.content.decode()
    for name in ('name="email"', 'name="password1"', 'name="password2"', "csrfmiddlewaretoken"):
        assert name in html
    assert 'autocomplete="new-password"' in html


def test_signing_up_creates_the_account_and_signs_in_with_a_session_row():
    client = Client()
    r = sign_up(client, "  New.Person@Example.com ")
    assert r.status_code == 302 and r["Location"] == reverse("mfa_pages:home")
    user = get_user_model().objects.get(email="new.person@example.com")
    assert client.session["_auth_user_id"] == str(user.pk)
    row = AuthSession.objects.get(user=user)
    assert row.amr == "pwd" and client.session["mfa.sid"] == str(row.pk)
    assert client.get(reverse("mfa_pages:home")).status_code == 200


@pytest.mark.parametrize(
    ("email", "password", "again", "field"),
    [
        ("taken@example.com", PASSWORD, None, "email"),
        ("fresh@example.com", "short", None, "password2"),
        ("fresh@example.com", "password123", None, "password2"),
        ("fresh@example.com", PASSWORD, PASSWORD + "x", "password2"),
        ("not an address", PASSWORD, None, "email"),
    ],
)
def test_bad_sign_ups_are_refused_with_the_reason_next_to_the_field(make_user, email, password, again, field):
    make_user("taken@example.com")
    client = Client()
    r = sign_up(client, email, password, again)
    assert r.status_code == 400
    assert r.context["form"].errors[field]
    assert "_auth_user_id" not in client.session
    assert get_user_model().objects.count() == 1


def test_the_password_is_stored_as_the_gate_reads_it(api):
    decomposed = unicodedata.normalize("NFD", "cr\u00e8me br\u00fbl\u00e9e 42")
    assert sign_up(Client(), "nfc@example.com", decomposed).status_code == 302
    user = get_user_model().objects.get(email="nfc@example.com")
    assert user.check_password(unicodedata.normalize("NFC", decomposed))
    assert login(api, "nfc@example.com", unicodedata.normalize("NFC", decomposed)).status_code == 200


def test_sign_ups_share_the_per_ip_register_limit(settings, api):
    settings.MFA = {**settings.MFA, "IP_RATES": {**settings.MFA["IP_RATES"], "register": "2/hour"}}
    ip = {"REMOTE_ADDR": "203.0.113.60"}
    assert sign_up(Client(), "one@example.com", **ip).status_code == 302
    r = api.post(reverse("register"), {"email": "two@example.com", "password": PASSWORD}, format="json", **ip)
    assert r.status_code == 201
    r = sign_up(Client(), "three@example.com", **ip)
    assert r.status_code == 429 and int(r["Retry-After"]) > 0
    assert not get_user_model().objects.filter(email="three@example.com").exists()


def test_a_signed_in_user_is_sent_to_the_account_page(user):
    client = Client()
    client.force_login(user)
    r = client.get(SIGNUP)
    assert r.status_code == 302 and r["Location"] == reverse("mfa_pages:home")


def test_the_sign_in_page_links_to_sign_up_and_offers_no_sign_out_to_a_stranger():
    html = Client().get(reverse("mfa_pages:login")).content.decode()
    assert f'href="{SIGNUP}"' in html
    assert "Sign out" not in html and reverse("mfa_pages:logout") not in html


def test_a_signed_in_user_sees_sign_out(user):
    client = Client()
    client.force_login(user)
    assert "Sign out" in client.get(reverse("mfa_pages:home")).content.decode()


def test_no_sign_up_link_when_the_site_has_no_sign_up(settings):
    settings.MFA = {**settings.MFA, "SIGNUP_URL": "no-such-url-name"}
    assert "Create an account" not in Client().get(reverse("mfa_pages:login")).content.decode()
