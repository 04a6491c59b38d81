"""Small geometry helpers for the tests: enclosed volume and surface area of a document."""

from __future__ import annotations

import numpy as np

from assets_pipeline.document import AssetDocument
from assets_pipeline.scene import world_triangles


def volume(doc: AssetDocument) -> float:
    v, f = world_triangles(doc)
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)


def area(doc: AssetDocument) -> float:
    v, f = world_triangles(doc)
    return float(np.linalg.norm(np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]]), axis=1).sum() / 2)
