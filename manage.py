#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "authsite.settings")
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except Exception as exc:
        from authsite.middleware import is_db_outage

        if not is_db_outage(exc):
            raise
        from django.conf import settings

        db = settings.DATABASES["default"]
        where = db.get("HOST") or db.get("NAME")
        where = str(where).split("@")[-1].split("?")[0]  # no credentials, no options
        cause = exc.__cause__ or exc
        print(
            f"manage.py: cannot reach the database {where!r} (DATABASE_URL): "
            f"{type(cause).__name__}. Is the server running?",
            file=sys.stderr,
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
