"""The store and catalog the settings choose, opened together (shared by the CLI and the HTTP API)."""

from __future__ import annotations

from dataclasses import dataclass

from .catalog.repository import Catalog
from .settings import AssetSettings
from .store.base import AssetStore


@dataclass(slots=True)
class AssetService:
    """The settings, asset store and catalog that the CLI, the API and publishing work with."""
    settings: AssetSettings
    store: AssetStore
    catalog: Catalog

    @classmethod
    def open(cls, settings: AssetSettings) -> AssetService:
        """Open the store and the catalog the settings name; returns the service."""
        from . import nodetools
        from .catalog import open_catalog
        from .store import open_store

        nodetools.configure(settings.node_tools)  # publishing simplifies and may validate
        store = open_store(settings)
        return cls(settings, store, open_catalog(settings))

    def close(self) -> None:
        """Close the catalog's database connections."""
        self.catalog.close()
