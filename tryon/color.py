"""Colour conversions: sRGB <-> linear light <-> CIE Lab (D65), and hex shades.

Rendering blends in linear light, where adding and scaling light is physically meaningful; the
uint8 <-> linear conversions use lookup tables because they run on every face pixel each frame.
"""

from __future__ import annotations

import re

import numpy as np

_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")
_LUT_SIZE = 16384

# sRGB (D65) <-> XYZ
_RGB_TO_XYZ = np.array(
    [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]],
    dtype=np.float64,
)
_XYZ_TO_RGB = np.linalg.inv(_RGB_TO_XYZ)
_WHITE = _RGB_TO_XYZ.sum(axis=1)
LUMA = np.array([0.2126729, 0.7151522, 0.0721750], dtype=np.float32)
"""Linear-light luminance weights (Y row of sRGB -> XYZ)."""


def srgb_to_linear(srgb: np.ndarray) -> np.ndarray:
    """sRGB values in [0, 1] -> linear light, same shape, float32."""
    s = np.asarray(srgb, dtype=np.float32)
    return np.where(s <= 0.04045, s / 12.92, ((s + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    """Linear light -> sRGB values in [0, 1] (clipped), float32."""
    c = np.clip(np.asarray(linear, dtype=np.float32), 0.0, 1.0)
    return np.where(c <= 0.0031308, c * 12.92, 1.055 * np.power(c, 1 / 2.4) - 0.055).astype(np.float32)


U8_TO_LINEAR = srgb_to_linear(np.arange(256, dtype=np.float32) / 255.0)
"""(256,) float32: uint8 sRGB code -> linear light."""
_LINEAR_TO_U8 = np.round(linear_to_srgb(np.arange(_LUT_SIZE, dtype=np.float32) / (_LUT_SIZE - 1)) * 255).astype(
    np.uint8
)


def u8_to_linear(image: np.ndarray) -> np.ndarray:
    """uint8 sRGB image (h, w, 3) -> float32 linear light, through a 256-entry table (cv2.LUT)."""
    if image.ndim == 3 and image.shape[2] <= 4 and image.size:
        import cv2  # here, not at the top: importing tryon.look (a server's routes) does not load OpenCV

        return cv2.LUT(np.ascontiguousarray(image), U8_TO_LINEAR)
    return U8_TO_LINEAR[image]


def linear_to_u8(linear: np.ndarray) -> np.ndarray:
    """float32 linear light (..., 3) -> uint8 sRGB (clipped), through a 16384-entry table; exact for
    every uint8 code (``linear_to_u8(u8_to_linear(x)) == x``)."""
    idx = np.multiply(linear, _LUT_SIZE - 1, dtype=np.float32)
    idx += 0.5
    np.maximum(idx, 0, out=idx)  # np.minimum / np.maximum: np.clip's wrapper costs more than the work here
    np.minimum(idx, _LUT_SIZE - 1, out=idx)
    return np.take(_LINEAR_TO_U8, idx.astype(np.uint16))


def hex_to_srgb(shade: str) -> np.ndarray:
    """'#RRGGBB' -> (3,) float32 sRGB in [0, 1]."""
    m = _HEX.match(shade.strip())
    if not m:
        raise ValueError(f"{shade!r} is not a #RRGGBB hex colour")
    v = int(m.group(1), 16)
    return np.array([(v >> 16) & 255, (v >> 8) & 255, v & 255], dtype=np.float32) / 255.0


def hex_to_linear(shade: str) -> np.ndarray:
    """'#RRGGBB' -> (3,) float32 linear light."""
    return srgb_to_linear(hex_to_srgb(shade))


def _f(t: np.ndarray) -> np.ndarray:
    d = 6.0 / 29.0
    return np.where(t > d**3, np.cbrt(t), t / (3 * d * d) + 4.0 / 29.0)


def _finv(t: np.ndarray) -> np.ndarray:
    d = 6.0 / 29.0
    return np.where(t > d, t**3, 3 * d * d * (t - 4.0 / 29.0))


def srgb_to_lab(srgb: np.ndarray) -> np.ndarray:
    """sRGB in [0, 1] (..., 3) -> CIE Lab (D65) (..., 3) float64; L in [0, 100]."""
    xyz = srgb_to_linear(srgb).astype(np.float64) @ _RGB_TO_XYZ.T / _WHITE
    fx, fy, fz = _f(xyz[..., 0]), _f(xyz[..., 1]), _f(xyz[..., 2])
    return np.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], axis=-1)


def lab_to_srgb(lab: np.ndarray) -> np.ndarray:
    """CIE Lab (D65) (..., 3) -> sRGB in [0, 1] (clipped) float32."""
    lab = np.asarray(lab, dtype=np.float64)
    fy = (lab[..., 0] + 16) / 116
    fx, fz = fy + lab[..., 1] / 500, fy - lab[..., 2] / 200
    xyz = np.stack([_finv(fx), _finv(fy), _finv(fz)], axis=-1) * _WHITE
    return linear_to_srgb((xyz @ _XYZ_TO_RGB.T).astype(np.float32))
