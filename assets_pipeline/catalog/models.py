"""SQLAlchemy 2 models of the catalog: product -> versions (immutable, numbered) -> assets and variants.

The schema itself is created and evolved by the Alembic migrations in ``migrations/``; these classes
must match the head revision (a test compares them).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Enum, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from ..categories import CONTENT_TYPES, AssetFormat, Category, parse_category


def _now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base of the catalog's tables."""
    pass


class Product(Base):
    """A product (SKU, name, category, try-on attributes) and its versions; ``current_version`` points at one."""
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[Category] = mapped_column(Enum(Category, native_enum=False, length=16,
                                                    validate_strings=True, name="category"))
    width_m: Mapped[float | None] = mapped_column(Float)
    height_m: Mapped[float | None] = mapped_column(Float)
    depth_m: Mapped[float | None] = mapped_column(Float)
    current_version: Mapped[int | None] = mapped_column(Integer)
    """Number of the version apps get (the latest publish, or the one rolled back to)."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    tryon: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """Try-on attributes (kind, shade, finish, intensity; shoes: style, toe_axis, up_axis), added by migration
    0003; checked by the check try-on registers (:mod:`.tryon_attributes`). None: the product cannot be tried on."""
    attributes: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """Retail attributes used by the fitting-room recommendations (``type``, ``colour``, ``style`` tags), added
    by migration 0004; checked by :func:`.retail_rules.check_attributes`."""

    versions: Mapped[list[Version]] = relationship(back_populates="product", cascade="all, delete-orphan",
                                                   order_by="Version.number")


class Version(Base):
    """An immutable published version of a product: source, size in meters, files and variants."""
    __tablename__ = "versions"
    __table_args__ = (UniqueConstraint("product_id", "number", name="uq_versions_product_number"),
                      UniqueConstraint("product_id", "publish_key", name="uq_versions_product_publish_key"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    source_name: Mapped[str] = mapped_column(String(255))
    source_sha256: Mapped[str] = mapped_column(String(64))
    width_m: Mapped[float] = mapped_column(Float)
    height_m: Mapped[float] = mapped_column(Float)
    depth_m: Mapped[float] = mapped_column(Float)
    warnings: Mapped[list[str]] = mapped_column(JSON, default=list)
    note: Mapped[str | None] = mapped_column(Text)
    """Free text from the artist (added by migration 0002)."""
    publish_key: Mapped[str | None] = mapped_column(String(64))
    """Content address of what was published (source bytes + options), set by batch publishing (migration 0005):
    a product never gets two versions with the same key, so a job that runs twice publishes once."""

    product: Mapped[Product] = relationship(back_populates="versions")
    assets: Mapped[list[Asset]] = relationship(back_populates="version", cascade="all, delete-orphan",
                                               order_by="(Asset.format, Asset.lod)")
    variants: Mapped[list[Variant]] = relationship(back_populates="version", cascade="all, delete-orphan",
                                                   order_by="Variant.position")


class Asset(Base):
    """One stored file of a version: format, LOD, variant, bytes, sha256, storage key."""
    __tablename__ = "assets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id", ondelete="CASCADE"), index=True)
    format: Mapped[AssetFormat] = mapped_column(Enum(AssetFormat, native_enum=False, length=8,
                                                     validate_strings=True, name="asset_format"))
    lod: Mapped[int] = mapped_column(Integer)
    bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    storage_key: Mapped[str] = mapped_column(String(200))
    triangles: Mapped[int | None] = mapped_column(Integer)
    variant: Mapped[int | None] = mapped_column(Integer)
    """KHR_materials_variants index of a file that shows that variant alone (a USDZ for AR Quick Look); None for
    the file of every variant."""

    version: Mapped[Version] = relationship(back_populates="assets")


class Variant(Base):
    """A named variant of a version (value, KHR_materials_variants index)."""
    __tablename__ = "variants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    value: Mapped[str | None] = mapped_column(String(200))
    """What the artist wrote after ``NAME=`` (a KHR variant name, a color...)."""
    khr_index: Mapped[int | None] = mapped_column(Integer)
    """Index into the model's KHR_materials_variants list, when the model has that variant."""

    version: Mapped[Version] = relationship(back_populates="variants")


from .retail_models import CoTried, FittingRoom, Stock, Store, Tag  # noqa: E402  (same metadata, migration 0004)

__all__ = ["CONTENT_TYPES", "Asset", "AssetFormat", "Base", "Category", "CoTried", "FittingRoom", "Product", "Stock",
           "Store", "Tag", "Variant", "Version", "parse_category"]
