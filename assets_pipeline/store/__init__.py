"""Content-addressed object stores: a local folder (default) or an S3-compatible bucket."""

from __future__ import annotations

from ..settings import AssetSettings
from .base import CACHE_IMMUTABLE, AssetStore, StoredObject, file_sha256, object_key


def open_store(settings: AssetSettings) -> AssetStore:
    """The store the settings choose (``PHYGITAL_ASSETS_STORE=local|s3``)."""
    if settings.store == "s3":
        from .s3 import S3Store

        return S3Store.from_settings(settings)
    from .local import LocalStore

    return LocalStore(settings.store_path)


__all__ = ["CACHE_IMMUTABLE", "AssetStore", "StoredObject", "file_sha256", "object_key", "open_store"]
