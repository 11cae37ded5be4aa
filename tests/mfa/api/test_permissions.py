"""The DRF permissions a host site puts on its own views: IsMFAComplete and RecentSecondFactor (step-up)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.helpers import login, mfa_login

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls("tests.mfa.api.urls_permissions")]

COMPLETE = "/host/mfa-complete"
STEP_UP = "/host/step-up"


def get(api, path: str, access: str | None):
    api.credentials(**({"HTTP_AUTHORIZATION": f"Bearer {access}"} if access else {}))
    r = api.get(path)
    api.credentials()
    return r


def test_password_only_token_of_a_user_with_mfa_is_refused(api, user_with_mfa):
    # user_with_mfa.access was issued by the password login before MFA was turned on: amr ["pwd"]
    r = get(api, COMPLETE, user_with_mfa.access)
    assert r.status_code == 403
    assert r.json()["code"] == "mfa_required"


def test_token_with_a_second_factor_passes(api, clock, user_with_mfa):
    pair = mfa_login(api, user_with_mfa, clock)
    assert get(api, COMPLETE, pair["access"]).status_code == 200


def test_recovery_code_login_counts_as_a_second_factor(api, clock, user_with_mfa):
    pair = mfa_login(api, user_with_mfa, clock, code=user_with_mfa.recovery_codes[0])
    assert get(api, COMPLETE, pair["access"]).status_code == 200


def test_user_without_mfa_passes_with_a_password_token(api, user):
    pair = login(api, user.email).json()
    assert get(api, COMPLETE, pair["access"]).status_code == 200


def test_anonymous_and_revoked_tokens_get_401(api, user):
    assert get(api, COMPLETE, None).status_code == 401
    pair = login(api, user.email).json()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
    assert api.post(reverse("mfa:auth-logout"), {}, format="json").status_code == 204
    assert get(api, COMPLETE, pair["access"]).status_code == 401
    assert get(api, STEP_UP, pair["access"]).status_code == 401


def test_step_up_passes_right_after_an_mfa_login(api, clock, user_with_mfa):
    pair = mfa_login(api, user_with_mfa, clock)
    assert get(api, STEP_UP, pair["access"]).status_code == 200
    clock.advance(299)
    assert get(api, STEP_UP, pair["access"]).status_code == 200


def test_step_up_expires_and_a_refresh_does_not_renew_it(api, clock, user_with_mfa):
    pair = mfa_login(api, user_with_mfa, clock)
    clock.advance(290)
    r = api.post(reverse("mfa:auth-refresh"), {"refresh": pair["refresh"]}, format="json")
    assert r.status_code == 200, r.content
    fresh = r.json()
    clock.advance(11)  # 301 s after the code was given; the new access token is 11 s old
    r = get(api, STEP_UP, fresh["access"])
    assert r.status_code == 403
    assert r.json()["code"] == "reauthentication_required"
    assert get(api, COMPLETE, fresh["access"]).status_code == 200  # still a full MFA session


def test_step_up_refuses_a_password_only_token(api, user):
    pair = login(api, user.email).json()
    assert get(api, STEP_UP, pair["access"]).status_code == 403
