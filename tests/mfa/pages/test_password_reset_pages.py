"""The password reset pages with Django's test client: "Forgot your password?", the "check your
email" page, the link's page (the same rules as the API: mfa.password_reset), CSRF, limits, and
an unfinished MFA sign-in."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from mfa.models import AuthSession
from tests.helpers import PASSWORD, reset_link, wait_for_background

pytestmark = pytest.mark.django_db(transaction=True)

NEW = "a brand new passphrase"


def ask(browser: Client, email: str, **extra):
    return browser.post(reverse("mfa_pages:password_reset"), {"email": email}, **extra)


def emailed_link(browser: Client, email: str) -> str:
    r = ask(browser, email)
    assert r.status_code == 302 and r["Location"] == reverse("mfa_pages:password_reset_done")
    wait_for_background()
    message = [m for m in mail.outbox if m.to == [email]][-1]
    return urlsplit(reset_link(message.body)[0]).path


def test_login_page_links_to_forgot_password(client):
    page = client.get(reverse("mfa_pages:login")).content.decode()
    assert f'href="{reverse("mfa_pages:password_reset")}"' in page and "Forgot your password?" in page


def test_known_and_unknown_addresses_reach_the_same_page(client, user):
    known, unknown = ask(client, user.email), ask(client, "nobody@example.com")
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"] == reverse("mfa_pages:password_reset_done")
    assert "Check your email" in client.get(known["Location"]).content.decode()
    wait_for_background()
    assert [m.to for m in mail.outbox] == [[user.email]]


def test_the_forms_need_the_csrf_token(user):
    browser = Client(enforce_csrf_checks=True)
    assert ask(browser, user.email).status_code == 403
    wait_for_background()
    assert mail.outbox == []


def test_the_page_limit_is_the_apis(client, settings):
    settings.MFA = {**settings.MFA, "PASSWORD_RESET_RATE": "1/10m"}
    assert ask(client, "someone@example.com").status_code == 302
    api = client.post(reverse("mfa:password-reset"), {"email": "someone@example.com"},
                      content_type="application/json")
    assert api.status_code == 429  # one count for the page and the API
    r = ask(client, "someone@example.com")
    assert r.status_code == 429 and int(r["Retry-After"]) > 0
    assert "Too many password reset requests" in r.content.decode()


def test_the_link_sets_a_new_password_and_signs_nobody_in(client, user):
    path = emailed_link(client, user.email)
    page = client.get(path)
    assert page.status_code == 200 and page["Referrer-Policy"] == "same-origin"
    r = client.post(path, {"new_password1": NEW, "new_password2": NEW}, follow=True)
    assert r.redirect_chain[-1][0] == reverse("mfa_pages:login")
    assert "Your password has been changed" in r.content.decode()
    assert "_auth_user_id" not in client.session
    assert not AuthSession.objects.filter(user=user).exists()
    r = client.post(reverse("mfa_pages:login"), {"username": user.email, "password": NEW})
    assert r.status_code == 302
    assert client.get(reverse("mfa_pages:home")).status_code == 200


def test_a_used_or_wrong_link_shows_the_invalid_page_with_a_way_to_ask_again(client, user):
    path = emailed_link(client, user.email)
    assert client.post(path, {"new_password1": NEW, "new_password2": NEW}).status_code == 302
    for url in (path, path.replace("/reset/", "/reset/x").rstrip("/") + "y/"):
        for r in (client.get(url), client.post(url, {"new_password1": NEW, "new_password2": NEW})):
            assert r.status_code == 400
            page = r.content.decode()
            assert "This link does not work" in page
            assert f'href="{reverse("mfa_pages:password_reset")}"' in page


def test_mismatched_and_weak_passwords_are_form_errors_and_the_link_survives(client, user):
    path = emailed_link(client, user.email)
    r = client.post(path, {"new_password1": NEW, "new_password2": NEW + "!"})
    assert r.status_code == 400 and "The two passwords differ." in r.content.decode()
    r = client.post(path, {"new_password1": "password", "new_password2": "password"})
    assert r.status_code == 400 and "too common" in r.content.decode()
    assert client.post(path, {"new_password1": NEW, "new_password2": NEW}).status_code == 302


def test_reset_pages_work_during_an_unfinished_mfa_sign_in(client, user_with_mfa, clock):
    r = client.post(reverse("mfa_pages:login"), {"username": user_with_mfa.email, "password": PASSWORD})
    assert r.status_code == 302 and client.session.get("mfa.pending")
    assert client.get(reverse("mfa_pages:password_reset")).status_code == 200
    path = emailed_link(client, user_with_mfa.email)
    assert client.get(path).status_code == 200
    r = client.post(path, {"new_password1": NEW, "new_password2": NEW})
    assert r.status_code == 302 and r["Location"] == reverse("mfa_pages:login")
    assert not client.session.get("mfa.pending")
    # MFA stays on: the new password leads to the challenge, not into the account.
    r = client.post(reverse("mfa_pages:login"), {"username": user_with_mfa.email, "password": NEW})
    assert r.status_code == 302 and client.session.get("mfa.pending")
    assert "_auth_user_id" not in client.session
    r = client.get(reverse("mfa_pages:home"))
    assert r.status_code == 302 and r["Location"].startswith(reverse("mfa_pages:challenge"))


def test_a_signed_in_browser_is_signed_out_by_the_reset(client, user):
    client.post(reverse("mfa_pages:login"), {"username": user.email, "password": PASSWORD})
    assert client.get(reverse("mfa_pages:home")).status_code == 200
    path = emailed_link(client, user.email)
    assert client.post(path, {"new_password1": NEW, "new_password2": NEW}).status_code == 302
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("mfa_pages:home")).status_code == 302
