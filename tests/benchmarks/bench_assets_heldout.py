"""Held-out models next to the corpus: ``assets_pipeline optimize`` against ``gltfpack -cc`` and glTF-Transform.

One run, one table per set (the corpus, then the held-out models: material nobody tuned on, issue 15), each
model through the three tools:

- size and whole-process time of the default output: ours (``optimize`` defaults), ``gltfpack -cc`` and
  ``gltf-transform optimize --compress meshopt --texture-compress webp``;
- peak resident memory of ours and of gltfpack (``ru_maxrss`` of the child, see
  ``bench_assets.run_measured``);
- Khronos validator errors of our outputs (and gltfpack's);
- features kept: animations (channels), skins, morph targets, material variants and extensions of our
  output against the input, for the default output and the 50 % one;
- simplification at ``--ratio 0.5`` against ``gltfpack -si 0.5``, at the same triangle count: when the two
  stop more than 2 % of the input's triangles apart, the one that went further is run again at the other's
  triangle ratio; both errors are the pipeline's own symmetric Hausdorff metric
  (``assets_pipeline.metrics.SurfaceReference``) against the input, % of its bounding-box diagonal.

The held-out models are not in the repository. ``tests/benchmarks/heldout_models.csv`` names each file
(path under the held-out folder, source repository, commit, path there, licence); the folder is given
with ``--heldout DIR`` or ``PHYGITAL_HELDOUT``. Files the list names but the folder lacks are reported as
missing, not skipped silently.

Usage::

    nice .venv/bin/python tests/benchmarks/bench_assets_heldout.py --heldout /work/heldout/heldout15 \\
        [--no-corpus] [--models NAME ...] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import math
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from assets_pipeline.document import AssetDocument  # noqa: E402
from assets_pipeline.io.formats import read  # noqa: E402
from assets_pipeline.io.glb import glb_json  # noqa: E402
from assets_pipeline.metrics import SurfaceReference  # noqa: E402
from assets_pipeline.scene import world_triangles  # noqa: E402
from tests.benchmarks.bench_assets import (  # noqa: E402
    DEFAULT_CORPUS,
    GLTF_SUFFIXES,
    Run,
    aligned_error,
    attribute_kind,
    bottom_center,
    cell,
    corpus_models,
    gltfpack_cmd,
    input_bytes,
    intermediate_glb,
    machine,
    ours_cmd,
    run_tool,
    tool_versions,
    transform_cmd,
    validate_runs,
)

MODELS_LIST = Path(__file__).with_name("heldout_models.csv")
MATCH = 0.02
"""Two 50 % runs more than this fraction of the input's triangles apart are brought to the same count."""
ENCODINGS = {
    "KHR_draco_mesh_compression",
    "EXT_meshopt_compression",
    "KHR_mesh_quantization",
    "EXT_texture_webp",
    "KHR_texture_basisu",
}
"""Extensions that only encode data: an output without them has lost nothing."""


@dataclass(slots=True)
class Model:
    """One model of a set and everything measured about it."""

    name: str
    path: Path | None
    note: str = ""
    bytes_in: int = 0
    load: str = ""
    kind: str = "?"
    triangles_in: int | None = None
    problem: str = ""
    runs: dict[str, Run] = field(default_factory=dict)
    """ours, gltfpack, gltf-transform (default output); ours50, gltfpack50 (as asked); *50m (matched again)."""
    features_in: dict[str, Any] = field(default_factory=dict)
    features_out: dict[str, Any] = field(default_factory=dict)
    features_half: dict[str, Any] = field(default_factory=dict)
    dims_delta: float | None = None
    """Largest relative difference of the bounding box's extents, our default output against the input."""


# ---------------------------------------------------------------------------------------------- inputs


def heldout_models(folder: Path, listing: Path) -> list[Model]:
    """The models ``listing`` names, in its order, located under ``folder``."""
    with listing.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for row in rows:
        path = folder / row["file"]
        out.append(Model(Path(row["file"]).name, path if path.is_file() else None, row.get("note", "")))
    return out


