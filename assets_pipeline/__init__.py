"""Phygital asset pipeline: any product model in, a validated, AR-ready, optimized GLB out.

Library use::

    from assets_pipeline import optimize_file, OptimizeOptions
    report = optimize_file("chair.obj", "chair.glb", OptimizeOptions(lods=(0.5, 0.25)))

    from assets_pipeline import AssetDocument, optimize_document, write_glb
    doc = AssetDocument.from_mesh_arrays(positions, triangles, colors=colors)
    optimize_document(doc)
    write_glb(doc, "scan.glb")

Heavy modules are imported on first use, so ``python -m assets_pipeline --help`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import AssetError, InvalidAsset, LimitExceeded, MissingEncoder, UnsafeURI, UnsupportedFormat
from .limits import Limits

if TYPE_CHECKING:
    from .document import Accessor, AssetDocument, Image
    from .io.atomic import write_bytes_atomic, write_files_atomic
    from .io.formats import read
    from .io.glb import WriteOptions, encode_glb, write_glb
    from .pipeline import OptimizeOptions, optimize_document, optimize_file

_LAZY = {  # loaded on first use: a server that only reads settings or errors does not load numpy
    "Accessor": ".document",
    "AssetDocument": ".document",
    "Image": ".document",
    "read": ".io.formats",
    "write_bytes_atomic": ".io.atomic",
    "write_files_atomic": ".io.atomic",
    "write_glb": ".io.glb",
    "encode_glb": ".io.glb",
    "WriteOptions": ".io.glb",
    "OptimizeOptions": ".pipeline",
    "optimize_document": ".pipeline",
    "optimize_file": ".pipeline",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(name)


__all__ = [
    "Accessor", "AssetDocument", "AssetError", "Image", "InvalidAsset", "LimitExceeded", "Limits",
    "MissingEncoder", "OptimizeOptions", "UnsafeURI", "UnsupportedFormat", "WriteOptions", "encode_glb",
    "optimize_document", "optimize_file", "read", "write_bytes_atomic", "write_files_atomic", "write_glb",
]
