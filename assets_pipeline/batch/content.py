"""Content address of a publish: the sha256 of the model's bytes, the files it names (MTL, textures, glTF
buffers and images) and every option that changes the published version.

Two runs of the same row over the same files give the same key, so the catalog (one version per key and
product) publishes it once; any changed byte or option gives a new key and a new version.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from ..errors import AssetError
from ..limits import Limits
from ..store.base import file_sha256
from .manifest import ManifestRow

KEY_VERSION = 1
_MTL_MAPS = re.compile(r"^\s*(map_\w+|bump|disp|decal|refl|norm)\s+(.+)$", re.IGNORECASE)
_MTLLIB = re.compile(r"^\s*mtllib\s+(.+)$", re.IGNORECASE)


def _locate(source: Path, name: str, lenient: bool) -> Path | None:
    from ..io.resources import ResourceResolver

    try:
        return ResourceResolver(source, Limits()).locate(name, "uri", lenient=lenient)
    except AssetError:
        return None  # missing or refused: the reader reports it (or warns) when the job runs


def _obj_files(source: Path) -> list[Path]:
    found: list[Path] = []
    with source.open("r", encoding="utf-8", errors="replace") as fh:
        for raw in fh:
            m = _MTLLIB.match(raw)
            if not m:
                continue
            for name in m.group(1).split():
                mtl = _locate(source, name, True)
                if mtl is not None and mtl not in found:
                    found.append(mtl)
    for mtl in list(found):
        for raw in mtl.read_text(encoding="utf-8", errors="replace").splitlines():
            m = _MTL_MAPS.match(raw)
            if m:
                tex = _locate(mtl, m.group(2).split()[-1], True)  # options come before the file name
                if tex is not None and tex not in found:
                    found.append(tex)
    return found


def _gltf_files(source: Path) -> list[Path]:
    try:
        gltf = json.loads(source.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        return []  # the reader reports it when the job runs
    found: list[Path] = []
    for kind in ("buffers", "images"):
        for item in gltf.get(kind, []) if isinstance(gltf, dict) else []:
            uri = item.get("uri") if isinstance(item, dict) else None
            if isinstance(uri, str) and not uri.startswith("data:"):
                from urllib.parse import unquote

                path = _locate(source, unquote(uri), False)
                if path is not None and path not in found:
                    found.append(path)
    return found


def source_files(source: Path) -> list[Path]:
    """The model file and the files it names, in a stable order."""
    suffix = source.suffix.lower()
    extra = _obj_files(source) if suffix == ".obj" else _gltf_files(source) if suffix == ".gltf" else []
    return [source, *extra]


def publish_key(row: ManifestRow, source: Path | None = None) -> str:
    """sha256 over the source files' digests (by name relative to the model) and the publish options; ``source``
    is the local copy of a model fetched from a bucket."""
    source = source or Path(row.source)
    files = {str(p.relative_to(source.parent)) if p.is_relative_to(source.parent) else p.name: file_sha256(p)
             for p in source_files(source)}
    spec = {"v": KEY_VERSION, "files": files, "sku": row.sku, "category": row.category, "units": row.units,
            "up": row.up, "lods": list(row.lods), "texture_format": row.texture_format,
            "variants": list(row.variants), "note": row.note}
    if row.texture_max_size is not None:  # options added later: in the address only when given
        spec["texture_max_size"] = row.texture_max_size
    if not row.lod_textures:
        spec["lod_textures"] = False
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()
