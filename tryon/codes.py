"""QR codes and 1-D barcodes (EAN-13, UPC-A, Code 128) in a camera frame, in memory.

``decode_codes(image_bgr)`` returns what it reads as :class:`Code` (kind, text, box). Two decoders:

- ``opencv``: OpenCV's ``QRCodeDetector`` (multi) and ``barcode.BarcodeDetector`` (EAN-13, UPC-A; OpenCV reads no
  Code 128);
- ``zxing``: the zxing-cpp library (all three symbologies), used when it is installed (``auto``, the default).

The measured read rates of both on real photos are in docs/benchmarks-codes.md. The frame is only read: nothing
of it is kept, written or logged here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from .errors import InvalidMedia

logger = logging.getLogger(__name__)
Decoder = Literal["auto", "zxing", "opencv"]
KINDS = ("qr", "ean13", "upca", "code128")
MAX_PIXELS = 4096 * 4096
MAX_TEXT = 2048
_ZXING_KINDS = {"QRCode": "qr", "EAN13": "ean13", "UPCA": "upca", "Code128": "code128"}
_OPENCV_KINDS = {"EAN_13": "ean13", "UPC_A": "upca"}
"""OpenCV also reports EAN-8, but on the held-out photos those were all false reads inside EAN-13/UPC-A codes."""


@dataclass(frozen=True, slots=True)
class Code:
    """One code found in a frame: ``kind`` (qr, ean13, upca, code128), its text, its box (x, y, w, h) in pixels."""

    kind: str
    text: str
    box: tuple[int, int, int, int]


def available_decoders() -> list[str]:
    """The decoders this installation can use (``opencv`` always; ``zxing`` with the zxing-cpp package)."""
    try:
        import zxingcpp  # noqa: F401
    except ImportError:
        return ["opencv"]
    return ["zxing", "opencv"]


def decode_codes(image_bgr: np.ndarray, *, decoder: Decoder = "auto") -> list[Code]:
    """Every QR code, EAN-13, UPC-A and Code 128 in a BGR (or grey) uint8 image, sorted top-left first."""
    image = _check(image_bgr)
    if decoder == "auto":
        decoder = "zxing" if "zxing" in available_decoders() else "opencv"
    if decoder == "zxing":
        found = _zxing(image)
    elif decoder == "opencv":
        found = _opencv_qr(image) + _opencv_barcodes(image)
    else:
        raise InvalidMedia(f"unknown decoder {decoder!r} (auto, zxing or opencv)", field="decoder")
    unique = {(c.kind, c.text): c for c in found if c.text and len(c.text) <= MAX_TEXT}
    return sorted(unique.values(), key=lambda c: (c.box[1], c.box[0], c.kind, c.text))


def _check(image: Any) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise InvalidMedia("expected a uint8 image array", field="image")
    if image.ndim == 3 and image.shape[2] in (3, 4):
        pass
    elif image.ndim != 2:
        raise InvalidMedia(f"expected an HxW or HxWx3 image, got shape {image.shape}", field="image")
    h, w = image.shape[:2]
    if h < 8 or w < 8:
        raise InvalidMedia(f"image of {w}x{h} pixels is too small", field="image")
    if h * w > MAX_PIXELS:
        raise InvalidMedia(f"image of {w}x{h} pixels exceeds {MAX_PIXELS} pixels", field="image")
    return image[:, :, :3] if image.ndim == 3 else image


def _box(points: Any) -> tuple[int, int, int, int]:
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    x0, y0 = np.floor(pts.min(axis=0))
    x1, y1 = np.ceil(pts.max(axis=0))
    return int(x0), int(y0), int(x1 - x0), int(y1 - y0)


def _upc(kind: str, text: str) -> tuple[str, str]:
    """An EAN-13 starting with 0 is a UPC-A: report it as one, 12 digits (both decoders then agree)."""
    if kind == "ean13" and len(text) == 13 and text.startswith("0"):
        return "upca", text[1:]
    return kind, text


def _zxing(image: np.ndarray) -> list[Code]:
    import zxingcpp

    formats = tuple(getattr(zxingcpp.BarcodeFormat, name) for name in _ZXING_KINDS)
    grey = image if image.ndim == 2 else _grey(image)
    out = []
    for r in zxingcpp.read_barcodes(grey, formats=formats, text_mode=zxingcpp.TextMode.Plain):
        if not r.valid:
            continue
        kind = _ZXING_KINDS.get(r.format.name)
        if kind is None:
            continue
        p = r.position
        pts = [(p.top_left.x, p.top_left.y), (p.top_right.x, p.top_right.y), (p.bottom_right.x, p.bottom_right.y),
               (p.bottom_left.x, p.bottom_left.y)]
        kind, text = _upc(kind, r.text)
        out.append(Code(kind, text, _box(pts)))
    return out


def _grey(image: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def _opencv_qr(image: np.ndarray) -> list[Code]:
    import cv2

    detector = cv2.QRCodeDetector()
    try:
        ok, texts, points, _ = detector.detectAndDecodeMulti(image)
    except (cv2.error, UnicodeDecodeError) as exc:  # degenerate inputs; a QR payload that is not UTF-8
        logger.debug("QR detector failed: %s", type(exc).__name__)
        return []
    if not ok or points is None:
        return []
    return [Code("qr", t, _box(p)) for t, p in zip(texts, points, strict=False) if t]


def _opencv_barcodes(image: np.ndarray) -> list[Code]:
    import cv2

    detector = cv2.barcode.BarcodeDetector()
    try:
        ok, texts, kinds, points = detector.detectAndDecodeWithType(image)
    except (cv2.error, UnicodeDecodeError) as exc:
        logger.debug("barcode detector failed: %s", type(exc).__name__)
        return []
    if not ok or points is None:
        return []
    out = []
    for text, kind, pts in zip(texts, kinds, points, strict=False):
        name = _OPENCV_KINDS.get(kind)
        if text and name is not None:
            name, text = _upc(name, text)
            out.append(Code(name, text, _box(pts)))
    return out
