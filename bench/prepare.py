"""Benchmark fixtures, made inside the site's environment (same DATABASE_URL and keys as gunicorn).

``python -m bench.prepare make OUT.json``: bulk-creates users (one precomputed Argon2id hash), TOTP
devices with known secrets (encrypted with mfa.crypto, as the app stores them), sessions, and the
tokens the load client needs, without a single HTTP request or password hash per user:

- ``mfa``: [mfa_token, TOTP secret] of distinct MFA users, each used once (so the per-device replay
  check, one login per user and time step, never refuses a benchmark request);
- ``refresh``: one refresh token per session, each exchanged once;
- ``me_access`` / ``setup_access``: access tokens of live sessions (MFA users / users without MFA);
- ``login_emails``: users without MFA; ``user_ids``: rows for the floor view.

``python -m bench.prepare hash EMAIL``: print the stored hash's algorithm and parameters.
``python -m bench.prepare explain``: the query plans of the auth path's lookups (index check).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import django

PASSWORD = "bench password, long enough"  # noqa: S105 - a benchmark fixture
DOMAIN = "bench.example"


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "authsite.settings")
    django.setup()


def make(out: Path, *, mfa_users: int, plain_users: int, refresh_sessions: int) -> None:
    import pyotp
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import PBKDF2PasswordHasher, make_password
    from django.db import connection
    from django.utils import timezone

    from mfa import crypto, factors, tokens
    from mfa.conf import mfa_settings
    from mfa.models import AuthSession, MFAAccount, TOTPDevice

    started = time.perf_counter()
    user_model = get_user_model()
    if connection.vendor == "sqlite":
        # Several gunicorn processes write to one file: WAL lets readers run beside the writer
        # (the setting is stored in the database file).
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode=WAL")
    password_hash = make_password(PASSWORD)  # the site's first hasher: Argon2id as configured
    now = timezone.now()

    def new_users(prefix: str, count: int) -> list:
        emails = [f"{prefix}{i}@{DOMAIN}" for i in range(count)]
        user_model.objects.bulk_create(
            [user_model(email=e, password=password_hash, date_joined=now) for e in emails], batch_size=1000
        )
        # Re-read: the primary key (ObjectId or int) comes from the database.
        made = user_model.objects.filter(email__endswith=f"@{DOMAIN}", email__startswith=prefix)
        by_email = {u.email: u for u in made}
        return [by_email[e] for e in emails]

    mfa_people = new_users("mfa-", mfa_users)
    plain = new_users("plain-", plain_users)

    secrets = [pyotp.random_base32(length=32) for _ in mfa_people]
    step = int(now.timestamp()) // 30
    TOTPDevice.objects.bulk_create(
        [
            TOTPDevice(
                user=u, encrypted_secret=crypto.encrypt(s), confirmed=True, setup_at=now,
                created_at=now, confirmed_at=now,
            )
            for u, s in zip(mfa_people, secrets, strict=True)
        ],
        batch_size=1000,
    )
    # The account's state (lockout, last TOTP step, recovery-code count) is on MFAAccount.
    MFAAccount.objects.bulk_create(
        [
            MFAAccount(
                user=u, user_handle=factors.new_user_handle(), totp_last_step=step - 10,
                recovery_codes_left=10,
            )
            for u in mfa_people
        ],
        batch_size=1000,
    )

    def sessions_for(users: list, count: int, amr: str) -> list:
        rows = [
            AuthSession(
                user=users[i % len(users)], created_at=now, last_used_at=now,
                expires_at=now + mfa_settings.SESSION_ABSOLUTE_LIFETIME, ip="127.0.0.1",
                user_agent="bench", amr=amr, auth_time=now, refresh_jti=tokens.new_jti(),
            )
            for i in range(count)
        ]
        AuthSession.objects.bulk_create(rows, batch_size=1000)
        return rows

    def pairs(rows: list) -> list[tuple[str, str]]:
        return [
            tokens.make_pair(
                s.user, sid=str(s.pk), amr=s.amr_list, auth_time=s.auth_time,
                refresh_jti=s.refresh_jti, session_expires_at=s.expires_at,
            )
            for s in rows
        ]

    me_rows = sessions_for(mfa_people, min(len(mfa_people), 1000), "pwd otp mfa")
    setup_rows = sessions_for(plain, len(plain), "pwd")
    refresh_rows = sessions_for(plain, refresh_sessions, "pwd")

    # A user whose hash came from a site on Django's default PBKDF2 (1,000,000 iterations).
    pbkdf2_email = f"pbkdf2-user@{DOMAIN}"
    user_model.objects.create(
        email=pbkdf2_email, password=PBKDF2PasswordHasher().encode(PASSWORD, "benchsalt1234567")
    )

    data = {
        "password": PASSWORD,
        "vendor": connection.vendor,
        "user_ids": [str(u.pk) for u in plain[:500]],
        "login_emails": [u.email for u in plain],
        "mfa": [[tokens.make_mfa_token(u), s] for u, s in zip(mfa_people, secrets, strict=True)],
        "me_access": [a for a, _ in pairs(me_rows)],
        "setup_access": [a for a, _ in pairs(setup_rows)],
        "refresh": [r for _, r in pairs(refresh_rows)],
        "pbkdf2_email": pbkdf2_email,
        "password_hash_prefix": password_hash.rsplit("$", 2)[0],
        "seconds": round(time.perf_counter() - started, 1),
    }
    out.write_text(json.dumps(data))
    print(
        f"prepared {len(mfa_people)} MFA users, {len(plain) + 1} users without MFA, "
        f"{len(me_rows) + len(setup_rows) + len(refresh_rows)} sessions in {data['seconds']} s"
    )


def show_hash(email: str) -> None:
    from django.contrib.auth import get_user_model

    stored = get_user_model().objects.get(email=email).password
    print(stored.rsplit("$", 2)[0])


def explain() -> None:
    """Print the plan of every lookup the auth path makes, so a missing index shows."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.db.models import Exists

    from mfa.factors import USER_ROWS
    from mfa.models import AuthSession, MFAAccount, PasswordBackoff, TOTPDevice
    from mfa.password_lockout import key_for

    user_model = get_user_model()
    session = AuthSession.objects.select_related("user").first()
    device = TOTPDevice.objects.filter(confirmed=True).first()
    assert session is not None and device is not None, "run make first"
    lookups = {
        "authenticate: session+user+MFA rows by session pk": AuthSession.objects.select_related(
            "user", "user__mfa_device", "user__mfa_account"
        ).filter(pk=session.pk),
        "login: password backoff row by identifier key": PasswordBackoff.objects.filter(
            key=key_for(session.user.email)
        ),
        "login: user and MFA rows by email": user_model.objects.select_related(*USER_ROWS).filter(
            email=session.user.email
        ),
        "mfa/login/verify: user+MFA rows+used mfa_jti": user_model.objects.select_related(
            "mfa_account", "mfa_device"
        ).annotate(mfa_token_used=Exists(AuthSession.objects.filter(mfa_jti="x" * 32)))
        .filter(pk=device.user_id),
        "mfa/login/verify: used mfa_token id": AuthSession.objects.filter(mfa_jti="x" * 32),
        "mfa/login/verify: claim and step CAS, account by pk": MFAAccount.objects.filter(
            pk=MFAAccount.objects.get(user_id=device.user_id).pk, totp_last_step__lt=1
        ),
        "refresh CAS: session by pk+jti": AuthSession.objects.filter(
            pk=session.pk, refresh_jti=session.refresh_jti, revoked_at=None
        ),
        "sessions list: live sessions of a user": AuthSession.objects.filter(
            user=session.user, revoked_at=None
        ).order_by("-last_used_at"),
    }
    for name, qs in lookups.items():
        plan = qs.explain()
        print(f"--- {name}")
        print(_summarise(plan) if connection.vendor == "mongodb" else plan)


