"""Helpers written once: vertex normals, surface sampling, quaternions, atomic writes and settings defaults live in
one place each, and the packages above the asset pipeline use its copy (issue 16, "Written twice")."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def defined(package: str) -> dict[str, list[str]]:
    """Top-level function names of every module of ``package`` -> the modules defining them."""
    out: dict[str, list[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef):
                out.setdefault(node.name.lstrip("_"), []).append(str(path.relative_to(ROOT)))
    return out


@pytest.mark.parametrize("name", ["vertex_normals", "quat_to_matrix", "random_surface_points"])
def test_geometry_helpers_are_defined_once(name: str) -> None:
    where = [m for pkg in ("assets_pipeline", "scanning", "tryon") for m in defined(pkg).get(name, [])]
    assert where == ["assets_pipeline/geometry.py"], where


def test_scan_sampling_is_the_pipelines_random_points() -> None:
    from assets_pipeline.geometry import random_surface_points
    from scanning.metrics import sample_surface

    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 2]], float)
    f = np.array([[0, 1, 2], [0, 1, 3]])
    assert np.array_equal(sample_surface(v, f, 500, seed=3), random_surface_points(v, f, 500, np.random.default_rng(3)))


def test_text_file_quaternions_are_normalized() -> None:
    from assets_pipeline.geometry import quat_to_matrix

    half_turn = quat_to_matrix((0.0, 0.0, 2.0, 0.0), normalize=True)  # not unit: 180 degrees about z
    assert np.allclose(half_turn, np.diag([-1.0, -1.0, 1.0]))
    assert np.array_equal(quat_to_matrix((0, 0, 0, 0), normalize=True), np.eye(3))


def test_no_hand_made_atomic_writers_above_the_pipeline() -> None:
    """Files are written through assets_pipeline.write_bytes_atomic; what remains writes folders (a capture) or
    streams through a library that needs a file name (OpenCV's video writer)."""
    allowed = {"scanning/frames.py": "mkdtemp", "tryon/media.py": "_temp_for"}
    for pkg in ("scanning", "tryon"):
        for path in (ROOT / pkg).rglob("*.py"):
            text = path.read_text()
            rel = str(path.relative_to(ROOT))
            for pattern in ("mkstemp", "os.replace", "tmp.replace", "NamedTemporaryFile"):
                if pattern in text:
                    assert rel in allowed and allowed[rel] in text, f"{rel} writes files by hand ({pattern})"


def test_scan_settings_defaults_are_the_options_own() -> None:
    from scanning.cleanup import CleanupOptions
    from scanning.fusion import FusionOptions
    from scanning.reconstruct import CaptureOptions, CloudOptions
    from scanning.settings import ScanSettings
    from scanning.surface import SurfaceOptions

    fields = ScanSettings.model_fields
    assert (fields["voxels_across"].default, fields["target_triangles"].default, fields["max_frames"].default,
            fields["max_cloud_points"].default, fields["poisson_depth"].default) == (
        FusionOptions().voxels_across, CleanupOptions().target_triangles, CaptureOptions().max_frames,
        CloudOptions().max_points, SurfaceOptions().depth)  # fmt: skip
    source = (ROOT / "scanning" / "settings.py").read_text()
    assert "200," not in source and "60_000" not in source  # no second copy of the numbers


def test_the_tryon_cache_folder_default_is_written_once() -> None:
    hits = [str(p.relative_to(ROOT)) for pkg in ("tryon", "session_server") for p in (ROOT / pkg).rglob("*.py")
            if "tryon-cache" in p.read_text()]  # fmt: skip
    assert hits == ["tryon/settings.py"]


def test_dead_helpers_are_gone() -> None:
    from assets_pipeline.codecs import meshopt
    from scanning import cleanup

    assert not hasattr(meshopt, "simplify_scale")  # encode_filter_exp is back: animation keyframes use it
    assert not hasattr(cleanup, "_nearest_colors")
