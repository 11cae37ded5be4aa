"""A portable index that becomes a TTL index on MongoDB.

django-mongodb-backend's ``Index`` has no ``expireAfterSeconds`` option. It builds each index
through ``get_pymongo_index_model()``, a hook it adds to ``models.Index`` (undocumented, so the
backend version is pinned); we add the TTL option there. SQL backends never call the hook and get a
plain index; rows there are removed by ``manage.py mfa_purge``.
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
