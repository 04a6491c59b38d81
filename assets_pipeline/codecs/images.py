"""Image re-encoding with Pillow: resize to a maximum size, encode PNG, JPEG or WebP."""

from __future__ import annotations

import io
import shutil

from ..errors import InvalidAsset, MissingEncoder

MIME = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp", "ktx2": "image/ktx2"}


def reencode(data: bytes, fmt: str, max_size: int | None, quality: int, lossless: bool = False,
             name: str | None = None) -> bytes:
    """Re-encode image bytes to ``fmt`` (webp, png, jpeg, ktx2), resized to ``max_size`` px at most; returns the new
    bytes."""
    from PIL import Image as PILImage

    if fmt == "ktx2" and shutil.which("toktx") is None:
        raise MissingEncoder("KTX2 needs the 'toktx' encoder (KTX-Software), which is not installed",
                             field="texture_format")
    try:
        with PILImage.open(io.BytesIO(data)) as src:
            im = src.copy()
    except (OSError, SyntaxError, ValueError) as exc:  # corrupt pixel data behind a valid header
        raise InvalidAsset(f"image could not be decoded ({exc})", field=name or "images") from None
    if max_size and max(im.size) > max_size:
        ratio = max_size / max(im.size)
        im = im.resize((max(1, round(im.width * ratio)), max(1, round(im.height * ratio))), PILImage.LANCZOS)
    has_alpha = im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)
    im = im.convert("RGBA" if has_alpha else "RGB")
    buf = io.BytesIO()
    if fmt == "webp":
        im.save(buf, "WEBP", quality=quality, method=4, lossless=lossless, exact=has_alpha)
    elif fmt == "jpeg":
        im.convert("RGB").save(buf, "JPEG", quality=quality, optimize=True)
    elif fmt == "png":
        im.save(buf, "PNG", optimize=True)
    else:
        raise MissingEncoder(f"no encoder for texture format {fmt!r}", field="texture_format")
    return buf.getvalue()
