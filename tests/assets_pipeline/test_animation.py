"""Animation compression on generated animated models: smaller, within the reported error (measured by
an independent sampler on the written GLB), STEP and CUBICSPLINE semantics kept, clip length kept,
validator clean; skinned positions quantized with the same skinned result."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assets_pipeline.document import AssetDocument
from assets_pipeline.io.formats import read
from assets_pipeline.io.glb import WriteOptions, glb_json, write_glb
from assets_pipeline.pipeline import OptimizeOptions, optimize_file
from assets_pipeline.scene import local_matrix
from assets_pipeline.transforms.animation import AnimationOptions
from assets_pipeline.transforms.ar_frame import FrameOptions

from .animated_fixtures import (
    SECONDS,
    animated_document,
    animation_bytes,
    channel_values,
    keyframe_bytes_in_file,
    played_values,
)
from .conftest import validate_ok

TIMES = np.concatenate([np.linspace(-0.5, SECONDS + 0.5, 1777), np.arange(0, 17) * 0.25 + 1e-4,
                        np.arange(1, 17) * 0.25 - 1e-4])
"""Many times, inside and past the clip, and just after and just before the STEP keys."""


def _angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = np.abs(np.sum(a * b, axis=1)) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return 2 * np.arccos(np.clip(d, 0, 1))


def _world_scales(doc: AssetDocument) -> dict[int, float]:
    nodes = doc.gltf["nodes"]
    parent = {c: p for p, n in enumerate(nodes) for c in n.get("children", [])}

    def world(i: int) -> np.ndarray:
        return world(parent[i]) @ local_matrix(nodes[i]) if i in parent else local_matrix(nodes[i])

    return {i: float(np.linalg.norm(world(parent[i])[:3, :3], axis=0).max()) if i in parent else 1.0
            for i in range(len(nodes))}


@pytest.fixture(scope="module")
def optimized(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, object]:
    d = tmp_path_factory.mktemp("anim")
    src, out = d / "animated.glb", d / "animated.opt.glb"
    write_glb(animated_document(), src, WriteOptions(compression="none"))
    report = optimize_file(src, out, OptimizeOptions(frame=FrameOptions(pivot="keep")))  # no new root transform
    return src, out, report


def test_input_is_valid_and_output_is_valid_and_smaller(optimized: tuple[Path, Path, object]) -> None:
    src, out, report = optimized
    validate_ok([src, out])
    anim = report.animation  # type: ignore[attr-defined]
    assert anim is not None and anim.channels == 10
    assert anim.keys_out < anim.keys_in
    before, after = read(src), read(out)
    assert animation_bytes(after) < animation_bytes(before) * 0.6  # decoded: fewer keys, 16-bit rotations
    stored_in, stored_out = keyframe_bytes_in_file(src.read_bytes()), keyframe_bytes_in_file(out.read_bytes())
    assert stored_out < stored_in / 5, (stored_in, stored_out)
    assert out.stat().st_size < src.stat().st_size / 3
    assert "EXT_meshopt_compression" in glb_json(out.read_bytes())["extensionsUsed"]
    filters = {v["extensions"]["EXT_meshopt_compression"].get("filter")
               for v in glb_json(out.read_bytes())["bufferViews"] if "extensions" in v}
    assert {"QUATERNION", "EXPONENTIAL"} <= filters


def test_every_channel_plays_within_the_reported_error(optimized: tuple[Path, Path, object]) -> None:
    src, out, report = optimized
    anim = report.animation  # type: ignore[attr-defined]
    opts = AnimationOptions()
    assert anim.rotation_error_rad <= opts.rotation_error
    assert anim.translation_error <= opts.translation_error
    assert anim.scale_error <= opts.scale_error and anim.weight_error <= opts.weight_error
    assert anim.rotation_error_rad > 0 and anim.translation_error > 0  # something was actually approximated
    before, after = read(src), read(out)
    # a channel left out must play as the node's rest value does
    a = channel_values(before, TIMES)
    b = played_values(after, a.keys(), TIMES)
    from assets_pipeline.scene import bounds

    blo, bhi = bounds(before)
    size = float(np.linalg.norm(bhi - blo))
    scales = _world_scales(before)
    slack = 1.0001  # float32 storage of the measured numbers
    for (node, path), va in a.items():
        vb = b[(node, path)]
        if path == "rotation":
            assert _angle(va, vb).max() <= anim.rotation_error_rad * slack + 1e-7, (node, path)
        elif path == "translation":
            err = np.linalg.norm(va - vb, axis=1).max() * scales[node] / size
            assert err <= anim.translation_error * slack + 1e-9, (node, path, err)
        elif path == "scale":
            assert (np.abs(va - vb) / np.abs(va)).max() <= anim.scale_error * slack + 1e-9
        else:
            assert np.abs(va - vb).max() <= anim.weight_error * slack + 1e-9


def test_step_stays_step_and_cubic_stays_cubic(optimized: tuple[Path, Path, object]) -> None:
    src, out, _ = optimized
    before, after = read(src), read(out)
    blinker = 8

    def sampler(doc: AssetDocument, path: str) -> dict:
        anim = doc.gltf["animations"][0]
        ch = next(c for c in anim["channels"] if c["target"] == {"node": blinker, "path": path})
        return anim["samplers"][ch["sampler"]]  # type: ignore[no-any-return]

    step = sampler(after, "translation")
    assert step.get("interpolation") == "STEP"
    # the keys that repeated their predecessor are gone, the jumps are all there
    assert after.accessors[step["input"]].count == 7 < before.accessors[sampler(before, "translation")["input"]].count
    # the spline with its values and tangents quantized (smaller here than a LINEAR curve within the bound);
    # that it plays within the error is checked with every other channel above
    cubic = sampler(after, "rotation")
    assert cubic.get("interpolation") == "CUBICSPLINE"
    assert after.accessors[cubic["output"]].count == 3 * after.accessors[cubic["input"]].count == 3 * 6
    # the clip keeps its length: some channel still ends at the original last key
    end = max(float(after.accessors[s["input"]].array.max()) for s in after.gltf["animations"][0]["samplers"])
    assert end == pytest.approx(SECONDS)


def test_constant_channel_at_the_rest_value_is_dropped(optimized: tuple[Path, Path, object]) -> None:
    _, out, report = optimized
    after = read(out)
    anim = after.gltf["animations"][0]
    # joint 0's scale holds 1, its rest scale: nothing to play; its other channels stay
    assert [c["target"]["path"] for c in anim["channels"] if c["target"]["node"] == 1] == ["rotation", "translation"]
    assert report.animation.channels_dropped == 1  # type: ignore[attr-defined]
    assert len(anim["samplers"]) == len(anim["channels"]) == 9


def _one_scale_channel(doc: AssetDocument) -> tuple[dict, int]:
    anim = doc.gltf["animations"][0]
    ch = next(c for c in anim["channels"] if c["target"] == {"node": 1, "path": "scale"})
    return anim["samplers"][ch["sampler"]], ch["sampler"]


@pytest.mark.parametrize("case", ["off rest", "another clip", "pointer"])
def test_constant_channel_stays_when_it_is_not_a_no_op(tmp_path: Path, case: str) -> None:
    """Kept with one key: away from the node's rest value, or when another clip also animates the node's scale
    (after that clip, this one puts the node back), or when a channel targets something by pointer."""
    doc = animated_document()
    sampler, _ = _one_scale_channel(doc)
    if case == "off rest":
        doc.gltf["nodes"][1]["scale"] = [2.0, 2.0, 2.0]
    elif case == "another clip":
        grow = doc.add_accessor(np.array([[1.0, 1.0, 1.0], [1.5, 1.5, 1.5]], np.float32))
        doc.gltf["animations"].append({"name": "grow", "samplers": [{"input": doc.add_accessor(
            np.array([0.0, 1.0], np.float32)), "output": grow}], "channels": [
            {"sampler": 0, "target": {"node": 1, "path": "scale"}}]})
    else:
        anim = doc.gltf["animations"][0]
        anim["samplers"].append({"input": sampler["input"], "output": doc.add_accessor(
            np.linspace(0.0, 1.0, doc.accessors[sampler["input"]].count, dtype=np.float32))})
        anim["channels"].append({"sampler": len(anim["samplers"]) - 1, "target": {
            "path": "pointer", "extensions": {"KHR_animation_pointer": {"pointer": "/materials/0/alphaCutoff"}}}})
    from assets_pipeline.transforms.animation import compress_animation

    compress_animation()(doc)
    kept, _ = _one_scale_channel(doc)
    assert doc.accessors[kept["output"]].count == 1


def _skinned_rest(doc: AssetDocument) -> np.ndarray:
    """Vertices of the skinned mesh as skinning places them at rest: sum of w * joint world * inverse bind."""
    nodes = doc.gltf["nodes"]
    parent = {c: p for p, n in enumerate(nodes) for c in n.get("children", [])}

    def world(i: int) -> np.ndarray:
        return world(parent[i]) @ local_matrix(nodes[i]) if i in parent else local_matrix(nodes[i])

    node = next(n for n in nodes if "skin" in n)
    skin = doc.gltf["skins"][node["skin"]]
    ibm = doc.accessors[skin["inverseBindMatrices"]].as_float().astype(np.float64).reshape(-1, 4, 4).transpose(0, 2, 1)
    mats = np.array([world(j) @ ibm[k] for k, j in enumerate(skin["joints"])])
    prim = doc.gltf["meshes"][node["mesh"]]["primitives"][0]
    p = doc.accessors[prim["attributes"]["POSITION"]].as_float().astype(np.float64)
    joints = doc.accessors[prim["attributes"]["JOINTS_0"]].array.astype(int)
    w = doc.accessors[prim["attributes"]["WEIGHTS_0"]].as_float().astype(np.float64)
    ph = np.concatenate([p, np.ones((len(p), 1))], axis=1)
    out = np.zeros((len(p), 4))
    for k in range(4):
        out += w[:, k:k + 1] * np.einsum("nij,nj->ni", mats[joints[:, k]], ph)
    return out[:, :3]


def test_skinned_positions_are_quantized_and_skin_to_the_same_place(optimized: tuple[Path, Path, object]) -> None:
    src, out, _ = optimized
    before, after = read(src), read(out)
    node = next(n for n in after.gltf["nodes"] if "skin" in n)
    prim = after.gltf["meshes"][node["mesh"]]["primitives"][0]
    assert after.accessors[prim["attributes"]["POSITION"]].array.dtype == np.uint16
    w = after.accessors[prim["attributes"]["WEIGHTS_0"]]
    assert w.array.dtype == np.uint8 and w.normalized and (w.array.astype(int).sum(axis=1) == 255).all()
    pa, pb = _skinned_rest(before), _skinned_rest(after)
    extent = float(np.ptp(pa, axis=0).max())
    # 14-bit grid plus the re-normalized byte weights (1/255 of a joint's motion at rest: none here)
    # vertices are reordered: every vertex has its counterpart within the 14-bit grid's rounding, both ways
    dist = np.linalg.norm(pa[:, None] - pb[None], axis=2)
    assert max(dist.min(axis=1).max(), dist.min(axis=0).max()) <= extent / (2**14 - 1) + 1e-6
    assert len(pa) == len(pb)


@pytest.mark.parametrize("compression", ["none", "draco"])
def test_without_meshopt_the_quantized_animation_is_plain_and_valid(tmp_path: Path, compression: str) -> None:
    src, out = tmp_path / "a.glb", tmp_path / "b.glb"
    write_glb(animated_document(), src, WriteOptions(compression="none"))
    report = optimize_file(src, out, OptimizeOptions(compression=compression))  # type: ignore[arg-type]
    validate_ok([out])
    after = read(out)
    rot = [after.accessors[s["output"]] for a in after.gltf["animations"] for s, c in
           ((a["samplers"][c["sampler"]], c) for c in a["channels"])
           if c["target"]["path"] == "rotation" and s.get("interpolation") != "CUBICSPLINE"]
    assert len(rot) == 5 and all(r.array.dtype == np.int16 and r.normalized for r in rot)
    assert report.animation is not None and report.animation.rotation_error_rad <= 1e-3


def test_bounds_are_options_and_can_be_turned_off(tmp_path: Path) -> None:
    src = tmp_path / "a.glb"
    write_glb(animated_document(), src, WriteOptions(compression="none"))
    loose = optimize_file(src, tmp_path / "loose.glb", OptimizeOptions(
        animation=AnimationOptions(rotation_error=math.radians(1.0))))
    tight = optimize_file(src, tmp_path / "tight.glb", OptimizeOptions(
        animation=AnimationOptions(rotation_error=1e-4)))
    off = optimize_file(src, tmp_path / "off.glb", OptimizeOptions(animation=None))
    assert loose.animation and tight.animation and off.animation is None
    assert loose.animation.keys_out < tight.animation.keys_out
    assert tight.animation.rotation_error_rad <= 1e-4 < loose.animation.rotation_error_rad <= math.radians(1.0)
    kept = read(tmp_path / "off.glb")
    assert animation_bytes(kept) == animation_bytes(read(src))


def _morphed_world(doc: AssetDocument, weight: float) -> np.ndarray:
    """World positions of the morphed mesh with its target at ``weight``."""
    nodes = doc.gltf["nodes"]
    parent = {c: p for p, n in enumerate(nodes) for c in n.get("children", [])}

    def world(i: int) -> np.ndarray:
        return world(parent[i]) @ local_matrix(nodes[i]) if i in parent else local_matrix(nodes[i])

    meshes = doc.gltf["meshes"]
    i = next(k for k, n in enumerate(nodes) if "mesh" in n and meshes[n["mesh"]]["primitives"][0].get("targets"))
    prim = doc.gltf["meshes"][nodes[i]["mesh"]]["primitives"][0]
    p = doc.accessors[prim["attributes"]["POSITION"]].as_float().astype(np.float64)
    d = doc.accessors[prim["targets"][0]["POSITION"]].as_float().astype(np.float64)
    m = world(i)
    return (p + weight * d) @ m[:3, :3].T + m[:3, 3]  # type: ignore[no-any-return]


def test_morph_deltas_are_quantized_and_morph_to_the_same_place(optimized: tuple[Path, Path, object]) -> None:
    src, out, _ = optimized
    before, after = read(src), read(out)
    prim = next(p for _, _, p in after.primitives() if p.get("targets"))
    assert after.accessors[prim["targets"][0]["POSITION"]].array.dtype == np.int16
    assert after.accessors[prim["attributes"]["POSITION"]].array.dtype == np.uint16
    # the weights channel still drives the node that draws the morphed mesh
    anim = after.gltf["animations"][0]
    node = next(c["target"]["node"] for c in anim["channels"] if c["target"]["path"] == "weights")
    assert after.gltf["meshes"][after.gltf["nodes"][node]["mesh"]]["primitives"][0].get("targets")
    for w in (0.0, 0.5, 1.0):
        pa, pb = _morphed_world(before, w), _morphed_world(after, w)
        dist = np.linalg.norm(pa[:, None] - pb[None], axis=2)
        step = float(np.ptp(pa, axis=0).max()) / (2**14 - 1)
        assert max(dist.min(axis=1).max(), dist.min(axis=0).max()) <= 2 * step, w


def test_cli_reports_the_animation_error_and_takes_the_bounds(tmp_path: Path) -> None:
    import json
    import os
    import subprocess
    import sys

    src = tmp_path / "a.glb"
    write_glb(animated_document(), src, WriteOptions(compression="none"))

    def run(*extra: str) -> tuple[subprocess.CompletedProcess[str], dict]:
        rep = tmp_path / f"r{len(extra)}.json"
        r = subprocess.run([sys.executable, "-m", "assets_pipeline", "optimize", str(src), "-o",
                            str(tmp_path / f"o{len(extra)}.glb"), "--report", str(rep), *extra],
                           capture_output=True, text=True, timeout=300, check=False,
                           env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"})
        assert r.returncode == 0, r.stderr
        return r, json.loads(rep.read_text())

    r, data = run()
    assert "animation: 10 channels" in r.stdout and "max error: rotation" in r.stdout
    assert 0 < data["animation"]["rotation_error_rad"] <= 1e-3
    _, loose = run("--anim-rotation-error", "0.02")
    assert 1e-3 < loose["animation"]["rotation_error_rad"] <= 0.02
    _, off = run("--no-keyframes", "--quiet")
    assert off["animation"] is None


def test_the_pipeline_evaluates_curves_as_the_specification_does() -> None:
    """``evaluate`` (used to densify and to measure) against the independent key-by-key sampler."""
    from assets_pipeline.transforms.animation import evaluate

    from .animated_fixtures import sample

    rng = np.random.default_rng(7)
    doc = AssetDocument.empty()
    times = np.cumsum(rng.uniform(0.05, 0.4, 12)).astype(np.float32)
    t = np.linspace(times[0] - 0.3, times[-1] + 0.3, 501)
    for interp, path, shape in (("CUBICSPLINE", "rotation", (12, 3, 4)), ("CUBICSPLINE", "translation", (12, 3, 3)),
                                ("LINEAR", "rotation", (12, 4)), ("STEP", "scale", (12, 3))):
        values = rng.normal(size=shape).astype(np.float32)
        s = {"input": doc.add_accessor(times), "output": doc.add_accessor(values.reshape(-1, shape[-1])),
             "interpolation": interp}
        want = np.array([sample(doc, s, path, float(x)) for x in t])
        got = evaluate(interp, times, values, t, path == "rotation")
        if path == "rotation":
            assert _angle(want, got).max() < 1e-5, interp
        else:
            assert np.abs(want - got).max() < 1e-5, interp


def test_key_times_move_within_the_time_bound_and_step_keys_not_at_all(optimized: tuple[Path, Path, object]) -> None:
    src, out, _ = optimized
    before, after = read(src), read(out)
    original = np.unique(np.concatenate([before.accessors[s["input"]].array for a in before.gltf["animations"]
                                         for s in a["samplers"]]).astype(np.float64))
    bound = AnimationOptions().time_error
    g = glb_json(out.read_bytes())
    filtered = 0
    for s in after.gltf["animations"][0]["samplers"]:
        t = after.accessors[s["input"]].array.astype(np.float64)
        moved = np.abs(original[np.abs(original[None] - t[:, None]).argmin(axis=1)] - t)
        view = g["bufferViews"][g["accessors"][s["input"]]["bufferView"]]
        if view.get("extensions", {}).get("EXT_meshopt_compression", {}).get("filter") == "EXPONENTIAL":
            filtered += 1
            assert s.get("interpolation", "LINEAR") != "STEP"
        if s.get("interpolation") == "STEP":
            assert moved.max() == 0.0  # a STEP key a moment early would jump early
        assert moved.max() <= bound and np.all(np.diff(t) > 0)
    assert filtered >= 1  # the 60 Hz keys shared by the joints' curves
    end = max(float(after.accessors[s["input"]].array.max()) for s in after.gltf["animations"][0]["samplers"])
    assert abs(end - SECONDS) <= bound


def test_key_time_bits_are_rejected_at_the_first_curve_past_its_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    from assets_pipeline.transforms import animation

    real_quantize, real_measure = animation._quantize_times, animation._measure
    bounds: list[dict[int, float]] = []
    calls: list[tuple[bytes, float, float]] = []  # (key times tried, error, bound) inside _quantize_times

    def quantize_times(doc: AssetDocument, results: list[Any], ours: set[int], time_error: float) -> None:
        bounds.append({id(r.curve[2]): r.bound for r in results if r.curve is not None})
        try:
            real_quantize(doc, results, ours, time_error)
        finally:
            bounds.pop()

    def measure(path: str, interp: str, times: np.ndarray, values: np.ndarray, *rest: Any) -> float:
        err = real_measure(path, interp, times, values, *rest)
        if bounds:
            calls.append((np.asarray(rest[1]).tobytes(), err, bounds[-1][id(values)]))
        return err

    monkeypatch.setattr(animation, "_quantize_times", quantize_times)
    monkeypatch.setattr(animation, "_measure", measure)
    tight = AnimationOptions(rotation_error=1e-4, translation_error=1e-5, scale_error=1e-5, weight_error=1e-5)
    animation.compress_animation(tight)(animated_document())
    rounds: dict[bytes, list[tuple[float, float]]] = {}
    for key, err, bound in calls:
        rounds.setdefault(key, []).append((err, bound))
    rejected = [r for r in rounds.values() if any(e > b for e, b in r)]
    assert rejected  # some bits were tried and refused
    for r in rejected:
        assert r[-1][0] > r[-1][1] and all(e <= b for e, b in r[:-1])  # nothing measured past the first refusal


@pytest.mark.parametrize("path", ["rotation", "translation", "scale", "weights"])
def test_batched_neighbour_checks_are_bit_for_bit_the_one_pair_checks(path: str) -> None:
    """Key reduction checks every key's neighbours in one batch: each error must be the very float the one-pair
    check computes (a last-bit difference would keep or drop another key and change the output)."""
    from assets_pipeline.transforms import animation

    rng = np.random.default_rng(7)
    n = 3000
    times = np.cumsum(rng.uniform(0.01, 0.05, n))
    if path == "rotation":  # a slow random walk, with repeated keys (a straight line inside slerp), large jumps
        # and sign flips (the shortest path turns the second key round)
        ref = animation._normalize(np.cumsum(rng.normal(0, 0.02, (n, 4)), axis=0) + np.array([0.0, 0.0, 0.0, 3.0]))
        ref[100:140] = ref[100]
        ref[500:520] = animation._normalize(rng.normal(size=(20, 4)))
        ref[::7] *= -1
        q = animation._as_float(path, animation._quantize(path, ref, "QUATERNION", 12)[0])
        refn = animation._normalize(ref)
    else:
        ref = np.cumsum(rng.normal(0, 0.01, (n, 3)), axis=0) + 1.0
        ref[200:230] = ref[200]
        q = animation._quantize(path, ref, "EXPONENTIAL", 12)[0].astype(np.float64)
        refn = ref
    batch = animation._skip_one_errors(path, times, ref, refn, q)
    one = [animation._span_error(path, times, ref, refn, q, i, i + 2) for i in range(n - 2)]
    assert len(batch) == n - 2
    assert np.array_equal(np.array(batch).view(np.uint64), np.array(one).view(np.uint64))


@pytest.mark.parametrize(("path", "interp"), [("rotation", "LINEAR"), ("translation", "CUBICSPLINE"),
                                              ("weights", "STEP")])
def test_measuring_with_the_kept_original_samples_is_bit_for_bit_one_evaluation(path: str, interp: str) -> None:
    """Candidates are measured against the original curve's samples computed once: the error must be the very
    float of evaluating both curves at all measuring times in one array (the grid, the keys, both ends, the new
    keys, just before STEP keys)."""
    from assets_pipeline.transforms import animation

    rng = np.random.default_rng(3)
    n, width = 400, 4 if path == "rotation" else 3
    times = np.cumsum(rng.uniform(0.01, 0.05, n))
    values = np.cumsum(rng.normal(0, 0.05, (n, 3, width) if interp == "CUBICSPLINE" else (n, width)), axis=0) + 2
    rotation = path == "rotation"
    steps = animation.MEASURE_STEPS * (4 if interp == "CUBICSPLINE" else 1)
    grid = (times[:-1, None] + np.linspace(0.0, 1.0, steps, endpoint=False)[None] * np.diff(times)[:, None]).ravel()
    samples: list[tuple[np.ndarray, ...]] = []
    for new_times in (times[::3], np.sort(rng.uniform(times[0], times[-1], 50))):  # the second from the samples
        new_values = animation.evaluate(interp, times, values, new_times, rotation) + rng.normal(0, 1e-3, width)
        new_values[len(new_times) // 2] += 0.3  # the largest error is at a new key, off the grid in the second
        got = animation._measure(path, interp, times, values, "LINEAR", new_times, new_values, rotation, samples)
        t = np.concatenate([grid, times, new_times, [times[0] - 1.0, times[-1] + 1.0]])
        if interp == "STEP":
            t = np.concatenate([t, times - 1e-6 * max(1.0, float(np.abs(times).max()))])
        want = float(animation._errors(path, animation.evaluate(interp, times, values, t, rotation),
                                       animation.evaluate("LINEAR", new_times, new_values, t, rotation)).max())
        assert np.float64(got).view(np.uint64) == np.float64(want).view(np.uint64)
    assert len(samples) == 1
