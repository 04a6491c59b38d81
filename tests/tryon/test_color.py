from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tryon import color


def test_u8_linear_roundtrip_is_exact() -> None:
    codes = np.arange(256, dtype=np.uint8)
    assert np.array_equal(color.linear_to_u8(color.u8_to_linear(codes)), codes)


def test_known_values() -> None:
    assert color.srgb_to_linear(np.array([0.5]))[0] == pytest.approx(0.21404, abs=1e-4)
    lab_white = color.srgb_to_lab(np.array([1.0, 1.0, 1.0]))
    assert lab_white == pytest.approx([100.0, 0.0, 0.0], abs=0.05)
    lab_red = color.srgb_to_lab(np.array([1.0, 0.0, 0.0]))
    assert lab_red == pytest.approx([53.24, 80.09, 67.20], abs=0.1)


@given(st.lists(st.floats(0, 1), min_size=3, max_size=3))
def test_lab_roundtrip(rgb: list[float]) -> None:
    c = np.array(rgb, dtype=np.float32)
    assert color.lab_to_srgb(color.srgb_to_lab(c)) == pytest.approx(c, abs=2e-3)


def test_hex() -> None:
    assert color.hex_to_srgb("#FF8000") == pytest.approx([1.0, 128 / 255, 0.0])
    assert color.hex_to_srgb("ff8000") == pytest.approx([1.0, 128 / 255, 0.0])
    for bad in ("red", "#12345", "#GGGGGG", ""):
        with pytest.raises(ValueError, match="hex"):
            color.hex_to_srgb(bad)
