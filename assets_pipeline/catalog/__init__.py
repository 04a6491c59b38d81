"""The product catalog: SQLAlchemy models, Alembic migrations and the repository."""

from __future__ import annotations

from ..settings import AssetSettings
from .models import AssetFormat, Category
from .repository import Catalog, NewAsset, NewVariant, NewVersion


def open_catalog(settings: AssetSettings) -> Catalog:
    return Catalog.open(settings.catalog_database_url())


__all__ = ["AssetFormat", "Catalog", "Category", "NewAsset", "NewVariant", "NewVersion", "open_catalog"]
