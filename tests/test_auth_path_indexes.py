"""Every lookup the auth path makes is served by an index, on the current backend (the plan the
database reports for it: SQL ``EXPLAIN QUERY PLAN`` / ``EXPLAIN``, MongoDB ``explain``).

On MongoDB this covers the lookup indexes of mfa 0002 and accounts 0002 (the backend's own unique
indexes are partial and unusable for equality lookups) and, on SecantusDB, the planning done by
authsite.devdb_planner (``$and`` filters, ``$match`` ahead of ``select_related``'s joins).
"""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.db.models import Exists

from mfa.factors import USER_ROWS
from mfa.models import AuthSession, MFAAccount, PasswordBackoff, TOTPDevice, WebAuthnCredential
from mfa.password_lockout import key_for

pytestmark = pytest.mark.django_db(transaction=True)


def uses_index(plan: str) -> bool:
    if connection.vendor == "mongodb":
        # The base collection's winning plan (the first one reported).
        stage = re.search(r'"winningPlan":\s*\{.*?"stage":\s*"(\w+)"', plan, re.S)
        return stage is not None and stage.group(1) in {"FETCH", "IXSCAN", "IDHACK", "EXPRESS_IXSCAN"}
    if connection.vendor == "sqlite":
        first = plan.splitlines()[0] if plan else ""
        return "SEARCH" in first and ("INDEX" in first or "PRIMARY KEY" in first)
    return "Index" in plan and "Seq Scan" not in plan.split("\n")[0]


@pytest.fixture
def session(make_user):
    from django.utils import timezone

    user = make_user("indexed@example.com")
    now = timezone.now()
    TOTPDevice.objects.create(user=user, encrypted_secret="x", confirmed=True)
    MFAAccount.objects.create(user=user, user_handle="h" * 86)
    WebAuthnCredential.objects.create(
        user=user, credential_id="c", credential_id_hash="a" * 64, public_key="k", name="key"
    )
    return AuthSession.objects.create(
        user=user, expires_at=now, amr="pwd", refresh_jti="r" * 32, mfa_jti="m" * 32
    )


def lookups(session):
    return {
        "session, user and device by session id (every authenticated request)":
            AuthSession.objects.select_related("user", "user__mfa_device", "user__mfa_account")
            .filter(pk=session.pk)[:1],
        "user and MFA rows by email (login)": type(session.user).objects.select_related(*USER_ROWS)
        .filter(email=session.user.email),
        "password backoff row by identifier key (every password check)": PasswordBackoff.objects.filter(
            key=key_for(session.user.email)
        ),
        "confirmed device of a user (loaded alone)": TOTPDevice.objects.filter(user=session.user, confirmed=True),
        "user, MFA rows and used mfa_token (mfa/login/verify)": type(session.user).objects
        .select_related("mfa_account", "mfa_device")
        .annotate(mfa_token_used=Exists(AuthSession.objects.filter(mfa_jti="m" * 32)))
        .filter(pk=session.user_id)[:1],
        "used mfa_token id": AuthSession.objects.filter(mfa_jti="m" * 32),
        "refresh rotation's compare-and-set": AuthSession.objects.filter(
            pk=session.pk, refresh_jti="r" * 32, revoked_at=None
        ),
        "account step compare-and-set": MFAAccount.objects.filter(
            pk=session.user.mfa_account.pk, totp_last_step__lt=5
        ),
        "account lockout claim": MFAAccount.objects.filter(pk=session.user.mfa_account.pk, failure_count=0),
        "security key by credential id hash": WebAuthnCredential.objects.filter(credential_id_hash="a" * 64),
        "live sessions of a user (sessions list, logout/all)": AuthSession.objects.filter(
            user=session.user, revoked_at=None
        ),
    }


NAMES = [
    "session, user and device by session id (every authenticated request)",
    "user and MFA rows by email (login)",
    "password backoff row by identifier key (every password check)",
    "confirmed device of a user (loaded alone)",
    "user, MFA rows and used mfa_token (mfa/login/verify)",
    "used mfa_token id",
    "refresh rotation's compare-and-set",
    "account step compare-and-set",
    "account lockout claim",
    "security key by credential id hash",
    "live sessions of a user (sessions list, logout/all)",
]


@pytest.mark.parametrize("name", NAMES)
def test_auth_path_lookup_uses_an_index(session, name):
    plan = lookups(session)[name].explain()

    assert uses_index(plan), f"{connection.vendor}: {name}\n{plan[:3000]}"
