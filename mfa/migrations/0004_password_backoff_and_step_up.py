# Issue 12: the database-kept password backoff (one gate for every door), the session's own
# second-factor time (step-up; sessions whose login gave a second factor get it backfilled), and
# the new event types and revoke reasons (choices only, no SQL).

import django.utils.timezone
import mfa.indexes
import uuid
from django.db import migrations, models
from django.db.models import F

from mfa.indexes import mongodb_lookup_indexes


def backfill_second_factor_at(apps, schema_editor):
    """A session whose login gave a second factor ("otp" in its amr) gave it at its auth_time."""
    AuthSession = apps.get_model("mfa", "AuthSession")
    AuthSession.objects.filter(amr__contains="otp", second_factor_at=None).update(
        second_factor_at=F("auth_time")
    )


class Migration(migrations.Migration):

    dependencies = [
        ('mfa', '0003_labels_and_choices'),
    ]

    operations = [
        migrations.AddField(
            model_name='authsession',
            name='second_factor_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='second factor given at'),
        ),
        migrations.AlterField(
            model_name='authsession',
            name='revoke_reason',
            field=models.CharField(blank=True, choices=[('logout', 'Signed out'), ('logout_all', 'Signed out everywhere'), ('revoked', 'Ended by the user'), ('admin', 'Revoked in the admin'), ('admin_command', 'Ended by a management command'), ('refresh_reuse', 'Refresh token reused'), ('password_changed', 'Password changed'), ('password_reset', 'Password reset'), ('user_deactivated', 'Account deactivated'), ('mfa_enabled', 'Two-factor authentication turned on'), ('mfa_disabled', 'Two-factor authentication turned off'), ('mfa_reset', 'Two-factor authentication reset by an admin')], default='', max_length=32, verbose_name='revoke reason'),
        ),
        migrations.AlterField(
            model_name='securityevent',
            name='type',
            field=models.CharField(choices=[('login', 'Signed in'), ('login_failed', 'Failed sign-in'), ('login_locked', 'Sign-in backed off'), ('mfa_enabled', 'Two-factor authentication turned on'), ('mfa_disabled', 'Two-factor authentication turned off'), ('mfa_failed', 'Wrong code'), ('mfa_locked', 'Code entry locked'), ('reauthenticated', 'Identity confirmed again'), ('recovery_code_used', 'Recovery code used'), ('recovery_codes_regenerated', 'New recovery codes'), ('refresh_reuse', 'Refresh token reused'), ('session_revoked', 'Session ended'), ('sessions_revoked', 'Sessions ended'), ('mfa_secret_unreadable', 'Authenticator secret unreadable'), ('password_changed', 'Password changed'), ('password_reset_requested', 'Password reset requested'), ('password_reset', 'Password reset'), ('password_reset_failed', 'Invalid password reset link')], max_length=40, verbose_name='type'),
        ),
        migrations.CreateModel(
            name='PasswordBackoff',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('key', models.CharField(editable=False, max_length=64, unique=True)),
                ('failures', models.PositiveIntegerField(default=0, verbose_name='consecutive failures')),
                ('started_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='first failure')),
                ('locked_until', models.DateTimeField(blank=True, null=True, verbose_name='locked until')),
                ('expires_at', models.DateTimeField(verbose_name='expires')),
            ],
            options={
                'verbose_name': 'password backoff',
                'verbose_name_plural': 'password backoffs',
                'indexes': [mfa.indexes.ExpiringIndex(expire_after_seconds=0, fields=['expires_at'], name='mfa_pwbackoff_ttl')],
            },
        ),
        migrations.RunPython(backfill_second_factor_at, migrations.RunPython.noop),
        # backoff by key (every password check)
        mongodb_lookup_indexes("mfa", {"PasswordBackoff": ["id", "key"]}),
    ]
