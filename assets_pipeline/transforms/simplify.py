"""Simplify triangle primitives with meshoptimizer to a triangle ratio, bounded by a relative error.

meshoptimizer keeps attribute seams (vertices split by UV or normal) intact and only moves border
vertices along the border; ``lock_border`` pins them entirely (for meshes that must stay joined).
The simplifier is passed in, so this module needs no native code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..document import TRIANGLES, AssetDocument
from .base import Transform

NAME = "simplify"
Simplifier = Callable[..., tuple[np.ndarray, float]]
Scorer = Callable[[np.ndarray, np.ndarray, np.ndarray], float]
"""score(positions, original triangles, simplified triangles) -> error (lower is better)."""


@dataclass(frozen=True, slots=True)
class SimplifyOptions:
    """Simplification target ratio, error bound, border locking and how many candidate orders are tried."""
    ratio: float = 0.5
    """Target fraction of triangles to keep."""
    error: float = 0.01
    """Largest error allowed, relative to the mesh's extent (0.01 = 1 %)."""
    lock_border: bool = False
    candidates: int = 6
    """With a scorer: simplify this many triangle orders and keep the result with the lowest error.
    The simplifier's greedy choices depend on the order; on stanford-bunny at 50 % the symmetric Hausdorff
    error varied between 0.053 % and 0.064 % of the diagonal over six orders."""


DEFAULTS = SimplifyOptions()


def simplify(options: SimplifyOptions, simplifier: Simplifier, scorer: Scorer | None = None) -> Transform:
    """Return the transform that simplifies every primitive with ``simplifier`` (the candidate ``scorer`` keeps the
    best)."""
    def _apply(doc: AssetDocument) -> None:
        flags = 1 if options.lock_border else 0
        for _, _, prim in doc.primitives():
            attrs = prim.get("attributes", {})
            if prim.get("mode", TRIANGLES) != TRIANGLES or "indices" not in prim or "POSITION" not in attrs:
                continue
            if prim.get("targets"):
                continue  # morph targets would need every target simplified alike
            idx = doc.accessors[prim["indices"]].array.reshape(-1)
            target = max(3, int(len(idx) // 3 * options.ratio) * 3)
            if target >= len(idx):
                continue
            pos = doc.accessors[attrs["POSITION"]].as_float()
            out, _err = simplifier(idx, pos, target, options.error, flags)
            if scorer is not None and options.candidates > 1:
                rng = np.random.default_rng(len(idx))  # deterministic: same input, same output
                tris = idx.reshape(-1, 3)
                best = (scorer(pos, tris, out.reshape(-1, 3)), out)
                for _ in range(options.candidates - 1):
                    shuffled = tris[rng.permutation(len(tris))].reshape(-1)
                    cand, _ = simplifier(shuffled, pos, target, options.error, flags)
                    score = scorer(pos, tris, cand.reshape(-1, 3))
                    if score < best[0]:
                        best = (score, cand)
                out = best[1]
            if len(out) == 0:
                out = idx[:0]
            prim["indices"] = doc.add_accessor(out.astype(np.uint32))

    return Transform(NAME, _apply)
