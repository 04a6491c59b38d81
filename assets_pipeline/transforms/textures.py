"""Textures: resize to a maximum size and re-encode (WebP through EXT_texture_webp, optionally keeping
the original as a fallback for viewers without WebP). An encoded image is only used when it is smaller
than the original, unless a resize was asked for. The encoder is passed in; images are encoded in a
thread pool (Pillow releases the GIL while encoding).

A LOD's textures shrink with its triangles (:func:`lod_texture_side`): the transform of a LOD gets the LOD's
ratio to the main output and resizes every image by the same rule, or none of them.
"""

from __future__ import annotations

import math
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
    lod_textures: bool = True
    """Scale each LOD's textures down with its triangles (:func:`lod_texture_side`); False: every LOD carries the
    main output's textures."""


DEFAULTS = TextureOptions()
LOD_TEXTURE_FLOOR = 256
"""A LOD's texture is not made smaller than this many pixels on its longest side."""


def lod_texture_side(side: int, ratio: float, floor: int = LOD_TEXTURE_FLOOR) -> int:
    """Longest side of a texture in a LOD at ``ratio`` of the main output's triangles, ``side`` being its longest
    side in the main output: halved once per factor of four fewer triangles, rounding towards smaller (its texels
    shrink as its triangles do: 0.5 and 0.25 halve, 0.1 quarters), by whole halvings only (a power of two stays
    one), never below ``floor`` (fewer halvings) and never above ``side``."""
    if ratio >= 1.0 or side <= floor:
        return side
    halvings = math.ceil(math.log(1.0 / max(ratio, 1e-9), 4) - 1e-9)
    while halvings and side >> halvings < floor:
        halvings -= 1
    return side >> halvings


def image_size(image: Image) -> tuple[int, int] | None:
    """(width, height) from the image's header; None for a format whose header is not read (KTX2)."""
    from ..io.images import declared_size

    try:
        return declared_size(image.data, image.mime_type)
    except (KeyError, OSError, SyntaxError, ValueError):
        return None


def _max_sizes(doc: AssetDocument, options: TextureOptions, ratio: float) -> list[int | None]:
    """Each image's largest side to resize to (None: not resized): ``options.max_size``, smaller in a LOD. All or
    nothing: when one image's size cannot be read (KTX2), no image of the LOD is made smaller."""
    plain: list[int | None] = [options.max_size] * len(doc.images)
    if ratio >= 1.0 or not options.lod_textures:
        return plain
    sizes = [image_size(img) for img in doc.images]
    if any(s is None for s in sizes):
        return plain
    out: list[int | None] = []
    for size, given in zip(sizes, plain, strict=True):
        assert size is not None
        side = max(size)
        main = min(side, given) if given else side
        lod = lod_texture_side(main, ratio)
        out.append(given if lod == main else lod)
    return out


def needs_textures(options: TextureOptions, ratio: float = 1.0) -> bool:
    """True when the textures transform can change anything in an output at ``ratio`` of the main one's
    triangles (a format to encode, a size to keep to, a LOD to scale)."""
    return options.format != "keep" or bool(options.max_size) or (ratio < 1.0 and options.lod_textures)


def textures(options: TextureOptions, encoder: Encoder, ratio: float = 1.0) -> Transform:
    """Return the transform that re-encodes (and resizes) the images with ``encoder`` when that makes them smaller;
    ``ratio`` < 1: the output is a LOD with that fraction of the main output's triangles, its textures scaled
    down (:func:`lod_texture_side`) unless ``options.lod_textures`` is off."""
    def _apply(doc: AssetDocument) -> None:
        if not doc.images:
            return
        fmt = options.format
        sizes = _max_sizes(doc, options, ratio)
        jobs: dict[int, str] = {}
        for i, img in enumerate(doc.images):
            if img.mime_type == "image/ktx2":
                continue
            target = img.mime_type.split("/")[1] if fmt == "keep" else fmt
            if target not in MIME:
                target = "png"
            if target != img.mime_type.split("/")[1] or sizes[i]:
                jobs[i] = target
        if not jobs:
            return
        # with a fallback, a resized image's original is resized too (in its own format)
        fallbacks = {i: doc.images[i].mime_type.split("/")[1] for i in jobs
                     if options.fallback and sizes[i] and jobs[i] == "webp"
                     and doc.images[i].mime_type.split("/")[1] in MIME}
        work = [(i, jobs[i]) for i in jobs] + [(i, f) for i, f in fallbacks.items()]
        with ThreadPoolExecutor(max(1, options.workers)) as pool:
            encoded = list(pool.map(
                lambda job: encoder(doc.images[job[0]].data, job[1], sizes[job[0]], options.quality,
                                    name=f"images[{job[0]}]"), work))
        results = dict(zip(jobs, encoded[:len(jobs)], strict=True))
        resized_originals = dict(zip(fallbacks, encoded[len(jobs):], strict=True))
        webp_images: dict[int, int] = {}
        for i, data in results.items():
            old = doc.images[i]
            if not sizes[i] and len(data) >= len(old.data):
                continue  # re-encoding would not help
            new = Image(data, MIME[jobs[i]], old.name, dict(old.extra))
            if jobs[i] == "webp":
                if options.fallback:
                    if i in resized_originals:
                        doc.images[i] = Image(resized_originals[i], old.mime_type, old.name, dict(old.extra))
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
