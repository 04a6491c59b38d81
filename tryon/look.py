"""Products and looks: what the shopper tries on.

A look is a JSON list of products, for example::

    [{"kind": "lipstick", "shade": "#B0102A", "finish": "matte", "intensity": 0.85}]

Makeup kinds map to face regions; ``shoes`` places a shoe sprite on each visible foot.

An entry with a ``sku`` and no ``kind`` is a catalog product: its try-on attributes (and, for shoes, its
published 3D model) come from the product catalog, and the entry's own fields override them::

    [{"sku": "LIP-RED-01"}, {"sku": "EYE-SMOKY-02", "intensity": 0.5}]
"""

from __future__ import annotations

import json
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, RootModel, ValidationError, ValidationInfo, field_validator

from tryon.color import hex_to_srgb
from tryon.errors import InvalidLook
from tryon.finishes import Finish

ProductKind = Literal["lipstick", "eyeshadow", "eyeliner", "blush", "brows", "foundation", "shoes"]

REGION_OF_KIND: dict[str, str] = {
    "lipstick": "lips",
    "eyeshadow": "eyeshadow",
    "eyeliner": "eyeliner",
    "blush": "blush",
    "brows": "brows",
    "foundation": "foundation",
}


FINISHES_OF_KIND: dict[str, tuple[str, ...]] = {
    "lipstick": ("matte", "gloss", "shimmer", "metallic"),
    "eyeshadow": ("matte", "shimmer", "metallic"),
    "eyeliner": ("matte", "gloss", "shimmer", "metallic"),
    "blush": ("matte", "shimmer"),
    "brows": ("matte",),
    "foundation": ("matte",),
    "shoes": ("matte",),
}
"""The finishes each kind of product comes in (no gloss brows or foundation, no metallic blush or foundation)."""


class Product(BaseModel):
    """One catalog product as the try-on needs it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ProductKind
    shade: str = Field(description="sRGB colour as #RRGGBB")
    finish: Finish = "matte"
    intensity: float = Field(0.8, ge=0.0, le=1.0)
    name: str | None = None
    sku: str | None = None
    wing: bool = Field(False, description="eyeliner only: draw a wing at the outer corner")
    style: Literal["sneaker", "boot"] = Field("sneaker", description="shoes only: shape of the generated sprite")
    image: str | None = Field(None, description="shoes only: side-view product image with transparency (PNG)")
    model: str | None = Field(None, description="shoes only: 3D model (GLB) the views are rendered from")
    toe_axis: Literal["+x", "-x", "+y", "-y", "+z", "-z"] = Field("+z", description="shoes only: model heel->toe")
    up_axis: Literal["+x", "-x", "+y", "-y", "+z", "-z"] = Field("+y", description="shoes only: model sole->opening")

    @field_validator("shade")
    @classmethod
    def _hex(cls, v: str) -> str:
        hex_to_srgb(v)  # raises ValueError with a clear message
        return v if v.startswith("#") else f"#{v}"

    @field_validator("finish")
    @classmethod
    def _finish_of_kind(cls, v: str, info: ValidationInfo) -> str:
        kind = info.data.get("kind")
        allowed = FINISHES_OF_KIND.get(str(kind), ())
        if kind is not None and v not in allowed:
            raise ValueError(f"{kind} has no {v} finish (a {kind} finish is one of: {', '.join(allowed)})")
        return v

    @property
    def region(self) -> str | None:
        """Return the face region this product paints (None for shoes)."""
        return REGION_OF_KIND.get(self.kind)


class Look(RootModel[list[Product]]):
    """A list of products applied together, painted base layers first."""

    @field_validator("root")
    @classmethod
    def _not_empty(cls, v: list[Product]) -> list[Product]:
        if not v:
            raise ValueError("a look needs at least one product")
        return v

    @property
    def products(self) -> list[Product]:
        """Return the look's products in order."""
        return self.root

    @property
    def makeup(self) -> list[Product]:
        """Return the products painted on the face."""
        return [p for p in self.root if p.region is not None]

    @property
    def shoes(self) -> list[Product]:
        """Return the shoe products."""
        return [p for p in self.root if p.kind == "shoes"]


class ProductSource(Protocol):
    """Where catalog products come from (:class:`tryon.catalog.ProductCatalog`)."""

    def product(self, sku: str) -> dict[str, Any]:
        """Product fields of a SKU; raises :class:`InvalidLook` (field ``sku``) when it cannot be tried on."""
        ...


def is_catalog_entry(entry: object) -> bool:
    """A look entry that names a catalog product (a ``sku`` and no ``kind``)."""
    return isinstance(entry, dict) and "sku" in entry and "kind" not in entry


def _resolve(entries: list[Any], source: str, catalog: ProductSource | None) -> list[Any]:
    """Catalog entries replaced by the catalog's fields, overridden by the entry's own."""
    out = []
    for i, entry in enumerate(entries):
        if is_catalog_entry(entry):
            if catalog is None:
                raise InvalidLook("names a catalog product, but no product catalog was given", path=source,
                                  field=f"[{i}].sku")  # fmt: skip
            try:
                entry = {**catalog.product(str(entry["sku"])), **entry}
            except InvalidLook as exc:
                raise InvalidLook(exc.problem, path=source, field=f"[{i}].sku") from None
        out.append(entry)
    return out


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out.lstrip(".") or "(root)"


def parse_look(text: str | bytes, source: str = "look", catalog: ProductSource | None = None) -> Look:
    """Validate look JSON; raises :class:`InvalidLook` naming the source and the first bad field.

    Catalog entries (a ``sku``, no ``kind``) are looked up in ``catalog`` (for example a
    :class:`tryon.catalog.ProductCatalog`); without one they are an error.
    """
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidLook(f"is not valid JSON ({exc})", path=source) from None
    if isinstance(data, dict) and "products" in data:
        data = data["products"]
    if isinstance(data, list) and any(is_catalog_entry(e) for e in data):
        data = _resolve(data, source, catalog)
    try:
        return Look.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(p for p in err["loc"] if p != "root")
        raise InvalidLook(err["msg"].removeprefix("Value error, "), path=source, field=_loc(loc)) from None
