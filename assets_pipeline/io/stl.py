"""STL (binary and ASCII) -> AssetDocument. STL stores every triangle's corners separately; the
pipeline's weld step joins them."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import numpy as np

from ..document import AssetDocument
from ..errors import InvalidAsset, LimitExceeded
from ..limits import Limits

_VERTEX = re.compile(rb"vertex\s+(\S+)\s+(\S+)\s+(\S+)")


_RECORD = np.dtype([("n", "<f4", 3), ("v", "<f4", (3, 3)), ("attr", "<u2")])
_RECORDS_PER_BLOCK = 65536


def read_stl(path: Path, data: bytes, limits: Limits) -> AssetDocument:
    """Read binary or ASCII STL bytes into an AssetDocument; InvalidAsset when empty or not finite."""
    tris = _binary(path, data, limits) if _is_binary(data) else _ascii(path, data, limits)
    return _document(path, tris)


def read_stl_file(path: Path, limits: Limits) -> AssetDocument:
    """Read an STL file; a binary one whose size matches its triangle count is read in blocks straight into
    the coordinate array (its bytes are never held whole), any other through :func:`read_stl`."""
    size = path.stat().st_size
    with path.open("rb") as f:
        header = f.read(84)
        count = struct.unpack_from("<I", header, 80)[0] if len(header) == 84 else -1
        if count < 0 or 84 + 50 * count != size:
            return read_stl(path, header + f.read(), limits)
        if count * 3 > limits.max_elements:
            raise LimitExceeded("triangle count", count, limits.max_elements // 3, path=path)
        tris = np.empty((count, 3, 3), np.float32)
        for start in range(0, count, _RECORDS_PER_BLOCK):
            n = min(_RECORDS_PER_BLOCK, count - start)
            block = np.frombuffer(f.read(50 * n), _RECORD)
            if len(block) != n:
                raise InvalidAsset("truncated binary STL: the file shrank while it was read", path=path)
            tris[start: start + n] = block["v"]
    return _document(path, tris)


def _document(path: Path, tris: np.ndarray) -> AssetDocument:
    if len(tris) == 0:
        raise InvalidAsset("no triangles", path=path)
    if not np.isfinite(tris).all():
        raise InvalidAsset("vertex coordinates hold NaN or infinite values", path=path, field="vertex")
    positions = np.ascontiguousarray(tris, np.float32).reshape(-1, 3)
    doc = AssetDocument.from_mesh_arrays(positions, np.arange(len(positions), dtype=np.uint32), name=path.stem)
    doc.source = str(path)
    return doc


def _is_binary(data: bytes) -> bool:
    if len(data) >= 84:
        (count,) = struct.unpack_from("<I", data, 80)
        if 84 + 50 * count == len(data):
            return True
    return data.lstrip()[:5].lower() != b"solid"


def _binary(path: Path, data: bytes, limits: Limits) -> np.ndarray:
    if len(data) < 84:
        raise InvalidAsset(f"truncated binary STL: {len(data)} bytes, the header alone is 84", path=path)
    (count,) = struct.unpack_from("<I", data, 80)
    if count * 3 > limits.max_elements:
        raise LimitExceeded("triangle count", count, limits.max_elements // 3, path=path)
    if 84 + 50 * count > len(data):
        raise InvalidAsset(f"truncated binary STL: header declares {count} triangles "
                           f"({84 + 50 * count} bytes), file has {len(data)}", path=path)
    return np.frombuffer(data, _RECORD, count=count, offset=84)["v"]  # float32, as stored (made contiguous once)


def _ascii(path: Path, data: bytes, limits: Limits) -> np.ndarray:
    if not re.search(rb"endsolid", data[-4096:]):
        raise InvalidAsset("truncated ASCII STL: no 'endsolid' at the end", path=path)
    found = _VERTEX.findall(data)
    if len(found) > limits.max_elements:
        raise LimitExceeded("vertex count", len(found), limits.max_elements, path=path)
    if len(found) % 3:
        raise InvalidAsset(f"{len(found)} vertex lines is not a whole number of triangles", path=path,
                           field="vertex")
    try:
        values = np.array(found, dtype=np.float64)
    except ValueError:
        raise InvalidAsset("a vertex coordinate is not a number", path=path, field="vertex") from None
    return values.reshape(-1, 3, 3)
