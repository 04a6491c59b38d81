"""Image checks shared by every reader: is it an image, which kind, and is its declared size sane."""

from __future__ import annotations

import io
from pathlib import Path

from ..errors import InvalidAsset, LimitExceeded
from ..limits import Limits

SIGNATURES = {
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"GIF87a": "image/gif",
    b"GIF89a": "image/gif",
    b"\xabKTX 20\xbb\r\n\x1a\n": "image/ktx2",
    b"BM": "image/bmp",
}


def sniff_mime(data: bytes) -> str | None:
    """Return the MIME type that image bytes start with (PNG, JPEG, WebP, KTX2...), or None."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    for sig, mime in SIGNATURES.items():
        if data.startswith(sig):
            return mime
    return None


_PIL_FORMATS = {"image/png": ("PNG", "PngImagePlugin"), "image/jpeg": ("JPEG", "JpegImagePlugin"),
                "image/gif": ("GIF", "GifImagePlugin"), "image/webp": ("WEBP", "WebPImagePlugin"),
                "image/bmp": ("BMP", "BmpImagePlugin")}
"""MIME type -> (Pillow format, the plugin module that registers it)."""


def declared_size(data: bytes, mime: str) -> tuple[int, int]:
    """(width, height) from the image header alone.

    The format's Pillow plugin is called directly, without ``Image.open``'s decompression-bomb guard:
    Pillow's own threshold (about 89 Mpx) must not override :class:`Limits`, and a refusal must name
    the declared size. Nothing is decoded here. Only the format's own plugin is imported (``Image.init()``
    imports all forty-odd of them, ~50 ms a process).
    """
    import importlib

    from PIL import Image as PILImage

    name, plugin = _PIL_FORMATS[mime]
    importlib.import_module(f"PIL.{plugin}")  # registers the format in PILImage.OPEN
    factory, _ = PILImage.OPEN[name]
    im = factory(io.BytesIO(data), None)  # type: ignore[call-arg]
    try:
        return int(im.size[0]), int(im.size[1])
    finally:
        im.close()


def check_image(data: bytes, limits: Limits, *, path: Path | str, field: str, declared: str | None = None) -> str:
    """The image's real MIME type; raises if the bytes are no image or declare a size past the limits.

    Only the header is parsed (no pixel data is decoded), so a declared size of 100k x 100k is refused
    before any memory is spent on it.
    """
    mime = sniff_mime(data)
    if mime is None:
        raise InvalidAsset(f"not an image (declared {declared or 'no type'}, first bytes {data[:8]!r})",
                           path=path, field=field)
    if mime == "image/ktx2":
        return mime
    try:
        width, height = declared_size(data, mime)
    except Exception as exc:  # Pillow raises many types for corrupt headers
        raise InvalidAsset(f"unreadable {mime} image ({exc})", path=path, field=field) from None
    if width * height > limits.max_image_pixels:
        raise LimitExceeded(f"image pixels ({width}x{height})", width * height, limits.max_image_pixels,
                            path=path, field=field)
    if width == 0 or height == 0:
        raise InvalidAsset("image has zero size", path=path, field=field)
    return mime
