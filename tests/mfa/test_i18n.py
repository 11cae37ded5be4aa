"""Translations: every user-facing string of mfa is in the shipped catalogue, which is current and
compiled, and switching the language changes what the API and the pages say (never the codes)."""

from __future__ import annotations

import ast
import gettext as python_gettext
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import translation

from tests.helpers import login
from tests.mfa.helpers import require_tool

PACKAGE = Path(__file__).resolve().parents[2] / "mfa"
CATALOGUE = PACKAGE / "locale" / "fr" / "LC_MESSAGES"


def shipped(lang: str = "fr") -> python_gettext.GNUTranslations:
    with (PACKAGE / "locale" / lang / "LC_MESSAGES" / "django.mo").open("rb") as f:
        return python_gettext.GNUTranslations(f)


def msgids(po: Path) -> set[str]:
    """The msgids (singular forms) of a .po file, with continuation lines joined."""
    ids, current, reading = set(), [], False
    for line in po.read_text(encoding="utf-8").splitlines():
        if line.startswith("msgid "):
            current, reading = [line[6:]], True
        elif reading and line.startswith('"'):
            current.append(line)
        else:
            if reading:
                text = "".join(ast.literal_eval(part.strip()) for part in current)
                if text:
                    ids.add(text)
            reading = False
    return ids


@pytest.mark.slow
def test_makemessages_finds_nothing_the_shipped_catalogue_lacks(tmp_path):
    """makemessages over a copy of the package runs clean, and every string it extracts has a
    French translation in the compiled catalogue (so the .po and the .mo are both current)."""
    require_tool("xgettext", "gettext")
    copy = tmp_path / "mfa"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}  # needs no settings
    result = subprocess.run(
        [sys.executable, "-m", "django", "makemessages", "-l", "fr", "--no-obsolete"],
        cwd=copy, capture_output=True, text=True, check=False, env=env,
    )
    assert result.returncode == 0 and "warning" not in result.stderr.lower(), result.stderr
    extracted = msgids(copy / "locale" / "fr" / "LC_MESSAGES" / "django.po")
    assert len(extracted) > 100
    assert extracted == msgids(CATALOGUE / "django.po"), "run makemessages -l fr in mfa/ and translate"
    catalogue = shipped()
    untranslated = sorted(m for m in extracted if not catalogue._catalog.get(m) and (m, 0) not in catalogue._catalog)
    assert untranslated == []


def test_the_compiled_catalogue_has_no_empty_translation():
    catalogue = shipped()
    assert len(catalogue._catalog) > 100
    assert all(value for key, value in catalogue._catalog.items() if key not in ("", ("", 0)))


@pytest.mark.django_db
def test_api_errors_follow_accept_language_and_codes_do_not(api, user):
    english = login(api, user.email, "wrong password!")
    french = api.post(reverse("mfa:auth-login"), {"email": user.email, "password": "wrong password!"},
                      format="json", HTTP_ACCEPT_LANGUAGE="fr")
    assert english.status_code == french.status_code == 401
    assert english.json()["code"] == french.json()["code"] == "invalid_credentials"
    with translation.override("fr"):
        expected = translation.gettext("Invalid %(username)s or password.") % {
            "username": translation.gettext("email")
        }
    assert french.json()["detail"] == expected
    assert expected != english.json()["detail"] == "Invalid email or password."
    assert "adresse e-mail" in expected


@pytest.mark.django_db
def test_field_errors_are_translated_too(api):
    r = api.post(reverse("mfa:mfa-login-verify"), {"mfa_token": "x", "code": "12a"}, format="json",
                 HTTP_ACCEPT_LANGUAGE="fr")
    assert r.status_code == 400
    with translation.override("fr"):
        assert r.json()["code"] == [translation.gettext(
            "Enter the 6-digit code from your authenticator app (six digits 0-9) or a recovery code "
            "(XXXXX-XXXXX-XXXXX)."
        )]


@pytest.mark.django_db
def test_a_page_renders_in_french(client):
    r = client.get(reverse("mfa_pages:login"), HTTP_ACCEPT_LANGUAGE="fr")
    page = r.content.decode()
    with translation.override("fr"):
        sign_in = translation.gettext("Sign in")
    assert sign_in != "Sign in"
    assert f"<h1>{sign_in}</h1>" in page and '<html lang="fr">' in page
    english = client.get(reverse("mfa_pages:login")).content.decode()
    assert "<h1>Sign in</h1>" in english
