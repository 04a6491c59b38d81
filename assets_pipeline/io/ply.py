"""PLY (ASCII, binary little/big endian) -> AssetDocument.

Reads vertex positions, normals, colors and texture coordinates, and faces given as polygon lists
(``face``) or as triangle strips with -1 restarts (``tristrips``), as some scanners write them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..document import AssetDocument
from ..errors import InvalidAsset, LimitExceeded, UnsupportedFormat
from ..limits import Limits
from .polygons import triangulate

_TYPES = {"char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1", "short": "i2", "int16": "i2",
          "ushort": "u2", "uint16": "u2", "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
          "float": "f4", "float32": "f4", "double": "f8", "float64": "f8"}


class _Element:
    def __init__(self, name: str, count: int) -> None:
        self.name = name
        self.count = count
        self.props: list[tuple[str, str, str | None]] = []  # name, type, list-count type


def _header(path: Path, data: bytes) -> tuple[str, list[_Element], int]:
    end = data.find(b"end_header")
    if not data.startswith(b"ply") or end < 0:
        raise InvalidAsset("not a PLY file (missing 'ply' magic or 'end_header')", path=path)
    body_start = data.index(b"\n", end) + 1 if b"\n" in data[end:] else len(data)
    fmt = ""
    elements: list[_Element] = []
    for raw in data[:end].decode("ascii", errors="replace").splitlines()[1:]:
        parts = raw.split()
        if not parts or parts[0] in ("comment", "obj_info"):
            continue
        try:
            if parts[0] == "format":
                fmt = parts[1]
            elif parts[0] == "element":
                elements.append(_Element(parts[1], int(parts[2])))
            elif parts[0] == "property":
                if not elements:
                    raise InvalidAsset("property before any element", path=path, field="header")
                if parts[1] == "list":
                    elements[-1].props.append((parts[4], _TYPES[parts[3]], _TYPES[parts[2]]))
                else:
                    elements[-1].props.append((parts[2], _TYPES[parts[1]], None))
        except (IndexError, ValueError, KeyError):
            raise InvalidAsset(f"malformed header line {raw.strip()!r}", path=path, field="header") from None
    if fmt not in ("ascii", "binary_little_endian", "binary_big_endian"):
        raise UnsupportedFormat(f"PLY format {fmt!r}", path=path, field="header")
    return fmt, elements, body_start


def read_ply(path: Path, data: bytes, limits: Limits) -> AssetDocument:
    """Read PLY bytes (ASCII or binary; polygons or triangle strips) into an AssetDocument."""
    fmt, elements, offset = _header(path, data)
    for el in elements:
        if el.count < 0:
            raise InvalidAsset(f"element {el.name!r} has a negative count {el.count}", path=path, field="header")
        if el.count > limits.max_elements:
            raise LimitExceeded(f"element {el.name!r} count", el.count, limits.max_elements, path=path)
    values: dict[str, dict[str, Any]] = {}
    if fmt == "ascii":
        tokens = data[offset:].split()
        pos = 0
        for el in elements:
            values[el.name], pos = _read_ascii(el, tokens, pos, path)
    else:
        order = "<" if fmt == "binary_little_endian" else ">"
        for el in elements:
            values[el.name], offset = _read_binary(el, data, offset, order, path)
    vertex = values.get("vertex")
    if not vertex or not {"x", "y", "z"} <= vertex.keys():
        raise InvalidAsset("no vertex element with x, y, z", path=path, field="vertex")
    positions = np.stack([vertex["x"], vertex["y"], vertex["z"]], axis=1)
    if positions.dtype != np.float32:  # float32 coordinates stay as they are (every use widens them exactly)
        positions = positions.astype(np.float64)
    if not np.isfinite(positions).all():
        raise InvalidAsset("vertex positions hold NaN or infinite values", path=path, field="vertex")
    tris = _faces(values, positions, path)
    n = len(positions)
    if len(tris) == 0:
        raise InvalidAsset("no faces: a point cloud is not a model (use 'scanning mesh' to mesh it)", path=path)
    if tris.min() < 0 or tris.max() >= n:
        bad = int(tris.min()) if tris.min() < 0 else int(tris.max())
        raise InvalidAsset(f"a face refers to vertex {bad}, but only {n} vertices exist (0..{n - 1})", path=path,
                           field="face")
    normals = colors = texcoords = None
    if {"nx", "ny", "nz"} <= vertex.keys():
        nrm = np.stack([vertex["nx"], vertex["ny"], vertex["nz"]], axis=1).astype(np.float64)
        length = np.linalg.norm(nrm, axis=1, keepdims=True)
        if np.isfinite(nrm).all() and (length > 0).all():
            normals = nrm / length
    names = [c for c in ("red", "green", "blue", "alpha") if c in vertex]
    if len(names) >= 3:
        cols = np.stack([vertex[c] for c in names], axis=1)
        colors = cols.astype(np.uint8) if cols.dtype == np.uint8 else np.clip(cols, 0, 1).astype(np.float32)
    for u, v in (("s", "t"), ("u", "v"), ("texture_u", "texture_v")):
        if u in vertex and v in vertex:
            texcoords = np.stack([vertex[u], 1.0 - vertex[v]], axis=1)
            break
    doc = AssetDocument.from_mesh_arrays(positions, tris.astype(np.uint32), normals, colors, texcoords,
                                         name=path.stem)
    doc.source = str(path)
    return doc


def _faces(values: dict[str, dict[str, Any]], positions: np.ndarray, path: Path) -> np.ndarray:
    if "face" in values:
        lists = next((v for k, v in values["face"].items() if k in ("vertex_indices", "vertex_index")), None)
        if lists is None:
            raise InvalidAsset("face element without vertex_indices", path=path, field="face")
        if isinstance(lists, np.ndarray):
            return _fan(lists)
        tris: list[list[int]] = []
        for poly in lists:
            p = [int(i) for i in poly]
            bad = [i for i in p if not 0 <= i < len(positions)]
            if bad:
                raise InvalidAsset(f"a face refers to vertex {bad[0]}, but only {len(positions)} vertices exist "
                                   f"(0..{len(positions) - 1})", path=path, field="face")
            if len(p) >= 3:
                tris.extend([p[a], p[b], p[c]] for a, b, c in triangulate(p, positions))
        return np.array(tris, np.int64).reshape(-1, 3)
    if "tristrips" in values:
        strips = next(iter(values["tristrips"].values()))
        flat = np.concatenate([np.asarray(s, np.int64) for s in strips]) if len(strips) else np.zeros(0, np.int64)
        return _unstrip(flat)
    return np.zeros((0, 3), np.int64)


def _fan(lists: np.ndarray) -> np.ndarray:
    """Uniform polygon lists (m, k) -> triangle fans (m * (k - 2), 3)."""
    k = lists.shape[1]
    dtype = lists.dtype if lists.dtype.kind == "i" else np.int64  # signed: a negative index is reported as such
    if k == 3:
        return lists.astype(dtype)
    parts = [lists[:, [0, i, i + 1]] for i in range(1, k - 1)]
    return np.stack(parts, axis=1).reshape(-1, 3).astype(dtype)


def _unstrip(strip: np.ndarray) -> np.ndarray:
    """Triangle strips with -1 restarts -> triangle list (every second triangle flipped to keep the winding,
    degenerate ones dropped), vectorized over the whole strip."""
    if len(strip) < 3:
        return np.zeros((0, 3), np.int64)
    pos = np.arange(len(strip))
    last_restart = np.maximum.accumulate(np.where(strip < 0, pos, -1))
    parity = ((pos - last_restart - 1) % 2).astype(bool)[:-2]
    a, b, c = strip[:-2], strip[1:-1], strip[2:]
    tri = np.stack([a, np.where(parity, c, b), np.where(parity, b, c)], axis=1)
    keep = (a >= 0) & (b >= 0) & (c >= 0) & (a != b) & (b != c) & (a != c)
    return tri[keep]


def _read_binary(el: _Element, data: bytes, offset: int, order: str, path: Path) -> tuple[dict[str, Any], int]:
    if all(t is None for _, _, t in el.props):
        dt = np.dtype([(n, order + t) for n, t, _ in el.props])
        if offset + dt.itemsize * el.count > len(data):
            raise InvalidAsset(f"truncated: element {el.name!r} needs {dt.itemsize * el.count} bytes", path=path)
        arr = np.frombuffer(data, dt, count=el.count, offset=offset)
        return {n: arr[n] for n, _, _ in el.props}, offset + dt.itemsize * el.count
    fixed = _read_fixed_lists(el, data, offset, order, path)
    if fixed is not None:
        return fixed
    out: dict[str, list[Any]] = {n: [] for n, _, _ in el.props}
    for _ in range(el.count):
        for n, t, ct in el.props:
            if ct is None:
                dt = np.dtype(order + t)
                if offset + dt.itemsize > len(data):
                    raise InvalidAsset(f"truncated: element {el.name!r}", path=path)
                out[n].append(np.frombuffer(data, dt, count=1, offset=offset)[0])
                offset += dt.itemsize
            else:
                cdt, vdt = np.dtype(order + ct), np.dtype(order + t)
                if offset + cdt.itemsize > len(data):
                    raise InvalidAsset(f"truncated: element {el.name!r}", path=path)
                k = int(np.frombuffer(data, cdt, count=1, offset=offset)[0])
                offset += cdt.itemsize
                if k < 0 or offset + k * vdt.itemsize > len(data):
                    raise InvalidAsset(f"truncated or negative list in element {el.name!r}", path=path)
                out[n].append(np.frombuffer(data, vdt, count=k, offset=offset))
                offset += k * vdt.itemsize
    return {n: (np.array(v) if el.props[i][2] is None else v) for i, (n, v) in enumerate(out.items())}, offset


def _read_fixed_lists(el: _Element, data: bytes, offset: int, order: str,
                      path: Path) -> tuple[dict[str, Any], int] | None:
    """An element whose one list property has the same length in every row, read as one record array (None when
    it has not: the row-by-row reader takes it). Beside other properties (a face's colour) only triangle lists are
    read this way, the lists the row-by-row reader would keep as they are."""
    lists = [i for i, (_, _, ct) in enumerate(el.props) if ct is not None]
    if len(lists) != 1 or el.count <= 0:
        return None
    at = lists[0]
    fields: list[tuple[Any, ...]] = []
    for i, (_n, t, ct) in enumerate(el.props):
        fields += [(f"f{i}", order + t)] if ct is None else [(f"n{i}", order + ct)]
    head = np.dtype(fields[:at + 1])  # the properties up to the list's count
    if offset + head.itemsize > len(data):
        raise InvalidAsset(f"truncated: element {el.name!r}", path=path)
    k = int(np.frombuffer(data, head, count=1, offset=offset)[0][f"n{at}"])
    if not 0 <= k <= 4096 or (len(el.props) > 1 and k != 3):
        return None
    fields.insert(at + 1, (f"v{at}", order + el.props[at][1], (k,)))
    rec = np.dtype(fields)
    if offset + rec.itemsize * el.count > len(data):
        return None
    arr = np.frombuffer(data, rec, count=el.count, offset=offset)
    if not (arr[f"n{at}"] == k).all():
        return None
    rows = arr[f"v{at}"] if el.count > 1 or k == 3 else [arr[f"v{at}"][0]]
    out = {n: rows if i == at else arr[f"f{i}"] for i, (n, _, _) in enumerate(el.props)}
    return out, offset + rec.itemsize * el.count


def _read_ascii(el: _Element, tokens: list[bytes], pos: int, path: Path) -> tuple[dict[str, Any], int]:
    out: dict[str, list[Any]] = {n: [] for n, _, _ in el.props}
    try:
        if all(t is None for _, _, t in el.props):
            k = len(el.props)
            block = np.array(tokens[pos: pos + k * el.count], dtype=np.float64)
            if block.size != k * el.count:
                raise InvalidAsset(f"truncated: element {el.name!r}", path=path)
            block = block.reshape(el.count, k)
            return {n: block[:, i].astype(t) for i, (n, t, _) in enumerate(el.props)}, pos + k * el.count
        for _ in range(el.count):
            for n, _t, ct in el.props:
                if ct is None:
                    out[n].append(float(tokens[pos]))
                    pos += 1
                else:
                    k = int(tokens[pos])
                    out[n].append([int(x) for x in tokens[pos + 1: pos + 1 + k]])
                    if len(out[n][-1]) != k:
                        raise InvalidAsset(f"truncated: element {el.name!r}", path=path)
                    pos += 1 + k
    except (ValueError, IndexError):
        raise InvalidAsset(f"malformed or truncated data in element {el.name!r}", path=path) from None
    return {n: (np.array(v) if el.props[i][2] is None else v) for i, (n, v) in enumerate(out.items())}, pos
