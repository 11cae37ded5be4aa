"""Migrations match the models and system checks pass on the current backend; an unreachable
MongoDB makes ``migrate`` fail fast."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db(transaction=True)
def test_makemigrations_check_reports_no_changes():
    out = StringIO()

    call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=StringIO())  # exits 1 on changes

    assert "No changes detected" in out.getvalue(), (connection.vendor, out.getvalue())


@pytest.mark.django_db(transaction=True)
def test_system_checks_pass_at_warning_level_including_database_checks():
    out = StringIO()

    call_command("check", fail_level="WARNING", databases=["default"], stdout=out, stderr=StringIO())

    assert "no issues" in out.getvalue(), out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_deploy_checks_have_no_errors():
    call_command("check", deploy=True, fail_level="ERROR", stdout=StringIO(), stderr=StringIO())


def test_migrate_against_unreachable_mongodb_fails_fast():
    environ = {
        k: v for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "JWT_SIGNING_KEY", "DATABASE_URL", "DJANGO_SETTINGS_MODULE",
                     "AUTHSITE_TEST_DB_FROM_FIXTURE", "REDIS_URL", "CACHE_DIR"}
    }
    environ.update(
        DEBUG="1",
        DJANGO_SETTINGS_MODULE="authsite.settings",
        DATABASE_URL="mongodb://127.0.0.1:1/authsite_unreachable?directConnection=true",
    )
    started = time.monotonic()

    proc = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=environ,
        capture_output=True, text=True, timeout=60,
    )

    elapsed = time.monotonic() - started
    assert proc.returncode != 0, proc.stdout
    assert elapsed < 12, f"migrate took {elapsed:.1f} s to give up"
    assert "127.0.0.1:1" in proc.stderr or "ServerSelectionTimeout" in proc.stderr, proc.stderr[-2000:]
