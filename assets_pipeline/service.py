"""The store and catalog the settings choose, opened together (shared by the CLI and the HTTP API)."""

from __future__ import annotations

from dataclasses import dataclass

from .catalog.repository import Catalog
from .settings import AssetSettings
from .store.base import AssetStore


@dataclass(slots=True)
class AssetService:
    settings: AssetSettings
    store: AssetStore
    catalog: Catalog

    @classmethod
    def open(cls, settings: AssetSettings) -> AssetService:
        from .catalog import open_catalog
        from .store import open_store

        store = open_store(settings)
        return cls(settings, store, open_catalog(settings))

    def close(self) -> None:
        self.catalog.close()