def gltf_json(path: Path) -> dict[str, Any]:
    """The JSON of a .gltf or .glb file as written (no reader in between, nothing repaired or decoded)."""
    import json

    data = path.read_bytes()
    return glb_json(data) if data[:4] == b"glTF" else json.loads(data)


REST = {"translation": [0.0, 0.0, 0.0], "rotation": [0.0, 0.0, 0.0, 1.0], "scale": [1.0, 1.0, 1.0]}
STILL = {"rotation": 1e-3, "translation": 1e-4, "scale": 1e-4, "weights": 1e-3}
"""A channel whose every key stays this close to its node's rest value moves nothing (the pipeline's default
animation bounds: radians, fraction of the bbox diagonal, relative, absolute)."""


def moving_channels(doc: AssetDocument) -> int:
    """Channels that move something: some key of theirs is farther than STILL from the node's rest value (a
    channel holding a node where it rests anyway plays the same as none; the pipeline leaves those out)."""
    from assets_pipeline.scene import bounds

    lo, hi = bounds(doc)
    diag = float(np.linalg.norm(hi - lo)) or 1.0
    nodes, meshes = doc.gltf.get("nodes", []), doc.gltf.get("meshes", [])
    count = 0
    for anim in doc.gltf.get("animations", []):
        for ch in anim.get("channels", []):
            target, s = ch.get("target", {}), anim["samplers"][ch["sampler"]]
            path, node = target.get("path"), target.get("node")
            if path not in STILL or node is None:
                count += 1
                continue
            v = doc.accessors[s["output"]].as_float().astype(np.float64)
            if s.get("interpolation") == "CUBICSPLINE":
                v = v.reshape(doc.accessors[s["input"]].count, 3, -1)[:, 1]
            n = nodes[node]
            if path == "weights":
                ws = n.get("weights", meshes[n["mesh"]].get("weights")) if "mesh" in n else None
                rest = np.array(ws if ws else [0.0] * (v.size // max(1, doc.accessors[s["input"]].count)), np.float64)
                v = v.reshape(-1, max(1, len(rest)))
                moved = float(np.abs(v - rest[None]).max()) if len(rest) == v.shape[1] else np.inf
            else:
                rest = np.array(n.get(path, REST[path]), np.float64)
                v = v.reshape(-1, len(rest))
                if path == "rotation":
                    rest = rest / (np.linalg.norm(rest) or 1.0)  # near 1, acos magnifies a non-unit length
                    d = np.abs(v @ rest) / np.maximum(np.linalg.norm(v, axis=1), 1e-12)
                    moved = float((2 * np.arccos(np.clip(d, 0, 1))).max())
                elif path == "translation":
                    moved = float(np.linalg.norm(v - rest, axis=1).max()) / diag
                else:
                    moved = float((np.abs(v - rest) / np.maximum(np.abs(rest), 1e-6)).max())
            count += moved > STILL[path]
    return count


def decoded(path: Path) -> AssetDocument | None:
    """The file read by our reader (None when it cannot: channels are then counted without decoding)."""
    try:
        return read(path)
    except Exception:  # the features table still counts what the JSON says
        return None


def features(gltf: dict[str, Any], doc: AssetDocument | None = None) -> dict[str, Any]:
    """What a viewer shows beyond geometry: animations (channels that move something, when the decoded
    document is given; else all channels), skins, morph targets (largest per mesh, summed), material variants,
    extensions used."""
    anims = gltf.get("animations", [])
    return {
        "animations": len(anims),
        "channels": moving_channels(doc) if doc is not None else sum(len(a.get("channels", [])) for a in anims),
        "skins": len(gltf.get("skins", [])),
        "morphs": sum(
            max((len(p.get("targets", [])) for p in m.get("primitives", [])), default=0)
            for m in gltf.get("meshes", [])
        ),
        "variants": len(gltf.get("extensions", {}).get("KHR_materials_variants", {}).get("variants", [])),
        "extensions": set(gltf.get("extensionsUsed", [])),
    }


def lost(fin: dict[str, Any], fout: dict[str, Any]) -> list[str]:
    """What ``fout`` has less of than ``fin`` (empty when everything was kept)."""
    if not fin or not fout:
        return ["?"]
    out = [f"{k} {fout[k]}/{fin[k]}" for k in ("animations", "channels", "skins", "morphs", "variants")
           if fout[k] < fin[k]]  # fmt: skip
    out += sorted(fin["extensions"] - fout["extensions"] - ENCODINGS)
    return out


# ---------------------------------------------------------------------------------------------- running


def load() -> str:
    return "{:.1f}/{:.1f}/{:.1f}".format(*os.getloadavg())


def run_model(m: Model, work: Path, timeout: float) -> None:
    """The five runs (ours, gltfpack, gltf-transform; ours and gltfpack at 50 %) of one model."""
    assert m.path is not None
    src, stem = m.path, m.path.stem
    suffix = src.suffix.lower()
    m.load = load()
    gp_in: Path | None = src
    gt_in: Path | None = src
    note = ""
    if suffix not in GLTF_SUFFIXES:
        inter = intermediate_glb(src, work, timeout)
        gt_in = inter.path if inter.ok else None
        note = "fed our uncompressed GLB"
        if suffix != ".obj":
            gp_in = gt_in
    m.runs["ours"] = run_tool("ours", ours_cmd(src, work / f"{stem}.ours.glb"), work / f"{stem}.ours.glb", timeout)
    m.runs["ours50"] = run_tool(
        "ours",
        ours_cmd(src, work / f"{stem}.ours50.glb", "--ratio", "0.5", "--texture-format", "keep", "--no-measure"),
        work / f"{stem}.ours50.glb",
        timeout,
    )
    for tool, given in (("gltfpack", gp_in), ("gltf-transform", gt_in)):
        out = work / f"{stem}.{tool}.glb"
        why = "needs our uncompressed GLB, which failed"
        n = note if given is not src else ""
        if given is None:
            m.runs[tool] = Run(tool, False, reason=why)
        elif tool == "gltfpack":
            m.runs[tool] = run_tool(tool, gltfpack_cmd(given, out), out, timeout, note=n)
        else:
            m.runs[tool] = run_tool(tool, transform_cmd(given, out, "--texture-compress", "webp"), out, timeout,
                                    note=n)
    half = work / f"{stem}.gltfpack50.glb"
    m.runs["gltfpack50"] = (
        run_tool("gltfpack", gltfpack_cmd(gp_in, half, "-si", "0.5"), half, timeout)
        if gp_in is not None
        else Run("gltfpack", False, reason="needs our uncompressed GLB, which failed")
    )
    m.runs["gltfpack50"].note = note if gp_in is not src else ""


@dataclass(slots=True)
class Measured:
    """The input's surface and the alignment shift of each tool (from its full-resolution output)."""

    ref: SurfaceReference
    shifts: dict[str, np.ndarray] = field(default_factory=dict)


def measure_run(m: Model, key: str, geo: Measured | None) -> None:
    """Triangles and aligned error of one output (shift from the tool's full-resolution output)."""
    run = m.runs.get(key)
    if run is None or not run.ok or run.path is None:
        return
    try:
        v, f = world_triangles(read(run.path))
    except Exception as exc:
        run.error_reason = f"our reader fails: {exc}"[:160]
        return
    run.triangles = len(f)
    if geo is None or key in ("ours", "gltfpack", "gltf-transform"):
        return
    tool = run.tool
    shift = geo.shifts.get(tool)
    if shift is None:
        shift = bottom_center(geo.ref.v) - bottom_center(v) if len(v) else np.zeros(3)
    run.error = aligned_error(geo.ref, v, f, shift)


def measure(m: Model, work: Path, timeout: float, samples: int) -> None:
    """Features, dimensions, triangles and 50 % errors; the matched 50 % run when the two are apart."""
    assert m.path is not None
    geo: Measured | None = None
    try:
        doc = read(m.path)
        v, f = world_triangles(doc)
        m.triangles_in, m.kind = len(f), attribute_kind(doc)
        geo = Measured(SurfaceReference(v, f, samples))
    except Exception as exc:  # reported in the table, the benchmark goes on
        m.problem = f"our reader: {type(exc).__name__}: {exc}"[:160]
    if m.path.suffix.lower() in GLTF_SUFFIXES:
        m.features_in = features(gltf_json(m.path), decoded(m.path))
    else:
        m.features_in = features({})
    for key, target in (("ours", "features_out"), ("ours50", "features_half")):
        run = m.runs[key]
        if run.ok and run.path is not None:
            setattr(m, target, features(gltf_json(run.path), decoded(run.path)))
    for tool in ("ours", "gltfpack", "gltf-transform"):
        run = m.runs[tool]
        if geo is None or not run.ok or run.path is None:
            continue
        try:
            vo, fo = world_triangles(read(run.path))
        except Exception as exc:
            run.error_reason = f"our reader fails: {exc}"[:160]
            continue
        run.triangles = len(fo)
        if len(vo):
            geo.shifts[tool] = bottom_center(geo.ref.v) - bottom_center(vo)
            if tool == "ours" and len(geo.ref.v):
                ext_in = geo.ref.v.max(axis=0) - geo.ref.v.min(axis=0)
                ext_out = vo.max(axis=0) - vo.min(axis=0)
                m.dims_delta = float(np.max(np.abs(ext_out - ext_in) / np.maximum(ext_in, 1e-12)))
    for key in ("ours50", "gltfpack50"):
        measure_run(m, key, geo)
    o, g = m.runs["ours50"], m.runs["gltfpack50"]
    tin = m.triangles_in or 0
    if not (tin and o.triangles and g.triangles) or abs(o.triangles - g.triangles) <= MATCH * tin:
        return
    # the one that went further runs again at the other's count; when that one cannot get there either (a
    # simplifier stops where it must), the other one follows instead; the closest pair is compared
    first, second = (rerun_gltfpack, rerun_ours) if o.triangles > g.triangles else (rerun_ours, rerun_gltfpack)
    first(m, work, timeout, geo)
    o, g = matched(m)
    if o and g and o.triangles and g.triangles and abs(o.triangles - g.triangles) > MATCH * tin:
        second(m, work, timeout, geo)


def rerun_gltfpack(m: Model, work: Path, timeout: float, geo: Measured | None) -> None:
    """gltfpack again at our 50 % run's triangle ratio."""
    assert m.path is not None and m.triangles_in and m.runs["ours50"].triangles
    src = m.path
    again = work / f"{src.stem}.gltfpack50m.glb"
    given = src if src.suffix.lower() in (*GLTF_SUFFIXES, ".obj") else work / f"{src.stem}.input.glb"
    share = m.runs["ours50"].triangles / m.triangles_in
    if share >= 1:
        return
    ratio = f"{share:.4f}"
    m.runs["gltfpack50m"] = run_tool("gltfpack", gltfpack_cmd(given, again, "-si", ratio), again, timeout)
    measure_run(m, "gltfpack50m", geo)


def rerun_ours(m: Model, work: Path, timeout: float, geo: Measured | None) -> None:
    """Ours again at gltfpack's 50 % run's triangle ratio."""
    assert m.path is not None and m.triangles_in and m.runs["gltfpack50"].triangles
    again = work / f"{m.path.stem}.ours50m.glb"
    share = m.runs["gltfpack50"].triangles / m.triangles_in
    if share >= 1:  # gltfpack's output draws more triangles than the input (instances): nothing to match
        return
    ratio = f"{share:.4f}"
    m.runs["ours50m"] = run_tool(
        "ours", ours_cmd(m.path, again, "--ratio", ratio, "--texture-format", "keep", "--no-measure"), again, timeout
    )
    measure_run(m, "ours50m", geo)


def matched(m: Model) -> tuple[Run | None, Run | None]:
    """(ours, gltfpack) 50 % runs closest in triangle count (a rerun when there was one)."""
    pairs = [(m.runs.get(a), m.runs.get(b)) for a, b in
             (("ours50", "gltfpack50"), ("ours50m", "gltfpack50"), ("ours50", "gltfpack50m"))]  # fmt: skip
    pairs = [(o, g) for o, g in pairs if o and g and o.ok and g.ok and o.triangles and g.triangles]
    if not pairs:
        return m.runs.get("ours50"), m.runs.get("gltfpack50")
    return min(pairs, key=lambda p: abs((p[0].triangles or 0) - (p[1].triangles or 0)))


def comparable(m: Model) -> str:
    """'same' when the compared 50 % runs are within MATCH of each other; 'dominated' when they are not but
    the comparison still holds (the one with more triangles also has the larger error, or the one with fewer
    triangles the smaller); '' when they cannot be compared."""
    o, g = matched(m)
    tin = m.triangles_in or 0
    if not (o and g and o.ok and g.ok) or o.error is None or g.error is None or not o.triangles or not g.triangles:
        return ""
    if abs(o.triangles - g.triangles) <= MATCH * tin:
        return "same"
    if (o.triangles > g.triangles) == (o.error >= g.error):
        return "dominated"
    return ""


def short(m: Model) -> bool:
    """Ours stopped above 55 % of the triangles at --ratio 0.5 where gltfpack -si 0.5 got there."""
    o, g, tin = m.runs.get("ours50"), m.runs.get("gltfpack50"), m.triangles_in or 0
    return bool(o and g and tin and o.triangles and g.triangles and o.triangles > 0.55 * tin
                and g.triangles <= 0.55 * tin)  # fmt: skip


# ---------------------------------------------------------------------------------------------- tables


def geomean(xs: list[float]) -> float | None:
    xs = [x for x in xs if x and x > 0 and math.isfinite(x)]
    return math.exp(sum(map(math.log, xs)) / len(xs)) if xs else None


def rx(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}x"


def size(r: Run | None) -> str:
    if r is None:
        return "-"
    if not r.ok:
        return cell(f"fails: {re.sub(r'/[^ :]*/', '', r.reason)}")[:90]
    return f"{r.bytes / 1000:,.1f} KB" + (" (a)" if r.note else "")


def div(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or not b or not math.isfinite(a) or not math.isfinite(b):
        return None
    return a / b


def size_ratio(m: Model, ref: str) -> float | None:
    o, r = m.runs.get("ours"), m.runs.get(ref)
    return div(o.bytes, r.bytes) if o and r and o.ok and r.ok else None


def err_ratio(m: Model) -> float | None:
    """Our 50 % error over gltfpack's, when the two runs can be compared (see :func:`comparable`)."""
    o, g = matched(m)
    if not comparable(m) or o is None or g is None or o.error is None or g.error is None:
        return None
    if g.error == 0:
        return None if o.error else 1.0
    return o.error / g.error


def rss_ratio(m: Model) -> float | None:
    o, g = m.runs.get("ours"), m.runs.get("gltfpack")
    return div(o.peak_mb, g.peak_mb) if o and g and o.ok and g.ok else None


def pct(x: float | None) -> str:
    if x is None:
        return "-"
    return "inf" if math.isinf(x) else f"{100 * x:.3f} %"


def val(r: Run | None) -> str:
    if r is None or not r.ok:
        return "-"
    if r.validator_errors is None:
        return "?"
    return str(r.validator_errors) + (f" ({cell(r.validator_first)})" if r.validator_errors else "")


def label(m: Model) -> str:
    return m.name + (f" [{m.note}]" if m.note else "")


def table_size(models: list[Model]) -> list[str]:
    lines = [
        "| model | kind | input | ours | gltfpack -cc | glTF-Transform | ours/gltfpack | ours/glTF-T "
        "| ours s | gltfpack s | glTF-T s | ours peak MB | gltfpack peak MB | peak ours/gltfpack "
        "| validator errors ours / gltfpack | load |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for m in models:
        if m.path is None:
            lines.append(f"| {label(m)} | missing from the held-out folder |" + " |" * 14)
            continue
        o, g, t = m.runs["ours"], m.runs["gltfpack"], m.runs["gltf-transform"]

        def secs(r: Run) -> str:
            return f"{r.seconds:.2f}" if r.ok else "-"

        def peak(r: Run) -> str:
            return f"{r.peak_mb:.0f}" if r.peak_mb else "-"

        lines.append(
            f"| {label(m)} | {m.kind} | {m.bytes_in / 1000:,.1f} KB | {size(o)} | {size(g)} | {size(t)} "
            f"| {rx(size_ratio(m, 'gltfpack'))} | {rx(size_ratio(m, 'gltf-transform'))} "
            f"| {secs(o)} | {secs(g)} | {secs(t)} | {peak(o)} | {peak(g)} | {rx(rss_ratio(m))} "
            f"| {val(o)} / {val(g)} | {m.load} |"
        )
    return lines


def tris(m: Model, r: Run | None) -> str:
    if r is None:
        return "-"
    if not r.ok:
        return cell(f"fails: {re.sub(r'/[^ :]*/', '', r.reason)}")[:90]
    if r.triangles is None:
        return "?"
    share = f" ({100 * r.triangles / m.triangles_in:.0f} %)" if m.triangles_in else ""
    return f"{r.triangles}{share}"


def table_half(models: list[Model]) -> list[str]:
    lines = [
        "| model | triangles in | ours --ratio 0.5 | gltfpack -si 0.5 | compared at: ours | gltfpack "
        "| error ours | error gltfpack | ours/gltfpack | ours s | validator ours 50 % |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for m in models:
        if m.path is None:
            continue
        o, g = matched(m)
        a, b = m.runs["ours50"], m.runs["gltfpack50"]
        again = " (again)" if o is not None and o is m.runs.get("ours50m") else ""
        again_g = " (again)" if g is not None and g is m.runs.get("gltfpack50m") else ""
        lines.append(
            f"| {label(m)} | {m.triangles_in if m.triangles_in is not None else cell(m.problem)} "
            f"| {tris(m, a)} | {tris(m, b)} | {tris(m, o)}{again} | {tris(m, g)}{again_g} "
            f"| {pct(o.error if o else None)} | {pct(g.error if g else None)} | {ratio_cell(m)} "
            f"| {a.seconds:.2f} | {val(a)} |"
        )
    return lines


def ratio_cell(m: Model) -> str:
    how = comparable(m)
    if not how:
        o, g = matched(m)
        return "n/a: not at comparable counts" if o and g and o.ok and g.ok else "-"
    return rx(err_ratio(m)) + (" †" if how == "dominated" else "") + (" (ours short)" if short(m) else "")


def kept(fin: dict[str, Any], fout: dict[str, Any]) -> str:
    gone = lost(fin, fout)
    return "none" if not gone else cell(", ".join(gone))


def table_features(models: list[Model]) -> list[str]:
    lines = [
        "| model | animations (channels) | skins | morph targets | variants | extensions in | lost in ours "
        "| lost in ours 50 % | bbox extents ours vs input |",
        "|---|---:|---:|---:|---:|---|---|---|---:|",
    ]
    for m in models:
        if m.path is None:
            continue
        fi, fo = m.features_in, m.features_out
        if not fo:
            lines.append(f"| {label(m)} | ours failed |" + " |" * 7)
            continue

        def pair(k: str, fi: dict[str, Any] = fi, fo: dict[str, Any] = fo) -> str:
            return f"{fi.get(k, 0)} -> {fo.get(k, 0)}"

        exts = ", ".join(sorted(fi.get("extensions", set()))) or "-"
        dims = f"{100 * m.dims_delta:.4f} %" if m.dims_delta is not None else "-"
        lines.append(
            f"| {label(m)} | {pair('animations')} ({pair('channels')}) | {pair('skins')} | {pair('morphs')} "
            f"| {pair('variants')} | {exts} | {kept(fi, fo)} "
            f"| {kept(fi, m.features_half) if m.features_half else '-'} | {dims} |"
        )
    return lines


def summary(name: str, models: list[Model]) -> tuple[str, dict[str, Any]]:
    """One row of the summary table and its figures."""
    done = [m for m in models if m.path is not None]
    sizes = [(size_ratio(m, "gltfpack"), m) for m in done]
    sizes = [(r, m) for r, m in sizes if r is not None]
    worst = max(sizes, key=lambda x: x[0], default=None)
    errs = [r for r in (err_ratio(m) for m in done) if r is not None]
    better = sum(r <= 1.0 for r in errs)
    within = sum(r <= 1.1 for r in errs)
    vals = [m.runs["ours"].validator_errors for m in done if m.runs["ours"].ok]
    val_models = sum(bool(v) for v in vals if v is not None)
    val_total = sum(v for v in vals if v is not None)
    halves = [m.runs["ours50"].validator_errors or 0 for m in done if m.runs["ours50"].ok]
    val_half = f"; at 50 %: {sum(halves)} in {sum(map(bool, halves))}" if any(halves) else ""
    losing = [m.name for m in done if m.features_out and lost(m.features_in, m.features_out)]
    fails = [m.name for m in done if not m.runs["ours"].ok]
    fails += [f"{m.name} at 50 %" for m in done if m.runs["ours"].ok and not m.runs["ours50"].ok]
    shorts = [m.name for m in done if short(m)]
    figures = {
        "models": len(done),
        "size_gltfpack": geomean([r for r, _ in sizes]),
        "size_transform": geomean([r for r in (size_ratio(m, "gltf-transform") for m in done) if r]),
        "worst": worst,
        "err": geomean(errs),
        "time": geomean([div(m.runs["ours"].seconds, m.runs["gltfpack"].seconds) or 0 for m in done
                         if m.runs["ours"].ok and m.runs["gltfpack"].ok]),
        "rss": geomean([r for r in (rss_ratio(m) for m in done) if r]),
    }
    worst_s = f"{worst[1].name} {worst[0]:.2f}x" if worst else "-"
    row = (
        f"| {name} | {len(done)} | {rx(figures['size_gltfpack'])} | {worst_s} "
        f"| {rx(figures['size_transform'])} | {rx(figures['time'])} "
        f"| {rx(figures['err'])} ({better} of {len(errs)} at most gltfpack's, {within} within 1.1x) "
        f"| {', '.join(shorts) or 'none'} "
        f"| {', '.join(losing) or 'none'} | {val_total} in {val_models} model(s){val_half} | {rx(figures['rss'])} "
        f"| {', '.join(fails) or 'none'} |"
    )
    return row, figures


SUMMARY_HEAD = [
    "| set | models | size ours/gltfpack (geomean) | largest ours/gltfpack | size ours/glTF-Transform (geomean) "
    "| time ours/gltfpack (geomean) | 50 % error ours/gltfpack, same triangles (geomean) "
    "| ours short of 50 % where gltfpack got there | features lost "
    "| validator errors (ours) | peak memory ours/gltfpack (geomean) | ours fails |",
    "|---|---:|---:|---|---:|---:|---|---|---|---|---:|---|",
]


def section(title: str, models: list[Model]) -> list[str]:
    return [
        f"### {title}: size, time, peak memory, validator",
        "",
        *table_size(models),
        "",
        f"### {title}: simplification at 50 %, same triangle count",
        "",
        *table_half(models),
        "",
        f"### {title}: features kept",
        "",
        *table_features(models),
        "",
    ]


# ---------------------------------------------------------------------------------------------- main


def git_head() -> str:
    try:
        return subprocess.run(["git", "log", "-1", "--format=%h %cI"], capture_output=True, text=True, cwd=ROOT,
                              check=False).stdout.strip() or "?"  # fmt: skip
    except OSError:
        return "?"


def run_set(models: list[Model], work: Path, timeout: float, samples: int, tag: str) -> None:
    for i, m in enumerate(models, 1):
        if m.path is None:
            print(f"[{tag} {i}/{len(models)}] {m.name}: missing", file=sys.stderr, flush=True)
            continue
        print(f"[{tag} {i}/{len(models)}] {m.name} (load {load()})", file=sys.stderr, flush=True)
        m.bytes_in = input_bytes(m.path)
        sub = work / f"{tag}{i:02d}"
        sub.mkdir(exist_ok=True)
        run_model(m, sub, timeout)
        measure(m, sub, timeout, samples)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    ap.add_argument("--heldout", type=Path, default=os.environ.get("PHYGITAL_HELDOUT"),
                    help="folder of the held-out models (default: $PHYGITAL_HELDOUT)")  # fmt: skip
    ap.add_argument("--list", type=Path, default=MODELS_LIST, help="models list (default: %(default)s)")
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="corpus models (default: %(default)s)")
    ap.add_argument("--no-corpus", action="store_true", help="held-out models only")
    ap.add_argument("--models", nargs="+", metavar="NAME", help="only these file names")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per subprocess (default: %(default)s)")
    ap.add_argument("--samples", type=int, default=200_000, help="surface samples per Hausdorff direction")
    ap.add_argument("--keep", type=Path, help="write outputs to this folder and keep them")
    ap.add_argument("--out", type=Path, help="also write the markdown to this file")
    args = ap.parse_args(argv)
    if args.heldout is None or not Path(args.heldout).is_dir():
        print(f"error: held-out folder {args.heldout} not found (--heldout DIR or PHYGITAL_HELDOUT)",
              file=sys.stderr)  # fmt: skip
        return 2
    wanted = set(args.models or ())
    held = [m for m in heldout_models(Path(args.heldout), args.list) if not wanted or m.name in wanted]
    corpus = [] if args.no_corpus or not args.corpus.is_dir() else [
        Model(p.name, p) for p in corpus_models(args.corpus) if not wanted or p.name in wanted]  # fmt: skip
    started = dt.datetime.now().astimezone()
    head = [
        f"Measured {started:%Y-%m-%d %H:%M %Z}, main at {git_head()}, on {machine()}; load average at the start "
        "of each model in its row.",
        "",
        f"Tools: ours (`python -m assets_pipeline optimize`, defaults), {tool_versions()}. Times are "
        f"whole-process wall times, peak memory the process's largest resident set; 50 % errors are symmetric "
        f"Hausdorff distances to the input (the pipeline's metric, {args.samples:,} samples per direction), "
        "% of its bbox diagonal, outputs aligned on the input's bottom-center.",
    ]
    with tempfile.TemporaryDirectory(prefix="bench_heldout_") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        run_set(corpus, work, args.timeout, args.samples, "corpus")
        run_set(held, work, args.timeout, args.samples, "heldout")
        print("validating", file=sys.stderr, flush=True)
        note = validate_runs([r for m in corpus + held for k, r in m.runs.items() if k in ("ours", "gltfpack",
                                                                                         "ours50")])
    rows = []
    if corpus:
        rows.append(summary("corpus", corpus)[0])
    rows.append(summary("held-out", held)[0])
    fresh = [m for m in held if "named in issue" not in m.note]
    if len(fresh) != len(held):
        rows.append(summary("held-out, not named in the issue", fresh)[0])
    md = [*head, "", *SUMMARY_HEAD, *rows, "", f"Finished {dt.datetime.now().astimezone():%H:%M %Z}, load {load()}."]
    if corpus:
        md += ["", *section("Corpus", corpus)]
    md += [
        "",
        *section("Held-out", held),
        "(a) the tool cannot read this format and was fed the uncompressed GLB our pipeline writes with "
        "`--compression none --no-quantize --texture-format keep --pivot keep` (its time not counted). "
        "kind: P positions, N normals, T texcoords, C colors. [named in issue 15]: a model the issue names, "
        "which other work may have been tuned on.",
    ]
    if note:
        md += ["", f"Note: {note}"]
    text = "\n".join(md) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
