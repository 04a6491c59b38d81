"""Try-on attributes of a catalog product (the JSON column ``products.tryon``).

They are checked with the try-on package's own product schema (:class:`tryon.look.Product`), imported when a
check runs: ``tryon`` builds on ``assets_pipeline``, so importing ``assets_pipeline`` never loads ``tryon``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import InvalidAsset
from .models import Category

TRYON_FIELDS = ("kind", "shade", "finish", "intensity", "wing", "style", "toe_axis", "up_axis")
"""What the catalog keeps; the name and SKU are the product's own, the shoe model is its published GLB."""


def check_tryon(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Validated, normalized attributes (only those given); InvalidAsset names the field (``tryon.shade``)."""
    from pydantic import ValidationError

    from tryon.look import Product

    for key in attrs:
        if key not in TRYON_FIELDS:
            raise InvalidAsset(f"unknown try-on attribute (expected {', '.join(TRYON_FIELDS)})", field=f"tryon.{key}")
    try:
        product = Product.model_validate(dict(attrs))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "kind"
        raise InvalidAsset(first["msg"].removeprefix("Value error, "), field=f"tryon.{where}") from None
    return product.model_dump(mode="json", exclude_unset=True)


def category_of_kind(kind: str) -> Category:
    """Shoes are ``shoes`` products; every other kind (lipstick, eyeshadow...) is ``makeup``."""
    return Category.shoes if kind == "shoes" else Category.makeup
