# Plain MongoDB indexes for the equality lookups on unique fields that every request makes:
# the backend's own unique indexes are partial and unusable for them (see mfa.indexes).
from django.db import migrations

from mfa.indexes import mongodb_lookup_indexes


class Migration(migrations.Migration):

    dependencies = [
        ("mfa", "0001_initial"),
    ]

    operations = [
        mongodb_lookup_indexes(
            "mfa",
            {
                # session by id (every authenticated request, refresh, logout); used mfa_token ids
                "AuthSession": ["id", "mfa_jti"],
                # device by id (step and failure counters) and by user (login, me, setup)
                "TOTPDevice": ["id", "user"],
                # recovery code by id (single-use write)
                "RecoveryCode": ["id"],
            },
        ),
    ]
