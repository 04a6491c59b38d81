"""Input formats: suffix -> reader. ``read(path)`` is the one entry point for every model file."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

from ..document import AssetDocument
from ..errors import AssetError, InvalidAsset, UnsupportedFormat
from ..limits import DEFAULT_LIMITS, Limits
from .resources import check_input_file, check_input_size, read_input

Reader = Callable[[Path, bytes, Limits], AssetDocument]


def _gltf(path: Path, data: bytes, limits: Limits) -> AssetDocument:
    from .gltf import read_gltf

    return read_gltf(path, data, limits)


def _obj(path: Path, data: bytes, limits: Limits) -> AssetDocument:
    from .obj import read_obj

    return read_obj(path, data, limits)


def _obj_file(path: Path, limits: Limits) -> AssetDocument:
    from .obj import read_obj_file

    return read_obj_file(path, limits)


def _stl(path: Path, data: bytes, limits: Limits) -> AssetDocument:
    from .stl import read_stl

    return read_stl(path, data, limits)


def _stl_file(path: Path, limits: Limits) -> AssetDocument:
    from .stl import read_stl_file

    return read_stl_file(path, limits)


def _ply(path: Path, data: bytes, limits: Limits) -> AssetDocument:
    from .ply import read_ply

    return read_ply(path, data, limits)


READERS: dict[str, Reader] = {".gltf": _gltf, ".glb": _gltf, ".obj": _obj, ".stl": _stl, ".ply": _ply}
STREAMING: dict[str, Callable[[Path, Limits], AssetDocument]] = {".obj": _obj_file, ".stl": _stl_file}
"""Readers that read the file in blocks themselves (its bytes are never held whole)."""


def read(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> AssetDocument:
    """Read any supported model file into an AssetDocument; raises AssetError naming the file."""
    path = Path(path)
    reader = READERS.get(path.suffix.lower())
    if path.is_dir():
        check_input_file(path, f"a model file: {', '.join(sorted(READERS))}")
    if reader is None:
        raise UnsupportedFormat(
            f"unknown model type {path.suffix or '(no suffix)'!r}; supported: {', '.join(sorted(READERS))}",
            path=path)
    try:
        streaming = STREAMING.get(path.suffix.lower())
        if streaming is not None:
            check_input_size(path, limits)
            return streaming(path, limits)
        return reader(path, read_input(path, limits), limits)
    except AssetError as exc:
        raise exc.at(path) from None
    except MemoryError:
        raise InvalidAsset("not enough memory to read the file", path=path) from None
    except (ValueError, TypeError, IndexError, KeyError, OverflowError, struct.error) as exc:
        # a reader met data its own checks did not foresee: still the input's fault, said in one line
        raise InvalidAsset(f"malformed data ({type(exc).__name__}: {exc})", path=path) from None
