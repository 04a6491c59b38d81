"""Finding the object: table plane, bounds, and the fallback when there is no table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scanning.errors import ReconstructionError
from scanning.frames import Frame
from scanning.region import backproject, find_region
from scanning.synthetic import NoiseModel, SynthOptions, synthesize


def _frames(cap) -> list[Frame]:  # type: ignore[no-untyped-def]
    return [Frame(i, c, d, p) for i, (c, d, p) in enumerate(zip(cap.colors, cap.depths, cap.poses, strict=True))]


def test_backproject_inverts_the_pinhole(bunny_capture) -> None:  # type: ignore[no-untyped-def]
    intr = bunny_capture.intrinsics
    pts, pix = backproject(bunny_capture.depths[0], intr)
    u = np.rint(pts[:, 0] / pts[:, 2] * intr.fx + intr.cx).astype(int)
    v = np.rint(pts[:, 1] / pts[:, 2] * intr.fy + intr.cy).astype(int)
    assert np.array_equal(v * intr.width + u, pix)


def test_without_a_table_the_cameras_give_up(corpus: Path) -> None:
    cap = synthesize(corpus / "models" / "spot.obj",
                     SynthOptions(views=8, width=160, height=120, table_radius=1e-4, noise=NoiseModel.none()))
    region = find_region(_frames(cap), cap.intrinsics)
    assert not region.has_table
    up = np.linalg.inv(region.to_object)[:3, 2]
    assert up @ [0, 0, 1] > 0.9  # the cameras are upright, so their average up is near the world's
    assert region.size == pytest.approx(float(np.linalg.norm(np.ptp(cap.truth_vertices, axis=0))), rel=0.15)


def test_empty_frames_have_no_object(bunny_capture) -> None:  # type: ignore[no-untyped-def]
    frames = [Frame(i, c, np.zeros_like(d), p) for i, (c, d, p)
              in enumerate(zip(bunny_capture.colors, bunny_capture.depths, bunny_capture.poses, strict=True))]
    with pytest.raises(ReconstructionError, match="too few depth measurements"):
        find_region(frames, bunny_capture.intrinsics)
