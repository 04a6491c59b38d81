"""Animated models against ``gltfpack -cc``: file size, bytes spent on keyframes, the animation error we
report, time, validator errors; corpus (generated) and held-out models in separate tables.

The corpus has no animated model, so its table holds the generated model of the animation tests
(``tests/assets_pipeline/animated_fixtures.py``: a skinned chain with 60 Hz LINEAR curves, a STEP and a
CUBICSPLINE channel, a morphed mesh). Held-out models are whatever ``.glb`` files ``--heldout DIR`` holds
(see docs/benchmarks-assets.md for where ours came from; they are not committed).

Usage::

    .venv/bin/python tests/benchmarks/bench_animation.py [--heldout DIR] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from assets_pipeline.document import AssetDocument  # noqa: E402
from assets_pipeline.io.formats import read  # noqa: E402
from assets_pipeline.io.glb import WriteOptions, write_glb  # noqa: E402
from assets_pipeline.scene import bounds, local_matrix  # noqa: E402
from assets_pipeline.validation import validate  # noqa: E402
from tests.assets_pipeline.animated_fixtures import animated_document, keyframe_bytes_in_file, sample  # noqa: E402

SAMPLES = 2000
"""Times per animation at which both outputs are compared with the input (uniform over the clip)."""

GLTFPACK = ROOT / "tools" / "node" / "node_modules" / ".bin" / "gltfpack"
TARGET = 1.05
"""Issue 15: no animated model larger than 1.05x gltfpack -cc."""


def _load() -> str:
    return "{:.1f}/{:.1f}/{:.1f}".format(*os.getloadavg())


def _run(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)
    return time.perf_counter() - t0


def _parent_scales(doc: AssetDocument) -> dict[int, float]:
    nodes = doc.gltf.get("nodes", [])
    parent = {c: p for p, n in enumerate(nodes) for c in n.get("children", [])}

    def world(i: int) -> np.ndarray:
        return world(parent[i]) @ local_matrix(nodes[i]) if i in parent else local_matrix(nodes[i])

    return {i: float(np.linalg.norm(world(parent[i])[:3, :3], axis=0).max()) if i in parent else 1.0
            for i in range(len(nodes))}


def _tracks(doc: AssetDocument) -> dict[tuple[str, str, str], tuple[dict[str, Any], int]]:
    out = {}
    for ai, anim in enumerate(doc.gltf.get("animations", [])):
        for ch in anim["channels"]:
            node = ch["target"].get("node")
            if node is None:
                continue
            name = doc.gltf["nodes"][node].get("name") or f"#{node}"
            out[(anim.get("name") or f"#{ai}", name, ch["target"]["path"])] = (anim["samplers"][ch["sampler"]], node)
    return out


def animation_errors(src: AssetDocument, out: AssetDocument) -> dict[str, float]:
    """Largest error of ``out``'s animation against ``src``'s at SAMPLES times per clip, channels matched by
    animation and node name (a channel a tool dropped is compared with its node's rest value); rotation in
    radians, translation as a fraction of the bbox diagonal, scale relative, weights absolute; "unmatched"
    counts channels whose node has no name found in ``out`` (left out)."""
    a, b = _tracks(src), _tracks(out)
    names = {n.get("name"): i for i, n in enumerate(out.gltf.get("nodes", [])) if n.get("name")}
    lo, hi = bounds(src)
    size = float(np.linalg.norm(hi - lo)) or 1.0
    scales = _parent_scales(src)
    errs = {"rotation": 0.0, "translation": 0.0, "scale": 0.0, "weights": 0.0, "unmatched": 0}
    rest = {"translation": [0.0, 0.0, 0.0], "rotation": [0.0, 0.0, 0.0, 1.0], "scale": [1.0, 1.0, 1.0]}
    spans: dict[str, tuple[float, float]] = {}
    for (anim, _, _), (s, _) in a.items():
        t = src.accessors[s["input"]].as_float()
        lo_t, hi_t = spans.get(anim, (np.inf, -np.inf))
        spans[anim] = (min(lo_t, float(t.min())), max(hi_t, float(t.max())))
    for key, (s, node) in a.items():
        anim, name, path = key
        times = np.linspace(spans[anim][0], spans[anim][1], SAMPLES)
        va = np.array([sample(src, s, path, float(t)) for t in times])
        if key in b:
            vb = np.array([sample(out, b[key][0], path, float(t)) for t in times])
        elif name in names and path in rest:
            vb = np.tile(np.array(out.gltf["nodes"][names[name]].get(path, rest[path]), np.float64), (SAMPLES, 1))
        else:
            errs["unmatched"] += 1
            continue
        if path == "rotation":
            d = np.abs(np.sum(va * vb, axis=1)) / (np.linalg.norm(va, axis=1) * np.linalg.norm(vb, axis=1))
            e = float((2 * np.arccos(np.clip(d, 0, 1))).max())
        elif path == "translation":
            e = float(np.linalg.norm(va - vb, axis=1).max()) * scales[node] / size
        elif path == "scale":
            e = float((np.abs(va - vb) / np.maximum(np.abs(va), 1e-6)).max())
        else:
            e = float(np.abs(va - vb).max())
        errs[path] = max(errs[path], e)
    return errs


def measure(src: Path, work: Path) -> dict[str, Any]:
    """One model through both tools; sizes, keyframe bytes, errors, times, validator errors."""
    ours, pack, rep = work / f"{src.stem}.ours.glb", work / f"{src.stem}.gltfpack.glb", work / f"{src.stem}.json"
    t_ours = _run([sys.executable, "-m", "assets_pipeline", "optimize", str(src), "-o", str(ours), "--quiet",
                   "--report", str(rep)])
    t_pack = _run([str(GLTFPACK), "-cc", "-i", str(src), "-o", str(pack)])
    report = json.loads(rep.read_text())
    errors = {Path(r.path).name: r.errors for r in validate([ours, pack])}
    before = read(src)
    measured = {"ours": animation_errors(before, read(ours)), "gltfpack": animation_errors(before, read(pack))}
    return {
        "model": src.name, "input": src.stat().st_size, "ours": ours.stat().st_size, "gltfpack": pack.stat().st_size,
        "anim_in": keyframe_bytes_in_file(src.read_bytes()), "anim_ours": keyframe_bytes_in_file(ours.read_bytes()),
        "anim_pack": keyframe_bytes_in_file(pack.read_bytes()), "t_ours": t_ours, "t_pack": t_pack,
        "animation": report.get("animation"), "val_ours": errors[ours.name], "val_pack": errors[pack.name],
        "measured": measured, "load": _load(),
    }


def _err(m: dict[str, float] | None, path: str) -> str:
    return "-" if m is None else f"{m[path]:.1e}"


def table(rows: list[dict[str, Any]]) -> str:
    """Markdown table of ``measure`` results (errors measured on both outputs: ours / gltfpack)."""
    head = ("| model | input | ours | gltfpack -cc | ours/gltfpack | keyframe bytes in | ours | gltfpack "
            "| keys in -> ours | rotation err rad ours / gltfpack | translation err (of diagonal) ours / gltfpack "
            "| scale err ours / gltfpack | weight err ours / gltfpack | ours s | gltfpack s "
            "| validator errors ours/gltfpack | load |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
            "---:|---:|---:|---|---|\n")
    lines = []
    for r in rows:
        a = r["animation"] or {}
        m = r["measured"]
        ratio = r["ours"] / r["gltfpack"]
        flag = "" if ratio <= TARGET else " **(over 1.05x)**"
        errs = " | ".join(f"{_err(m['ours'], p)} / {_err(m['gltfpack'], p)}"
                          for p in ("rotation", "translation", "scale", "weights"))
        unmatched = int(m["gltfpack"]["unmatched"]) + int(m["ours"]["unmatched"])
        note = f" ({unmatched} channel(s) not matched by name, left out)" if unmatched else ""
        lines.append(
            f"| {r['model']}{note} | {r['input']:,} | {r['ours']:,} | {r['gltfpack']:,} | {ratio:.3f}x{flag} "
            f"| {r['anim_in']:,} | {r['anim_ours']:,} | {r['anim_pack']:,} "
            f"| {a.get('keys_in', 0):,} -> {a.get('keys_out', 0):,} | {errs} "
            f"| {r['t_ours']:.2f} | {r['t_pack']:.2f} | {r['val_ours']}/{r['val_pack']} | {r['load']} |")
    return head + "\n".join(lines) + "\n"


def main() -> int:
    """Run both tables and print (or write) the markdown."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--heldout", type=Path, default=None, help="folder of held-out animated .glb files")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        generated = work / "generated-animated.glb"
        write_glb(animated_document(), generated, WriteOptions(compression="none"))
        corpus = [measure(generated, work)]
        held = [measure(p, work) for p in sorted(args.heldout.glob("*.glb"))] if args.heldout else []
    text = (f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, load average at the "
            f"start of each row in its last column; gltfpack 1.3 (npm) `-cc`, ours `optimize` defaults "
            f"(rotation bound 1e-3 rad, translation 1e-4 of the bbox diagonal, scale 1e-4, weights 1e-3). "
            f"Errors are measured here on both outputs against the input, {SAMPLES} times per clip, channels "
            "matched by animation and node name.\n\n"
            "Corpus (the corpus has no animated model: the generated model of the animation tests)\n\n"
            + table(corpus))
    if held:
        text += "\nHeld-out\n\n" + table(held)
    if args.out:
        args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
