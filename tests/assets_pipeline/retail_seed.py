"""A small seeded store for the retail tests: products with attributes, stock, tags and co-tried history."""

from __future__ import annotations

from assets_pipeline.catalog import Category, Retail

PRODUCTS = [  # sku, name, category, type, style
    ("SHIRT-1", "Linen shirt", Category.apparel, "shirt", "casual summer"),
    ("SHIRT-2", "Oxford shirt", Category.apparel, "shirt", "office casual"),
    ("JEANS-1", "Straight jeans", Category.apparel, "trousers", "casual"),
    ("SNEAK-1", "Canvas sneakers", Category.shoes, "sneakers", "casual summer sport"),
    ("HEELS-1", "Pumps", Category.shoes, "pumps", "evening"),
    ("BAG-1", "Straw bag", Category.accessory, "bag", "summer"),
    ("LIP-1", "Red lipstick", Category.makeup, "lipstick", "evening"),
]
STOCK = [  # sku, size, colour, quantity
    ("SHIRT-1", "S", "white", 2), ("SHIRT-1", "M", "white", 0), ("SHIRT-1", "L", "white", 4),
    ("SHIRT-1", "M", "blue", 3), ("SHIRT-1", "XL", "blue", 1),
    ("SHIRT-2", "M", "blue", 5),
    ("JEANS-1", "32", "denim", 6), ("JEANS-1", "30", "black", 2),
    ("SNEAK-1", "42", "white", 3), ("SNEAK-1", "40", "red", 1),
    ("HEELS-1", "38", "black", 2),
    ("BAG-1", "ONE SIZE", "beige", 1),
    ("LIP-1", "ONE SIZE", "red", 0),
]


def seed(retail: Retail, *, reverse: bool = False) -> None:
    """Seed store paris-01 (rooms 1-3); ``reverse`` inserts everything in the opposite order."""
    retail.add_store("paris-01", "Paris Rivoli", "Europe/Paris", rooms=["1", "2", "3"])
    order = (lambda xs: list(reversed(xs))) if reverse else list
    for sku, name, category, kind, style in order(PRODUCTS):
        retail.set_attributes(sku, {"type": kind, "style": style}, name=name, category=category)
    for sku, size, colour, qty in order(STOCK):
        retail.set_stock("paris-01", sku, size, colour, qty, price_cents=4990, currency="EUR")
    visits = [["SHIRT-1", "JEANS-1"], ["JEANS-1", "SHIRT-1", "SNEAK-1"], ["SHIRT-1", "JEANS-1"],
              ["SHIRT-1", "HEELS-1"], ["SHIRT-1", "SNEAK-1"], ["SHIRT-1", "LIP-1"], ["SHIRT-1", "LIP-1"]]
    for visit in order(visits):
        retail.record_cotried("paris-01", order(visit))
