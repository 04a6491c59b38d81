"""SQLAlchemy models of the retail layer (migration 0004): stores, fitting rooms, stock, tags, co-tried pairs.

Stock and tags point at products by SKU. The co-tried table is aggregate: a count per store and pair of SKUs,
nothing about who tried them or when beyond the last update.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base


def _now() -> datetime:
    return datetime.now(UTC)


class Store(Base):
    """A shop: its id is part of fitting-room ids (``fit.<store>.<room>``)."""

    __tablename__ = "stores"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class FittingRoom(Base):
    """One fitting room of a store (``room`` is its short id, e.g. ``3``)."""

    __tablename__ = "fitting_rooms"

    store_id: Mapped[str] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True)
    room: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(100))


class Stock(Base):
    """How many pieces of one SKU in one size and colour a store has (0: known here, out of stock)."""

    __tablename__ = "stock"

    store_id: Mapped[str] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True)
    sku: Mapped[str] = mapped_column(ForeignKey("products.sku", ondelete="CASCADE"), primary_key=True, index=True)
    size: Mapped[str] = mapped_column(String(16), primary_key=True)
    colour: Mapped[str] = mapped_column(String(32), primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer)
    price_cents: Mapped[int | None] = mapped_column(Integer)
    currency: Mapped[str | None] = mapped_column(String(3))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now, onupdate=_now)


class Tag(Base):
    """A code on a garment (EPC, GTIN/EAN/UPC, QR text) -> SKU, size and colour.

    ``store_id`` is set for codes that belong to one store's pieces (serialized RFID EPCs); NULL for codes
    that mean the same everywhere (GTINs).
    """

    __tablename__ = "tags"

    code: Mapped[str] = mapped_column(String(256), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    sku: Mapped[str] = mapped_column(ForeignKey("products.sku", ondelete="CASCADE"), index=True)
    size: Mapped[str] = mapped_column(String(16))
    colour: Mapped[str] = mapped_column(String(32))
    store_id: Mapped[str | None] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))


class CoTried(Base):
    """How often two SKUs were in the same fitting-room visit of a store (``sku_a`` < ``sku_b``); no shopper."""

    __tablename__ = "cotried"

    store_id: Mapped[str] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True)
    sku_a: Mapped[str] = mapped_column(String(64), primary_key=True)
    sku_b: Mapped[str] = mapped_column(String(64), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