def _summarise(plan: str) -> str:
    """The winning plan of a MongoDB explain document, one line: its stages down to the scan."""
    import re

    stages = re.findall(r'"stage":\s*"(\w+)"', plan)
    if not stages:
        return plan[:2000]
    scan = next((i for i, s in enumerate(stages) if s.endswith("SCAN")), len(stages) - 1)
    index = re.search(r'"indexName":\s*"([^"]+)"', plan)
    used = f" on {index.group(1)}" if index and stages[scan] == "IXSCAN" else ""
    return " > ".join(stages[: scan + 1]) + used


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.prepare")
    sub = parser.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("out", type=Path)
    m.add_argument("--mfa-users", type=int, default=3000)
    m.add_argument("--plain-users", type=int, default=500)
    m.add_argument("--refresh-sessions", type=int, default=8000)
    h = sub.add_parser("hash")
    h.add_argument("email")
    sub.add_parser("explain")
    args = parser.parse_args(argv)
    _setup()
    if args.cmd == "make":
        make(args.out, mfa_users=args.mfa_users, plain_users=args.plain_users,
             refresh_sessions=args.refresh_sessions)
    elif args.cmd == "hash":
        show_hash(args.email)
    else:
        explain()


if __name__ == "__main__":
    sys.exit(main())
