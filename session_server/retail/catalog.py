"""The catalog as the fitting rooms see it: stores, tags -> SKU/size/colour, stock, recommendations.

A thin adapter over ``assets_pipeline.catalog.Retail`` (the catalog is the shared source of truth for
SKUs): opened once per process on first use, blocking (call it from a worker thread), and every
catalog refusal turned into a ``RetailError``.
"""

from __future__ import annotations

import threading
from typing import Any

from assets_pipeline.errors import AssetError
from assets_pipeline.settings import AssetSettings

from .errors import RetailError


def _as_retail(exc: AssetError, code: str) -> RetailError:
    return RetailError(code, exc.problem, field=exc.field)


class StoreCatalog:
    """Catalog queries of the fitting rooms (blocking)."""

    def __init__(self, settings: AssetSettings | None = None) -> None:
        self.settings = settings
        self._retail: Any = None
        self._lock = threading.Lock()

    @property
    def retail(self) -> Any:
        """``assets_pipeline.catalog.Retail`` on the configured catalog, opened on first use."""
        if self._retail is None:
            with self._lock:
                if self._retail is None:
                    from assets_pipeline.catalog import Retail, open_catalog

                    try:
                        self._retail = Retail(open_catalog(self.settings or AssetSettings()))
                    except AssetError as exc:
                        raise RetailError("unavailable", f"catalog: {exc}") from None
        return self._retail

    def close(self) -> None:
        """Release the catalog's connections."""
        if self._retail is not None:
            self._retail.catalog.close()
            self._retail = None

    def check_room(self, store: str, room: str) -> None:
        """RetailError unless the store exists and has fitting room ``room``."""
        if self.retail.find_store(store) is None:
            raise RetailError("unknown_store", f"no store {store!r}", field="store")
        if not self.retail.has_fitting_room(store, room):
            raise RetailError("unknown_room", f"store {store!r} has no fitting room {room!r}", field="room")

    def check_store(self, store: str) -> None:
        """RetailError unless the store exists."""
        if self.retail.find_store(store) is None:
            raise RetailError("unknown_store", f"no store {store!r}", field="store")

    def resolve(self, store: str, code: str) -> dict[str, Any] | None:
        """The item payload a code stands for in ``store`` (None: unknown code); RetailError ``wrong_store``
        when the code is bound to another store."""
        found = self.retail.resolve_in_store(code, store)
        if found is None:
            return None
        match, row = found
        if match.store is not None and match.store != store:
            raise RetailError("wrong_store", f"tag {code} belongs to store {match.store}", field="tag")
        price = None if row is None or row.price_cents is None else row.price_cents / 100
        return {"sku": match.sku, "size": match.size, "colour": match.colour, "name": match.name,
                "category": match.category, "price": price, "currency": None if row is None else row.currency,
                "in_stock": 0 if row is None else row.quantity,
                "model_url": f"/products/{match.sku}/manifest", "image_url": None}

    def variant(self, store: str, sku: str, size: str, colour: str) -> dict[str, Any]:
        """One size/colour of a SKU in a store with its stock; RetailError when unknown or sold out."""
        rows = self.retail.stock_for(store, sku)
        if not rows:
            raise RetailError("unknown_size", f"store {store} does not keep {sku}", field="sku")
        row = self.retail.stock_of(store, sku, size, colour)
        if row is None:
            sizes = sorted({r.size for r in rows if r.colour == rows[0].colour} | {r.size for r in rows})
            colours = sorted({r.colour for r in rows})
            raise RetailError("unknown_size", f"{sku} has no size {size!r} in {colour!r} here "
                              f"(sizes: {', '.join(sizes)}; colours: {', '.join(colours)})", field="size")
        if row.quantity <= 0:
            raise RetailError("out_of_stock", f"{sku} size {row.size} in {row.colour} is out of stock in this store",
                              field="size")
        return {"sku": sku, "size": row.size, "colour": row.colour, "quantity": row.quantity}

    def recommend(self, store: str, sku: str, size: str | None, colour: str | None) -> dict[str, Any]:
        """Other sizes/colours here, often tried together, outfit matches (each with its reason)."""
        try:
            recs = self.retail.recommend(store, sku, size, colour)
        except AssetError as exc:
            raise _as_retail(exc, "unknown_sku") from None
        return dict(recs.to_dict())

    def record_cotried(self, store: str, skus: list[str]) -> None:
        """Count the SKUs of one visit as tried together (aggregate history; no shopper identity)."""
        if len(set(skus)) >= 2:
            self.retail.record_cotried(store, skus)

    def check_sku(self, sku: str) -> str:
        """The product's name; RetailError ``unknown_sku`` when the catalog has no such SKU."""
        product = self.retail.catalog.find(sku)
        if product is None:
            raise RetailError("unknown_sku", f"no product with SKU {sku!r}", field="sku")
        return str(product.name)
