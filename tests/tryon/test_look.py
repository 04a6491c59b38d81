from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tryon.errors import InvalidLook
from tryon.look import parse_look
from tryon.media import read_look


def test_sample_looks_validate(sample_looks: dict[str, Path]) -> None:
    assert {"red_matte_lipstick", "smoky_eye", "natural_look", "sneakers"} <= set(sample_looks)
    for name, path in sample_looks.items():
        if name == "catalog_skus":  # names catalog products: tested in test_catalog.py
            continue
        look = read_look(path)
        assert look.products
    assert read_look(sample_looks["sneakers"]).shoes
    assert {p.kind for p in read_look(sample_looks["smoky_eye"]).products} == {"eyeshadow", "eyeliner", "brows"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[]", "(root) a look needs at least one product"),
        ('[{"kind": "lipstick", "shade": "red"}]', "[0].shade 'red' is not a #RRGGBB hex colour"),
        ('[{"kind": "lipstick", "shade": "#aa0000", "intensity": 2}]', "[0].intensity"),
        ('[{"kind": "lipstick", "shade": "#aa0000", "finish": "satin"}]', "[0].finish"),
        ('[{"kind": "hat", "shade": "#aa0000"}]', "[0].kind"),
        ('[{"kind": "lipstick", "shade": "#aa0000", "colour": 1}]', "[0].colour"),
        ("{", "is not valid JSON"),
    ],
)
def test_bad_looks_name_the_field(text: str, message: str) -> None:
    with pytest.raises(InvalidLook) as exc:
        parse_look(text, "my.json")
    assert str(exc.value).startswith("my.json: ")
    assert message in str(exc.value)


def test_products_object_form_and_missing_file(tmp_path: Path) -> None:
    look = parse_look('{"products": [{"kind": "blush", "shade": "E0707A"}]}')
    assert look.products[0].shade == "#E0707A"
    with pytest.raises(InvalidLook, match="file not found"):
        read_look(tmp_path / "nope.json")


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_any_json_is_a_look_or_an_invalid_look(value: object) -> None:
    import json

    try:
        look = parse_look(json.dumps(value))
    except InvalidLook as exc:
        assert str(exc)
    else:
        assert look.products


@given(st.sampled_from(["lipstick", "eyeshadow", "blush"]), st.integers(0, 0xFFFFFF), st.floats(0, 1))
def test_valid_products_roundtrip(kind: str, rgb: int, intensity: float) -> None:
    import json

    look = parse_look(json.dumps([{"kind": kind, "shade": f"#{rgb:06x}", "intensity": intensity}]))
    assert look.products[0].shade.lower() == f"#{rgb:06x}"


def test_sku_entries_need_a_catalog_passed_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """parse_look never opens a catalog of its own (from PHYGITAL_ASSETS_* settings) in the middle of the library."""
    monkeypatch.setenv("PHYGITAL_ASSETS_CATALOG_PATH", str(tmp_path / "catalog.sqlite"))
    with pytest.raises(InvalidLook, match="no product catalog was given") as exc:
        parse_look('[{"kind": "blush", "shade": "#E0707A"}, {"sku": "LIP-1"}]', "look.json")
    assert exc.value.field == "[1].sku" and not (tmp_path / "catalog.sqlite").exists()

    class Shelf:
        def product(self, sku: str) -> dict[str, object]:
            return {"sku": sku, "kind": "lipstick", "shade": "#B0102A", "intensity": 0.9}

    look = parse_look('[{"sku": "LIP-1", "intensity": 0.5}]', "look.json", Shelf())
    assert [(p.sku, p.kind, p.intensity) for p in look.products] == [("LIP-1", "lipstick", 0.5)]
