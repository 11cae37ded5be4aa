"""MongoDB index helpers: a portable index that becomes a TTL index, and lookup indexes.

django-mongodb-backend's ``Index`` has no ``expireAfterSeconds`` option. It builds each index
through ``get_pymongo_index_model()``, a hook it adds to ``models.Index`` (undocumented, so the
backend version is pinned); we add the TTL option there. SQL backends never call the hook and get a
plain index; rows there are removed by ``manage.py mfa_purge``.

``mongodb_lookup_indexes()`` is a migration operation for the unique fields that equality lookups
use (see its docstring).
"""

from __future__ import annotations

from typing import Any

from django.db import models


class ExpiringIndex(models.Index):
    """An index on one datetime field; MongoDB deletes documents once that time has passed."""

    def __init__(self, *args: Any, expire_after_seconds: int = 0, **kwargs: Any) -> None:
        self.expire_after_seconds = expire_after_seconds
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> tuple[str, tuple, dict]:
        path, args, kwargs = super().deconstruct()
        kwargs["expire_after_seconds"] = self.expire_after_seconds
        return path, args, kwargs

    def get_pymongo_index_model(self, *args: Any, **kwargs: Any) -> Any:  # MongoDB only
        index_model = super().get_pymongo_index_model(*args, **kwargs)  # type: ignore[misc]
        if index_model is not None:
            index_model.document["expireAfterSeconds"] = self.expire_after_seconds
        return index_model


def mongodb_lookup_indexes(app_label: str, fields: dict[str, list[str]]) -> Any:
    """A migration operation: on MongoDB, a plain index on each listed unique field that an
    equality lookup uses (``{model name: [field names]}``); nothing on SQL backends, where the
    unique index already serves the lookup.

    django-mongodb-backend 5.2.4 builds a unique field's index as a *partial* index filtered on
    ``{field: {"$type": ...}}`` (so that several NULLs are allowed). A query ``{field: value}``
    does not state that filter, so MongoDB cannot use the index and scans the whole collection:
    backend issue INTPYTHON-855, fixed after 5.2.4 by adding the type condition to lookups.
    """
    from django.db import migrations

    def indexes(apps: Any) -> Any:
        for model_name, field_names in fields.items():
            model = apps.get_model(app_label, model_name)
            for field_name in field_names:
                column = model._meta.get_field(field_name).column
                yield model._meta.db_table, column, f"{model._meta.db_table}_{column}_lookup"

    def forwards(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor != "mongodb":
            return
        for table, column, name in indexes(apps):
            schema_editor.connection.get_collection(table).create_index([(column, 1)], name=name)

    def backwards(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor != "mongodb":
            return
        for table, _column, name in indexes(apps):
            schema_editor.connection.get_collection(table).drop_index(name)

    return migrations.RunPython(forwards, backwards)
