"""Shorter glTF JSON with the same meaning: numbers in as few digits as keep their value, defaults left out.

On a small model the JSON chunk is most of the file (RiggedFigure: 15.9 KB of 21.6 KB, most of it in node
transforms and accessor bounds written with 17 significant digits).

- Numbers: an integer-valued float is written as an integer; a float that is exactly a float32 (as every
  value read from a binary buffer or computed in float32 is) is written with the fewest digits that give back
  the same float32, which is how every viewer stores it; other floats with the fewest digits, up to 12
  significant, within 5e-12 of their value (relative). Numbers under ``extras`` and inside extensions other
  than ``KHR_*`` ones are left exactly as they are (applications may keep doubles there: geographic
  coordinates, for instance).
- Defaults: properties equal to the glTF 2.0 schema's default (a node's identity transform, a primitive's
  ``mode`` 4, a material's black emissive factor and opaque alpha mode, ``byteOffset`` 0, ``normalized``
  false, a sampler's ``LINEAR`` interpolation and repeat wrapping, texture transforms that do nothing) are
  left out; a reader fills in the same values.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from ..refs import _texture_infos

_IDENTITY = [1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0]
REPEAT = 10497

_DEFAULTS: dict[str, dict[str, Any]] = {
    "node": {"translation": [0, 0, 0], "rotation": [0, 0, 0, 1], "scale": [1, 1, 1], "matrix": _IDENTITY},
    "primitive": {"mode": 4},
    "material": {"emissiveFactor": [0, 0, 0], "alphaMode": "OPAQUE", "alphaCutoff": 0.5, "doubleSided": False},
    "pbr": {"baseColorFactor": [1, 1, 1, 1], "metallicFactor": 1, "roughnessFactor": 1},
    "texture_info": {"texCoord": 0},
    "normal_info": {"scale": 1},
    "occlusion_info": {"strength": 1},
    "accessor": {"byteOffset": 0, "normalized": False},
    "buffer_view": {"byteOffset": 0},
    "anim_sampler": {"interpolation": "LINEAR"},
    "tex_sampler": {"wrapS": REPEAT, "wrapT": REPEAT},
    "texture_transform": {"offset": [0, 0], "rotation": 0, "scale": [1, 1]},
}


def short_float(x: float) -> float | int:
    """``x`` as the number with the fewest digits that keeps its value (see the module docstring)."""
    if not math.isfinite(x):
        return x
    if x == int(x) and abs(x) < 2**53:
        return int(x)
    f32 = np.float32(x)
    if float(f32) == x:  # exactly a float32: the shortest text that reads back as the same float32
        return float(np.format_float_positional(f32, unique=True, trim="-")
                     if 1e-4 <= abs(x) < 1e16 else np.format_float_scientific(f32, unique=True, trim="-"))
    for digits in range(6, 13):
        y = float(f"{x:.{digits}g}")
        if abs(y - x) <= 5e-12 * abs(x):
            return y
    return x


def _numbers(value: Any) -> Any:
    """Every float in ``value`` shortened, except under ``extras`` and non-KHR extensions."""
    if isinstance(value, float):
        return short_float(value)
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k == "extras":
                out[k] = v
            elif k == "extensions" and isinstance(v, dict):
                out[k] = {name: _numbers(ext) if name.startswith("KHR_") else ext for name, ext in v.items()}
            else:
                out[k] = _numbers(v)
        return out
    return value


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    return bool(a == b)


def _drop_defaults(obj: Any, kind: str) -> None:
    if not isinstance(obj, dict):
        return
    for key, default in _DEFAULTS[kind].items():
        if key in obj and _equal(obj[key], default):
            del obj[key]


def _texture_info(info: dict[str, Any], kind: str) -> None:
    _drop_defaults(info, kind)
    tt = info.get("extensions", {}).get("KHR_texture_transform")
    if isinstance(tt, dict):
        _drop_defaults(tt, "texture_transform")
        if "texCoord" in tt and _equal(tt["texCoord"], info.get("texCoord", 0)):  # overrides it with itself
            del tt["texCoord"]
        for key in ("offset", "rotation", "scale"):  # the shader applies them in float32: exact as float32
            value = tt.get(key)
            if isinstance(value, list):
                tt[key] = [_float32(v) for v in value]
            elif value is not None:
                tt[key] = _float32(value)


def _float32(x: Any) -> Any:
    """A number as the float32 nearest it, in its shortest text (anything else as it is)."""
    if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
        return x
    return short_float(float(np.float32(x)))


def compact(gltf: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of glTF JSON with shortened numbers and without default-valued core properties."""
    out: dict[str, Any] = _numbers(gltf)
    for node in out.get("nodes", []):
        _drop_defaults(node, "node")
    for mesh in out.get("meshes", []):
        for prim in mesh.get("primitives", []) if isinstance(mesh, dict) else []:
            _drop_defaults(prim, "primitive")
    for mat in out.get("materials", []):
        if not isinstance(mat, dict):
            continue
        _drop_defaults(mat, "material")
        pbr = mat.get("pbrMetallicRoughness")
        if isinstance(pbr, dict):
            _drop_defaults(pbr, "pbr")
            if not pbr:
                del mat["pbrMetallicRoughness"]
        for info in _texture_infos(mat):  # core and extension slots: texCoord 0, transforms that do nothing
            _texture_info(info, "texture_info")
        for key, kind in (("normalTexture", "normal_info"), ("occlusionTexture", "occlusion_info")):
            if isinstance(mat.get(key), dict):
                _drop_defaults(mat[key], kind)
    for acc in out.get("accessors", []):
        _drop_defaults(acc, "accessor")
    for view in out.get("bufferViews", []):
        _drop_defaults(view, "buffer_view")
    for anim in out.get("animations", []):
        for s in anim.get("samplers", []) if isinstance(anim, dict) else []:
            _drop_defaults(s, "anim_sampler")
    for s in out.get("samplers", []):
        _drop_defaults(s, "tex_sampler")
    return out


def number_text(x: float) -> str:
    """The shortest JSON text of a float that reads back as the same double: Python's shortest digits, in
    exponent form where that is shorter (0.00089 -> 8.9e-4: the dequantization scale of nearly every product,
    three times on each node)."""
    if not math.isfinite(x):
        raise ValueError(f"JSON cannot hold {x!r}")
    text = repr(x)
    digits = text.lstrip("-").replace(".", "").split("e")[0].strip("0") or "0"
    sci = f"{x:.{max(0, len(digits) - 1)}e}"
    mantissa, _, exponent = sci.partition("e")
    sci = f"{mantissa}e{int(exponent)}"
    return sci if len(sci) < len(text) and float(sci) == x else text


def dumps(value: Any) -> str:
    """JSON text without spaces, strings in UTF-8 as they are (no \\u escapes), floats as
    :func:`number_text` writes them; NaN and infinities refused."""
    parts: list[str] = []
    _write(value, parts)
    return "".join(parts)


def _write(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif value is None or isinstance(value, bool):
        out.append(json.dumps(value))
    elif isinstance(value, int):
        out.append(str(int(value)))
    elif isinstance(value, float):
        out.append(number_text(value))
    elif isinstance(value, dict):
        out.append("{")
        for i, (k, v) in enumerate(value.items()):
            if i:
                out.append(",")
            out.append(json.dumps(str(k), ensure_ascii=False) + ":")
            _write(v, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, v in enumerate(value):
            if i:
                out.append(",")
            _write(v, out)
        out.append("]")
    else:
        raise TypeError(f"JSON cannot hold a {type(value).__name__}")


__all__ = ["compact", "dumps", "number_text", "short_float"]
