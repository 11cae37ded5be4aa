"""What every page shares (test client): the stylesheet, the site's name in the header, a title,
errors next to their field and named by it, codes never written back after an error, the
challenge in French, device names and times people read, and element templates a host overrides
one at a time."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from mfa.templatetags.mfa_tags import mfa_device, mfa_time
from mfa.trusted_devices import device_name
from tests.helpers import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

HEADLESS = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "HeadlessChrome/140.0.0.0 Safari/537.36")


@pytest.fixture
def at_challenge(user_with_mfa) -> Client:
    browser = Client()
    r = browser.post(reverse("mfa_pages:login"), {"username": user_with_mfa.email, "password": PASSWORD})
    assert r.status_code == 302  # the middleware sends every page to the challenge from here
    return browser


def test_the_stylesheet_is_a_static_file_of_the_app_linked_from_every_page(client):
    assert finders.find("mfa/mfa.css")
    page = client.get(reverse("mfa_pages:login")).content.decode()
    assert '<link rel="stylesheet" href="/static/mfa/mfa.css">' in page


def test_the_header_names_the_site_and_the_title_names_the_page(client, settings):
    from mfa.adapter import get_adapter

    name = get_adapter().get_site_name()
    page = client.get(reverse("mfa_pages:password_reset")).content.decode()
    assert re.search(r'<header class="mfa-header">.*?' + re.escape(name) + ".*?</header>", page, re.DOTALL)
    assert f"<title>Forgot your password? · {name}</title>" in page
    assert "Sign out" not in page  # nobody is signed in


def test_a_wrong_code_is_announced_next_to_the_field_and_not_written_back(at_challenge, clock):
    r = at_challenge.post(reverse("mfa_pages:challenge"), {"code": "123456"})
    page = r.content.decode()
    assert r.status_code in (400, 401)
    field = re.search(r"<input[^>]*name=\"code\"[^>]*>", page).group(0)
    assert "value=" not in field and "123456" not in page
    assert 'aria-describedby="id_code-errors"' in field and 'aria-invalid="true"' in field
    assert re.search(r'<div class="errors" id="id_code-errors" role="alert">', page)


def test_the_challenge_page_is_in_french_for_a_french_browser(at_challenge):
    page = at_challenge.get(reverse("mfa_pages:challenge"), HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert '<html lang="fr">' in page
    assert "Authentification à deux facteurs" in page and "Vérifier" in page


def test_signup_errors_sit_next_to_their_field(client):
    r = client.post(reverse("signup"), {"email": "new@example.com", "password1": PASSWORD, "password2": "x"})
    page = r.content.decode()
    assert r.status_code == 400
    assert 'id="id_password2-errors" role="alert"' in page
    assert re.search(r'<input[^>]*aria-describedby="id_password2-errors[^"]*"[^>]*name="password2"'
                     r'|<input[^>]*name="password2"[^>]*aria-describedby="id_password2-errors', page)


@pytest.mark.parametrize(("agent", "name"), [
    (HEADLESS, "Chrome on Linux"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0; rv:140.0) Gecko/20100101 Firefox/140.0", "Firefox on macOS"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.0 Mobile/15E148 Safari/604.1", "Safari on iOS"),
    ("", "Unknown device"),
])
def test_devices_are_named_by_browser_and_system(agent, name):
    assert device_name(agent) == name == mfa_device(agent)


def test_times_name_their_zone_and_say_how_long_ago(settings):
    settings.TIME_ZONE = "UTC"
    two_hours_ago = timezone.now() - timedelta(hours=2, minutes=1)
    shown = mfa_time(two_hours_ago)
    assert f"{timezone.localtime(two_hours_ago):%Y-%m-%d %H:%M} UTC" in shown
    assert "(2\xa0hours ago)" in shown
    assert mfa_time(None) == ""


def test_a_host_overrides_one_element_template(at_challenge, settings, tmp_path):
    (tmp_path / "mfa" / "elements").mkdir(parents=True)
    (tmp_path / "mfa" / "elements" / "button.html").write_text('<button class="host-button">{{ label }}</button>')
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]
    page = at_challenge.get(reverse("mfa_pages:challenge")).content.decode()
    assert '<button class="host-button">Verify</button>' in page
    assert 'name="code"' in page  # the rest of the page is mfa's own
