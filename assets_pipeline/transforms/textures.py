"""Textures: resize to a maximum size and re-encode (WebP through EXT_texture_webp, optionally keeping
the original as a fallback for viewers without WebP). An encoded image is only used when it is smaller
than the original, unless a resize was asked for. The encoder is passed in; images are encoded in a
thread pool (Pillow releases the GIL while encoding)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

from ..document import AssetDocument, Image
from .base import Transform

NAME = "textures"
Encoder = Callable[..., bytes]
"""encoder(data, format, max_size, quality, name=...) -> encoded bytes; raises AssetError for bad images."""
MIME = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}


@dataclass(frozen=True, slots=True)
class TextureOptions:
    """Texture output format, largest size, quality, whether originals are kept as fallback, encoder threads."""
    format: Literal["keep", "webp", "png", "jpeg"] = "webp"
    max_size: int | None = None
    quality: int = 80
    fallback: bool = False
    """Keep the original image as the core ``source`` next to the WebP one (larger output)."""
    workers: int = 2


DEFAULTS = TextureOptions()


def textures(options: TextureOptions, encoder: Encoder) -> Transform:
    """Return the transform that re-encodes (and resizes) the images with ``encoder`` when that makes them smaller."""
    def _apply(doc: AssetDocument) -> None:
        if not doc.images:
            return
        fmt = options.format
        jobs: dict[int, str] = {}
        for i, img in enumerate(doc.images):
            if img.mime_type == "image/ktx2":
                continue
            target = img.mime_type.split("/")[1] if fmt == "keep" else fmt
            if target not in MIME:
                target = "png"
            if target != img.mime_type.split("/")[1] or options.max_size:
                jobs[i] = target
        if not jobs:
            return
        with ThreadPoolExecutor(max(1, options.workers)) as pool:
            results = dict(zip(jobs, pool.map(
                lambda i: encoder(doc.images[i].data, jobs[i], options.max_size, options.quality,
                                  name=f"images[{i}]"), jobs),
                strict=True))
        webp_images: dict[int, int] = {}
        for i, data in results.items():
            old = doc.images[i]
            if not options.max_size and len(data) >= len(old.data):
                continue  # re-encoding would not help
            new = Image(data, MIME[jobs[i]], old.name, dict(old.extra))
            if jobs[i] == "webp":
                if options.fallback:
                    doc.images.append(new)
                    webp_images[i] = len(doc.images) - 1
                else:
                    doc.images[i] = new
                    webp_images[i] = i
            else:
                doc.images[i] = new
        if webp_images:
            for tex in doc.gltf.get("textures", []):
                src = tex.get("source")
                if src in webp_images:
                    tex.setdefault("extensions", {})["EXT_texture_webp"] = {"source": webp_images[src]}
                    if not options.fallback:
                        del tex["source"]
            doc.use_extension("EXT_texture_webp", required=not options.fallback)

    return Transform(NAME, _apply)
