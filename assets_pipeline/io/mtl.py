"""MTL material libraries -> glTF metallic-roughness materials.

How Wavefront (Phong) materials map to PBR, a documented choice:

* ``Kd`` -> baseColorFactor; ``map_Kd`` -> baseColorTexture (factor white, as obj2gltf does);
  ``d`` (or ``1 - Tr``) -> alpha, with alphaMode BLEND below 1.
* ``Ns`` -> roughness = sqrt(2 / (Ns + 2)) (Blinn-Phong exponent to GGX), metallic 0; the PBR
  extension keys ``Pr``/``Pm`` win when present.
* ``Ke``/``map_Ke`` -> emissive; ``norm`` -> normalTexture; ``map_Bump``/``bump`` -> normalTexture only
  when the image is a tangent-space normal map (mostly blue), else dropped with a warning (height maps
  have no glTF slot).
* ``Ka``, ``Ks``, ``map_Ka``, ``map_Ks``, ``map_Ns``, ``illum``, ``Ni`` have no metallic-roughness
  equivalent and are dropped.
* A texture that is missing or unreadable is a warning, not an error: the material keeps its other
  properties (its base color factor from ``Kd``), so the model still converts.
"""

from __future__ import annotations

import io
import logging
import math
from dataclasses import dataclass, field
from typing import Any

from ..errors import AssetError
from .images import check_image
from .resources import ResourceResolver

logger = logging.getLogger(__name__)

# texture options and how many values each takes (-o/-s/-t take 1 to 3 numbers)
_OPTION_ARGS = {"-blendu": 1, "-blendv": 1, "-bm": 1, "-boost": 1, "-cc": 1, "-clamp": 1, "-imfchan": 1,
                "-mm": 2, "-texres": 1, "-type": 1, "-o": 3, "-s": 3, "-t": 3}


@dataclass
class ObjMaterial:
    """An MTL material as read: colours, alpha, shininess, PBR roughness and metalness, texture file names."""
    name: str
    kd: tuple[float, float, float] = (0.8, 0.8, 0.8)
    ke: tuple[float, float, float] = (0.0, 0.0, 0.0)
    alpha: float = 1.0
    ns: float | None = None
    pr: float | None = None
    pm: float | None = None
    maps: dict[str, str] = field(default_factory=dict)


def texture_file(args: list[str]) -> str:
    """The file name of a ``map_*`` statement, past its options (file names may hold spaces)."""
    i = 0
    while i < len(args) and args[i].startswith("-") and args[i].lower() in _OPTION_ARGS:
        n = _OPTION_ARGS[args[i].lower()]
        i += 1
        taken = 0
        while taken < n and i < len(args) - 1:
            try:
                float(args[i])
            except ValueError:
                if n != 1:
                    break
            i += 1
            taken += 1
    return " ".join(args[i:])


def parse_mtl(text: str) -> dict[str, ObjMaterial]:
    """Parse MTL text into materials by name."""
    materials: dict[str, ObjMaterial] = {}
    cur: ObjMaterial | None = None
    for raw in text.splitlines():
        parts = raw.strip().split()
        if not parts or parts[0].startswith("#"):
            continue
        key, args = parts[0], parts[1:]
        low = key.lower()
        if low == "newmtl":
            cur = ObjMaterial(" ".join(args))
            materials[cur.name] = cur
            continue
        if cur is None:
            continue
        try:
            if low == "kd":
                cur.kd = _rgb(args)
            elif low == "ke":
                cur.ke = _rgb(args)
            elif low == "d":
                cur.alpha = float(args[-1])
            elif low == "tr":
                cur.alpha = 1.0 - float(args[-1])
            elif low == "ns":
                cur.ns = float(args[0])
            elif low == "pr":
                cur.pr = float(args[0])
            elif low == "pm":
                cur.pm = float(args[0])
            elif low in ("map_kd", "map_ke", "map_bump", "bump", "norm", "map_d", "map_pr", "map_pm"):
                name = texture_file(args)
                if name:
                    cur.maps[low.replace("map_", "") if low != "map_d" else "d"] = name
        except (ValueError, IndexError):
            logger.debug("ignoring malformed MTL line %r", raw)
    return materials


def _rgb(args: list[str]) -> tuple[float, float, float]:
    vals = [float(a) for a in args[:3]]
    while len(vals) < 3:
        vals.append(vals[-1])
    return (vals[0], vals[1], vals[2])


