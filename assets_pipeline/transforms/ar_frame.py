"""AR conventions: meters, Y-up, and the pivot at the bottom-center of the bounds, so a product stands
on the floor or table where an AR app places it. Everything is done by one new root node, so nothing
inside the model (skins, animations, instancing) changes."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..document import AssetDocument
from ..report import round_size
from ..scene import animated_nodes, bounds, prepend_transform
from .base import Transform

NAME = "ar_frame"
UNIT_SCALE = {"m": 1.0, "cm": 0.01, "mm": 0.001, "in": 0.0254, "ft": 0.3048}
Units = Literal["m", "cm", "mm", "in", "ft"]


@dataclass(frozen=True, slots=True)
class FrameOptions:
    """Input units, up axis and pivot for the AR frame transform."""
    units: Units = "m"
    up: Literal["y", "z"] = "y"
    pivot: Literal["bottom-center", "center", "keep"] = "bottom-center"


DEFAULTS = FrameOptions()


def ar_frame(options: FrameOptions = DEFAULTS) -> Transform:
    """Return the transform to meters, Y-up and the chosen pivot (bottom center by default)."""
    def _apply(doc: AssetDocument) -> None:
        scale = UNIT_SCALE[options.units]
        # z-up -> y-up: rotate -90 degrees about X
        rot = [-math.sqrt(0.5), 0.0, 0.0, math.sqrt(0.5)] if options.up == "z" else [0.0, 0.0, 0.0, 1.0]
        lo, hi = bounds(doc)
        corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
        if options.up == "z":
            corners = corners[:, [0, 2, 1]] * [1, 1, -1]
        corners = corners * scale
        clo, chi = corners.min(axis=0), corners.max(axis=0)
        if options.pivot == "bottom-center":
            pivot = np.array([(clo[0] + chi[0]) / 2, clo[1], (clo[2] + chi[2]) / 2])
        elif options.pivot == "center":
            pivot = (clo + chi) / 2
        else:
            pivot = np.zeros(3)
        if scale == 1.0 and options.up == "y" and np.allclose(pivot, 0, atol=1e-9):
            return
        scenes = doc.gltf.setdefault("scenes", [{"nodes": []}])
        nodes = doc.gltf.setdefault("nodes", [])
        roots = {n for scene in scenes for n in scene.get("nodes", [])}
        if roots and not roots & animated_nodes(doc.gltf) and not any("camera" in nodes[r] for r in roots):
            # fold the frame into the scene's root nodes: no extra node in the output
            for r in roots:
                prepend_transform(nodes[r], -pivot, rot, scale)
            return
        root = {"name": "ar_root"}
        if not np.allclose(pivot, 0, atol=1e-12):
            root["translation"] = [float(-v) for v in pivot]
        if options.up == "z":
            root["rotation"] = rot
        if scale != 1.0:
            root["scale"] = [scale, scale, scale]
        for scene in scenes:
            root_i = len(nodes)
            nodes.append(dict(root, children=list(scene.get("nodes", []))))
            scene["nodes"] = [root_i]

    return Transform(NAME, _apply)


def dimensions(doc: AssetDocument) -> list[float]:
    """Width, height, depth of the model's bounds, to 0.1 mm (in its units; meters after ar_frame)."""
    lo, hi = bounds(doc)
    return [round_size(v) for v in (hi - lo)]


PRODUCT_SIZE_M = (0.003, 30.0)
"""Largest dimension of a plausible product, in meters (a stud earring to a large piece of furniture)."""


def _length(meters: float) -> str:
    return f"{meters * 1000:.3g} mm" if meters < 0.01 else f"{meters * 100:.3g} cm" if meters < 1 else f"{meters:.3g} m"


def size_warning(dimensions_m: list[float], units: str, size_m: tuple[float, float] = PRODUCT_SIZE_M,
                 what: str = "a product") -> str | None:
    """A warning when the model's largest dimension (meters, after ``units`` were applied) is outside ``size_m``,
    naming the units that would make it plausible; None when it is plausible (or empty)."""
    largest = max(dimensions_m, default=0.0)
    low, high = size_m
    if largest <= 0 or low <= largest <= high:
        return None
    raw = largest / UNIT_SCALE[units]
    fits = sorted((u for u, k in UNIT_SCALE.items() if u != units and low <= raw * k <= high),
                  key=lambda u: abs(math.log(raw * UNIT_SCALE[u] / 0.5)))  # nearest a typical half meter first
    hint = ("; read as " + " or ".join(f"{u} it would be {_length(raw * UNIT_SCALE[u])}" for u in fits[:2])
            if fits else "")
    return (f"the model is {_length(largest)} at its largest (read as {units}): implausibly "
            f"{'small' if largest < low else 'large'} for {what}; check its units (--units){hint}")
