"""The product catalog: SQLAlchemy models, Alembic migrations, the repository and the retail layer."""

from __future__ import annotations

from ..settings import AssetSettings
from .models import AssetFormat, Category
from .repository import Catalog, NewAsset, NewVariant, NewVersion
from .retail import ImportReport, Recommendations, Retail, StockRow, StoreInfo, Suggestion, TagMatch


def open_catalog(settings: AssetSettings) -> Catalog:
    """Open (and migrate) the catalog database named by the settings; returns the Catalog."""
    return Catalog.open(settings.catalog_database_url())


__all__ = ["AssetFormat", "Catalog", "Category", "ImportReport", "NewAsset", "NewVariant", "NewVersion",
           "Recommendations", "Retail", "StockRow", "StoreInfo", "Suggestion", "TagMatch", "open_catalog"]
