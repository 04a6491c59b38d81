"""The try-on check of catalog attributes, registered with the asset catalog through an entry point.

The catalog (:mod:`assets_pipeline.catalog`) stores a product's try-on attributes without interpreting them;
this check, named by the ``phygital.tryon_check`` entry point in ``pyproject.toml``, validates them with the
look's own product schema (:class:`tryon.look.Product`) and says which category of product they need.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from assets_pipeline.catalog.models import Category
from assets_pipeline.catalog.tryon_attributes import CheckedTryOn
from assets_pipeline.errors import InvalidAsset
from tryon.look import Product

CATALOG_FIELDS = ("kind", "shade", "finish", "intensity", "wing", "style", "toe_axis", "up_axis")
"""What the catalog keeps; the name and SKU are the product's own, the shoe model is its published GLB."""


def check_catalog_attributes(attrs: Mapping[str, Any]) -> CheckedTryOn:
    """Validated, normalized attributes (only those given) and their category (shoes, else makeup);
    InvalidAsset names the field (``tryon.shade``)."""
    for key in attrs:
        if key not in CATALOG_FIELDS:
            raise InvalidAsset(f"unknown try-on attribute (expected {', '.join(CATALOG_FIELDS)})", field=f"tryon.{key}")
    try:
        product = Product.model_validate(dict(attrs))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "kind"
        raise InvalidAsset(first["msg"].removeprefix("Value error, "), field=f"tryon.{where}") from None
    category = Category.shoes if product.kind == "shoes" else Category.makeup
    return CheckedTryOn(product.model_dump(mode="json", exclude_unset=True), category)
