"""Virtual try-on: makeup and shoes on photos, video and live frames.

Library use (frames are RGB uint8 numpy arrays)::

    from tryon import TryOnSettings, create_tryon, parse_look

    look = parse_look('[{"kind": "lipstick", "shade": "#A3162B", "finish": "matte", "intensity": 0.85}]')
    tryon = create_tryon(look, TryOnSettings(), "image")   # "video" for streams: tracking + smoothing
    result = tryon.process(frame)                           # result.frame, result.timings, result.notes

Names are imported lazily, so ``python -m tryon --help`` loads neither OpenCV nor MediaPipe.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "TryOn": "tryon.pipeline",
    "TryOnResult": "tryon.pipeline",
    "StageTimings": "tryon.pipeline",
    "create_tryon": "tryon.factory",
    "Look": "tryon.look",
    "Product": "tryon.look",
    "parse_look": "tryon.look",
    "ProductCatalog": "tryon.catalog",
    "TryOnSettings": "tryon.settings",
    "TryOnError": "tryon.errors",
    "InvalidInput": "tryon.errors",
    "InvalidMedia": "tryon.errors",
    "InvalidLook": "tryon.errors",
    "ProcessingError": "tryon.errors",
    "FaceLandmarks": "tryon.landmarks",
    "PoseLandmarks": "tryon.landmarks",
    "LandmarkProvider": "tryon.landmarks",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'tryon' has no attribute {name!r}")
