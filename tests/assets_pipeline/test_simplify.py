"""Simplification through the pipeline on generated meshes: LOD chains only lose triangles, the error bound holds as
measured, a mesh that cannot be reduced is named in a warning, and morphed meshes are simplified with their targets."""

from __future__ import annotations

import itertools
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assets_pipeline.document import AssetDocument
from assets_pipeline.io.glb import write_glb
from assets_pipeline.metrics import PartsReference, surface_hausdorff
from assets_pipeline.pipeline import OptimizeOptions, optimize_lods
from assets_pipeline.transforms.simplify import DEFAULTS, GRID


def _bumpy_sphere(rows: int = 40, cols: int = 80, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """A closed, welded sphere with radial noise (like a scan): (positions, triangles)."""
    rng = np.random.default_rng(seed)
    theta = np.linspace(0, np.pi, rows + 1)[1:-1]
    phi = np.linspace(0, 2 * np.pi, cols, endpoint=False)
    t, p = np.meshgrid(theta, phi, indexing="ij")
    ring = np.stack([np.sin(t) * np.cos(p), np.cos(t), np.sin(t) * np.sin(p)], -1).reshape(-1, 3)
    pos = np.concatenate([[[0, 1, 0]], ring, [[0, -1, 0]]]) * (1 + 0.02 * rng.standard_normal((len(ring) + 2, 1)))
    tris = []
    for c in range(cols):
        c2 = (c + 1) % cols
        tris.append([0, 1 + c2, 1 + c])
        last = 1 + (rows - 2) * cols
        tris.append([len(pos) - 1, last + c, last + c2])
        for r in range(rows - 2):
            a, b = 1 + r * cols + c, 1 + r * cols + c2
            tris += [[a, b, b + cols], [a, b + cols, a + cols]]
    return pos.astype(np.float32), np.array(tris, np.uint32)


def _opts(**kw: object) -> OptimizeOptions:
    return OptimizeOptions(animation=None, measure_error=True, **kw)  # type: ignore[arg-type]


def test_lod_chain_only_loses_triangles_and_keeps_the_bound() -> None:
    pos, tris = _bumpy_sphere()
    doc = AssetDocument.from_mesh_arrays(pos, tris)
    report, outputs = optimize_lods(doc, _opts(lods=(0.5, 0.25, 0.1, 0.04), error=0.05))
    counts = [lod.triangles for lod in report.lods]
    assert counts[0] == len(tris)
    assert all(a > b for a, b in itertools.pairwise(counts)), counts
    assert counts[-1] <= 0.045 * len(tris), counts
    assert all(lod.error is not None and lod.error <= 0.05 for lod in report.lods), report.lods
    assert len(outputs) == 5


def test_error_bound_is_measured_and_a_stop_short_is_reported() -> None:
    pos, tris = _bumpy_sphere()
    doc = AssetDocument.from_mesh_arrays(pos, tris)
    report, _ = optimize_lods(doc, _opts(ratio=0.05, error=0.004))
    lod = report.lods[0]
    assert lod.error is not None and lod.error <= 0.004  # the noise is 2 % of the radius: 5 % cannot stay within
    assert lod.triangles > 0.1 * len(tris)
    assert any("could not reduce to 5%" in w and "error bound" in w for w in report.warnings), report.warnings


def test_lower_ratio_never_keeps_more_triangles_within_the_bound() -> None:
    # flat shaded (each triangle its own vertices and normal, like assimp's Wuson.ply): the simplifier collapses across
    # the normal seams only in permissive mode, and the measured error jumps with the goal; the old bound loop kept
    # 1,714 triangles at 60 % where 70 % gave 1,544
    pos, tris = _bumpy_sphere(24, 48, seed=1)
    corners = pos[tris.reshape(-1)]
    normals = np.cross(corners[1::3] - corners[0::3], corners[2::3] - corners[0::3])
    normals = np.repeat(normals / np.linalg.norm(normals, axis=1, keepdims=True), 3, axis=0)
    counts = []
    for ratio in (0.8, 0.7, 0.6, 0.5):
        doc = AssetDocument.from_mesh_arrays(
            corners, np.arange(len(corners), dtype=np.uint32).reshape(-1, 3), normals=normals.astype(np.float32)
        )
        report, _ = optimize_lods(doc, _opts(ratio=ratio, error=0.01))
        lod = report.lods[0]
        assert lod.error is not None and lod.error <= 0.01, (ratio, lod)
        counts.append(lod.triangles)
    assert counts[0] < len(tris), counts
    assert all(a >= b for a, b in itertools.pairwise(counts)), counts


def test_held_back_mesh_is_bisected_in_few_measurements(monkeypatch: pytest.MonkeyPatch) -> None:
    # the flat-shaded sphere at 20 % ends at about 66 % within the 1 % bound: the old scan of the ratios above in 1 %
    # steps measured 51 times; a bisection over the grid needs about log2(GRID) measurements after the bound loop
    calls = 0
    distances = PartsReference.distances

    def counted(self: PartsReference, simplified: list[np.ndarray], stop: float = np.inf) -> np.ndarray:
        nonlocal calls
        calls += 1
        return distances(self, simplified, stop)

    monkeypatch.setattr(PartsReference, "distances", counted)
    pos, tris = _bumpy_sphere(24, 48, seed=1)
    corners = pos[tris.reshape(-1)]
    normals = np.cross(corners[1::3] - corners[0::3], corners[2::3] - corners[0::3])
    normals = np.repeat(normals / np.linalg.norm(normals, axis=1, keepdims=True), 3, axis=0)
    doc = AssetDocument.from_mesh_arrays(
        corners, np.arange(len(corners), dtype=np.uint32).reshape(-1, 3), normals=normals.astype(np.float32)
    )
    report, _ = optimize_lods(doc, _opts(ratio=0.2, error=0.01))
    lod = report.lods[0]
    assert lod.error is not None and lod.error <= 0.01, lod
    assert 0.2 * len(tris) < lod.triangles < 0.9 * len(tris), lod  # held back by the bound, yet reduced
    # the bound loop (first measurement, lowered goals), the bisection, the final check, the other orders
    most = 1 + 2 * DEFAULTS.tries + math.ceil(math.log2(GRID)) + 2 + DEFAULTS.candidates - 1
    assert 0 < calls <= most, (calls, most)


def test_mesh_that_cannot_be_reduced_is_named() -> None:
    rng = np.random.default_rng(1)
    corners = rng.random((300, 1, 3)) * 10 + np.array([[0, 0, 0], [0.3, 0, 0], [0, 0.3, 0]])  # separate triangles
    doc = AssetDocument.from_mesh_arrays(corners.reshape(-1, 3), np.arange(900).reshape(-1, 3), name="confetti")
    report, _ = optimize_lods(doc, _opts(ratio=0.5, error=0.01))  # each triangle is 2 % of the diagonal wide
    assert report.lods[0].triangles == 300
    warned = [w for w in report.warnings
              if "could not reduce to 50%: kept 300 of 300 triangles (150 asked)" in w
              and "meshes[0].primitives[0] (mesh 'confetti') kept 300 of 300" in w]
    assert warned, report.warnings


def test_primitive_that_cannot_be_reduced_is_named_in_the_cli_and_its_report(tmp_path: Path) -> None:
    # one mesh, two primitives: a sphere that simplifies and separate triangles that cannot; the warning names the
    # primitive by index and material (the mesh's name alone, 'lamp', could be either)
    pos, tris = _bumpy_sphere(20, 40)
    doc = AssetDocument.from_mesh_arrays(pos, tris, name="lamp", material={"name": "brass"})
    rng = np.random.default_rng(1)
    corners = rng.random((300, 1, 3)) * 2 - 1 + np.array([[0, 0, 0], [0.06, 0, 0], [0, 0.06, 0]])
    doc.gltf["meshes"][0]["primitives"].append({
        "attributes": {"POSITION": doc.add_accessor(corners.reshape(-1, 3).astype(np.float32))},
        "indices": doc.add_accessor(np.arange(900, dtype=np.uint32)), "material": 1})
    doc.gltf["materials"].append({"name": "glitter", "pbrMetallicRoughness": {"baseColorFactor": [1, 0.8, 0, 1]}})
    write_glb(doc, tmp_path / "lamp.glb")
    r = subprocess.run([sys.executable, "-m", "assets_pipeline", "optimize", str(tmp_path / "lamp.glb"), "-o",
                        str(tmp_path / "out.glb"), "--ratio", "0.5", "--report", str(tmp_path / "report.json")],
                       capture_output=True, text=True, timeout=300, check=False,
                       env={**os.environ, "COLUMNS": "500", "NO_COLOR": "1"})
    assert r.returncode == 0, r.stderr
    named = "meshes[0].primitives[1] (mesh 'lamp', material 'glitter') kept 300 of 300"
    assert "could not reduce to 50%" in r.stderr and named in r.stderr, r.stderr
    warnings = json.loads((tmp_path / "report.json").read_text())["warnings"]
    assert any("could not reduce to 50%" in w and named in w for w in warnings), warnings


def test_morphed_mesh_is_simplified_keeping_its_targets() -> None:
    pos, tris = _bumpy_sphere()
    bump = np.zeros_like(pos)
    bump[:, 1] = np.where(pos[:, 0] > 0.3, 0.5 * (pos[:, 0] - 0.3), 0.0)  # a morph that lifts one side
    doc = AssetDocument.from_mesh_arrays(pos, tris)
    prim = doc.gltf["meshes"][0]["primitives"][0]
    prim["targets"] = [{"POSITION": doc.add_accessor(bump)}]
    doc.gltf["meshes"][0]["weights"] = [0.0]
    report, outputs = optimize_lods(doc, _opts(ratio=0.5, error=0.05, quantize=False))
    assert report.lods[0].triangles <= 0.55 * len(tris)
    out = outputs[0].doc
    prim = out.gltf["meshes"][0]["primitives"][0]
    assert len(prim["targets"]) == 1
    v = out.accessors[prim["attributes"]["POSITION"]].as_float().astype(np.float64)
    d = out.accessors[prim["targets"][0]["POSITION"]].as_float().astype(np.float64)
    f = out.accessors[prim["indices"]].array.reshape(-1, 3)
    assert len(d) == len(v)
    # with the morph fully on, the simplified mesh stays close to the morphed original (same frame: compare
    # shapes after moving both to their own bounding-box centre)
    morphed_in, morphed_out = pos + bump, v + d
    morphed_in -= (morphed_in.max(0) + morphed_in.min(0)) / 2
    morphed_out -= (morphed_out.max(0) + morphed_out.min(0)) / 2
    assert surface_hausdorff(morphed_in, tris.astype(np.int64), morphed_out, f.astype(np.int64), 20_000) < 0.02


def test_reference_is_prepared_before_the_simplifier_runs_and_then_used(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[bool] = []
    init = PartsReference.__init__

    def recorded(self: PartsReference, parts: list[tuple[np.ndarray, np.ndarray]], samples: int = 20_000,
                 seed: int = 0, background: bool = False) -> None:
        made.append(background)
        init(self, parts, samples, seed, background)

    monkeypatch.setattr(PartsReference, "__init__", recorded)
    pos, tris = _bumpy_sphere()
    report, _ = optimize_lods(AssetDocument.from_mesh_arrays(pos, tris), _opts(ratio=0.3, error=0.05))
    # one reference, made in the background when the simplify step starts; the measurements found it (the same
    # parts), so none was made again
    assert made == [True], made
    assert report.lods[0].error is not None and report.lods[0].error <= 0.05
    # two primitives: the union's reference, then the one of the part tried in other triangle orders, made while
    # node simplifies those orders
    made.clear()
    red = {"pbrMetallicRoughness": {"baseColorFactor": [1, 0, 0, 1]}}
    doc = AssetDocument.from_mesh_arrays(pos, tris, material=red)
    small, small_tris = _bumpy_sphere(20, 40, seed=5)
    doc.gltf["materials"].append({"pbrMetallicRoughness": {"baseColorFactor": [0, 0, 1, 1]}})
    doc.gltf["meshes"][0]["primitives"].append({
        "attributes": {"POSITION": doc.add_accessor(small * 0.5 + np.float32(3.0))},
        "indices": doc.add_accessor(small_tris.reshape(-1)), "material": len(doc.gltf["materials"]) - 1})
    report, _ = optimize_lods(doc, _opts(ratio=0.3, error=0.05))
    assert made == [True, True], made



def test_every_lod_error_is_measured_against_one_reference_with_the_same_numbers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # the final error of the output and of each LOD: one reference (its 100k samples and index made once), each
    # error what measuring that output alone, one direction after the other, gives
    from assets_pipeline import metrics
    from assets_pipeline.metrics import SurfaceReference

    made: list[tuple[np.ndarray, np.ndarray]] = []
    measured: list[tuple[np.ndarray, np.ndarray]] = []
    init, hausdorff = SurfaceReference.__init__, SurfaceReference.hausdorff

    def recorded(self: SurfaceReference, v: np.ndarray, f: np.ndarray, *args: object, **kw: object) -> None:
        made.append((v, f))
        init(self, v, f, *args, **kw)  # type: ignore[arg-type]

    def measured_one(self: SurfaceReference, vb: np.ndarray, fb: np.ndarray) -> float:
        measured.append((vb, fb))
        return hausdorff(self, vb, fb)

    pos, tris = _bumpy_sphere()
    monkeypatch.setattr(SurfaceReference, "__init__", recorded)
    monkeypatch.setattr(SurfaceReference, "hausdorff", measured_one)
    report, outputs = optimize_lods(AssetDocument.from_mesh_arrays(pos, tris), _opts(lods=(0.5, 0.25), error=0.05))
    assert len(made) == 1 and len(measured) == len(outputs) == 3
    monkeypatch.undo()
    monkeypatch.setattr(metrics, "_background", lambda fn, *args: metrics._Later(fn, args))
    alone = [surface_hausdorff(*made[0], vb, fb, 100_000) for vb, fb in measured]
    assert [lod.error for lod in report.lods] == alone


def test_a_box_that_cannot_be_reduced_gets_one_warning_naming_its_lods(tmp_path: Path, corpus: Path) -> None:
    """12 triangles at LODs 50/25/10 %: one could-not-reduce line (stderr and JSON), each LOD's ratio and count."""
    r = subprocess.run([sys.executable, "-m", "assets_pipeline", "optimize",
                        str(corpus / "models" / "BoxTextured" / "BoxTextured.gltf"), "-o", str(tmp_path / "box.glb"),
                        "--lods", "50,25,10", "--report", str(tmp_path / "report.json")],
                       capture_output=True, text=True, timeout=300, check=False,
                       env={**os.environ, "COLUMNS": "500", "NO_COLOR": "1"})
    assert r.returncode == 0, r.stderr
    merged = "could not reduce LOD 1, LOD 2, LOD 3 to 50%, 25%, 10%: kept 12 of 12 triangles (6, 3, 1 asked); "
    assert r.stderr.count("could not reduce") == 1 and merged in r.stderr, r.stderr
    warnings = json.loads((tmp_path / "report.json").read_text())["warnings"]
    assert [w for w in warnings if "could not reduce" in w] == [next(w for w in warnings if merged in w)], warnings


def test_one_primitives_other_orders_are_simplified_while_it_is_measured(monkeypatch: pytest.MonkeyPatch) -> None:
    """A single primitive's other triangle orders go to the simplifier before its first result is measured (in a
    thread of their own); the answers are taken when the orders are asked for with the same target, and the output
    is the one computed when they are asked for (its indices equal)."""
    import threading

    from assets_pipeline.codecs import simplifier
    from assets_pipeline.transforms import simplify as simplify_module

    asked: list[tuple[str, int]] = []
    many = simplifier.simplify_many

    def recorded(jobs: list[simplifier.Job], tools: Path | None = None) -> list[tuple[np.ndarray, float]]:
        asked.append((threading.current_thread().name, len(jobs)))
        return many(jobs, tools)

    monkeypatch.setattr(simplifier, "simplify_many", recorded)
    pos, tris = _bumpy_sphere()
    _, ahead = optimize_lods(AssetDocument.from_mesh_arrays(pos, tris), _opts(ratio=0.3, error=0.05))
    # the first result (one job), then the other orders (DEFAULTS.candidates - 1 jobs) ahead, taken as they are
    assert [a for a in asked if a[1]] == [("MainThread", 1), ("simplify-ahead", DEFAULTS.candidates - 1)], asked
    asked.clear()
    monkeypatch.setattr(simplify_module, "_same_calls", lambda a, b: False)  # answers ahead never taken
    _, asked_again = optimize_lods(AssetDocument.from_mesh_arrays(pos, tris), _opts(ratio=0.3, error=0.05))
    assert [a for a in asked if a[1]] == [("MainThread", 1), ("simplify-ahead", DEFAULTS.candidates - 1),
                     ("MainThread", DEFAULTS.candidates - 1)], asked

    def indices(doc: AssetDocument) -> np.ndarray:
        return doc.accessors[doc.gltf["meshes"][0]["primitives"][0]["indices"]].array

    assert np.array_equal(indices(ahead[0].doc), indices(asked_again[0].doc))
