"""Query parameters are validated like bodies (found by the schema fuzzing): a malformed
``page_size`` of mfa/events and an unknown ``format`` of mfa/setup are 400 field errors, never
silently replaced by a default, and never a 500 (SECURITY-CHECKS H; ASVS 2.2.1)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.helpers import bearer, login

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def signed_in(api, user):
    return bearer(api, login(api, user.email).json()["access"])


@pytest.mark.parametrize("value", ["abc", "0", "000", "-1", "", "1.5", "\u0661", "null"])
def test_malformed_page_size_is_a_400_field_error(signed_in, value):
    r = signed_in.get(reverse("mfa:mfa-events"), {"page_size": value})
    assert r.status_code == 400, r.content
    assert list(r.json()) == ["page_size"]


@pytest.mark.parametrize(("value", "expected"), [("1", 1), ("100", 1), ("9" * 5000, 1)])
def test_whole_page_sizes_work_and_huge_ones_never_crash(signed_in, value, expected):
    r = signed_in.get(reverse("mfa:mfa-events"), {"page_size": value})
    assert r.status_code == 200, r.content
    assert len(r.json()["results"]) == expected  # the login is the only event


def test_unknown_qr_format_is_400_and_keeps_the_pending_secret(signed_in):
    first = signed_in.post(reverse("mfa:mfa-setup"), {}, format="json").json()["secret"]
    r = signed_in.post(reverse("mfa:mfa-setup") + "?format=gif", {}, format="json")
    assert r.status_code == 400 and list(r.json()) == ["format"], r.content
    from mfa.methods import totp
    from mfa.models import TOTPDevice

    assert totp.device_secret(TOTPDevice.objects.get()) == first  # nothing replaced
    r = signed_in.post(reverse("mfa:mfa-setup") + "?format=png", {}, format="json")
    assert r.status_code == 200 and r.json()["qr_code"].startswith("data:image/png")
