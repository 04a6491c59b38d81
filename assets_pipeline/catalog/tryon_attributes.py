"""Try-on attributes of a catalog product (the JSON column ``products.tryon``), kept but not interpreted here.

The catalog stores them; what they mean belongs to the try-on package. A *check* validates and normalizes
them and names the product category they need. The ``tryon`` package provides it through the entry point
group :data:`ENTRY_POINT_GROUP` (see ``pyproject.toml``); a program may also install one with
:func:`register_tryon_check`. ``assets_pipeline`` never imports ``tryon`` by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Protocol

from ..errors import UnsupportedFormat
from .models import Category

ENTRY_POINT_GROUP = "phygital.tryon_check"
"""Entry point group naming the check (``tryon = "tryon.attributes:check_catalog_attributes"``)."""


@dataclass(frozen=True, slots=True)
class CheckedTryOn:
    """Attributes as the catalog stores them, and the category of product they belong to."""

    attrs: dict[str, Any]
    category: Category


class TryOnCheck(Protocol):
    """Validates try-on attributes; raises :class:`~assets_pipeline.errors.InvalidAsset` naming ``tryon.<field>``."""

    def __call__(self, attrs: Mapping[str, Any], /) -> CheckedTryOn:
        """The checked attributes (only those given, normalized) and their category."""
        ...


_registered: TryOnCheck | None = None


def register_tryon_check(check: TryOnCheck | None) -> TryOnCheck | None:
    """Make ``check`` the one the catalog uses (None: back to the entry point); returns the previous one."""
    global _registered
    previous, _registered = _registered, check
    return previous


def tryon_check() -> TryOnCheck:
    """The registered check, else the one the entry point names; UnsupportedFormat when there is none."""
    if _registered is not None:
        return _registered
    found = list(entry_points(group=ENTRY_POINT_GROUP))
    if not found:
        raise UnsupportedFormat(f"no try-on attribute check is installed (entry point group {ENTRY_POINT_GROUP}; "
                                "install the tryon package)", field="tryon")  # fmt: skip
    return found[0].load()