class MaterialBuilder:
    """Turns OBJ materials into glTF material/texture/image entries, loading each image once."""

    def __init__(self, resolver: ResourceResolver, warn: Any) -> None:
        self.resolver = resolver
        self.warn = warn
        self.images: list[tuple[bytes, str, str]] = []  # (data, mime, name)
        self.textures: list[dict[str, Any]] = []
        self._by_file: dict[str, int | None] = {}

    def texture(self, name: str, field: str, want_normal: bool = False) -> int | None:
        """Return the texture index for an image file named by the MTL (added once), or None when it is missing."""
        key = name + ("#n" if want_normal else "")
        if key in self._by_file:
            return self._by_file[key]
        index: int | None = None
        try:
            data = self.resolver.read_relative(name, field, lenient=True)
            mime = check_image(data, self.resolver.limits, path=self.resolver.asset_path, field=field)
            if want_normal and not _looks_like_normal_map(data):
                self.warn(f"{field}: {name!r} is a height (bump) map, which glTF cannot use; dropped")
            else:
                if mime not in ("image/png", "image/jpeg", "image/webp"):
                    data, mime = _to_png(data), "image/png"
                self.images.append((data, mime, name.replace("\\", "/").rsplit("/", 1)[-1]))
                self.textures.append({"source": len(self.images) - 1})
                index = len(self.textures) - 1
        except AssetError as exc:
            self.warn(f"{field}: texture {name!r} skipped ({exc.problem}); the material keeps its other values")
        self._by_file[key] = index
        return index

    def material(self, m: ObjMaterial) -> dict[str, Any]:
        """Return the glTF material JSON for an MTL material (textures added to the document)."""
        field = f"{self.resolver.asset_path.name}: material {m.name!r}"
        pbr: dict[str, Any] = {}
        out: dict[str, Any] = {"name": m.name, "pbrMetallicRoughness": pbr}
        alpha = min(max(m.alpha, 0.0), 1.0)
        base = self.texture(m.maps["kd"], field + " map_Kd") if "kd" in m.maps else None
        color = [1.0, 1.0, 1.0] if base is not None else [min(max(c, 0.0), 1.0) for c in m.kd]
        pbr["baseColorFactor"] = [*color, alpha]
        if base is not None:
            pbr["baseColorTexture"] = {"index": base}
        pbr["metallicFactor"] = min(max(m.pm, 0.0), 1.0) if m.pm is not None else 0.0
        if m.pr is not None:
            pbr["roughnessFactor"] = min(max(m.pr, 0.0), 1.0)
        elif m.ns is not None:
            pbr["roughnessFactor"] = round(min(max(math.sqrt(2.0 / (max(m.ns, 0.0) + 2.0)), 0.04), 1.0), 4)
        if alpha < 1.0:
            out["alphaMode"] = "BLEND"
        emissive = [min(max(c, 0.0), 1.0) for c in m.ke]
        if "ke" in m.maps:
            tex = self.texture(m.maps["ke"], field + " map_Ke")
            if tex is not None:
                out["emissiveTexture"] = {"index": tex}
                if not any(emissive):
                    emissive = [1.0, 1.0, 1.0]
        if any(emissive):
            out["emissiveFactor"] = emissive
        for key in ("norm", "bump"):
            if key in m.maps:
                tex = self.texture(m.maps[key], f"{field} {key}", want_normal=True)
                if tex is not None:
                    out["normalTexture"] = {"index": tex}
                    break
        return out


def _looks_like_normal_map(data: bytes) -> bool:
    import numpy as np
    from PIL import Image as PILImage

    with PILImage.open(io.BytesIO(data)) as im:
        small = np.asarray(im.convert("RGB").resize((32, 32)), np.float64) / 255.0
    mean = small.reshape(-1, 3).mean(axis=0)
    return bool(mean[2] > 0.7 and abs(mean[0] - 0.5) < 0.15 and abs(mean[1] - 0.5) < 0.15)


def _to_png(data: bytes) -> bytes:
    from PIL import Image as PILImage

    with PILImage.open(io.BytesIO(data)) as im:
        buf = io.BytesIO()
        im.convert("RGBA" if "A" in im.getbands() or im.mode == "P" else "RGB").save(buf, "PNG")
    return buf.getvalue()
