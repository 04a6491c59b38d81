"""Product categories and the formats of published files, without the database.

The catalog's tables (``catalog/models.py``) use them, and so does the HTTP API, whose routes are declared
when the session server starts: importing this loads no SQLAlchemy.
"""

from __future__ import annotations

import enum

from .errors import InvalidAsset


class Category(enum.StrEnum):
    """Product categories the catalog knows."""
    shoes = "shoes"
    apparel = "apparel"
    makeup = "makeup"
    furniture = "furniture"
    accessory = "accessory"


def parse_category(text: str) -> Category:
    """The category named ``text``; InvalidAsset (field ``category``) listing the categories otherwise."""
    try:
        return Category(text)
    except ValueError:
        raise InvalidAsset(f"{text!r} is not one of {', '.join(c.value for c in Category)}",
                           field="category") from None


class AssetFormat(enum.StrEnum):
    """Kinds of stored files of a version: GLB, USDZ, PNG thumbnail."""
    glb = "glb"
    usdz = "usdz"
    png = "png"


CONTENT_TYPES = {AssetFormat.glb: "model/gltf-binary", AssetFormat.usdz: "model/vnd.usdz+zip",
                 AssetFormat.png: "image/png"}


TEXTURE_MAX_SIZE_MIN = 1
TEXTURE_MAX_SIZE_HELP = "Resize textures larger than this many pixels (default: no resizing)."
"""optimize's and upload's (CLI and HTTP) --texture-max-size: its smallest value and its help, written once."""
LOD_TEXTURES_HELP = ("Scale each LOD's textures down with its triangles: the longest side halved per quarter of "
                     "the triangles (0.5 and 0.25 halve, 0.1 quarters), never below 256 px, never enlarged; "
                     "off: every LOD carries the full-size textures.")
"""optimize's and upload's (CLI and HTTP) --lod-textures/--no-lod-textures, written once."""
