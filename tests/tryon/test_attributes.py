"""The try-on check the asset catalog finds through the ``phygital.tryon_check`` entry point."""

from __future__ import annotations

import pytest

from assets_pipeline.catalog import Category
from assets_pipeline.errors import InvalidAsset
from tryon.attributes import check_catalog_attributes


def test_the_check_normalizes_and_names_the_category() -> None:
    checked = check_catalog_attributes({"kind": "lipstick", "shade": "B0102A"})
    assert (checked.attrs, checked.category) == ({"kind": "lipstick", "shade": "#B0102A"}, Category.makeup)
    shoe = check_catalog_attributes({"kind": "shoes", "shade": "#000000", "toe_axis": "-x"})
    assert shoe.category == Category.shoes and shoe.attrs["toe_axis"] == "-x"


@pytest.mark.parametrize(
    ("attrs", "field"),
    [({"kind": "blush", "shade": "pink"}, "tryon.shade"), ({"kind": "blush", "shade": "#000000", "sku": "X"},
                                                            "tryon.sku")],
)
def test_the_check_names_the_bad_field(attrs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidAsset) as info:
        check_catalog_attributes(attrs)
    assert info.value.field == field
