# A plain MongoDB index for the login lookup by email: the backend's unique index on the field
# is partial and unusable for it (see mfa.indexes.mongodb_lookup_indexes). Nothing on SQL.
from django.db import migrations

from mfa.indexes import mongodb_lookup_indexes


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0001_initial"),
    ]

    operations = [
        mongodb_lookup_indexes("accounts", {"User": ["email"]}),
    ]
