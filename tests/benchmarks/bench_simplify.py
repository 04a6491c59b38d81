"""Simplification side by side with gltfpack and glTF-Transform: time and error at the same triangle count.

For each model, in one run: ``gltfpack -cc -si R`` (its own error bound, 1 %), then ours and
``gltf-transform simplify`` aimed at the triangle count gltfpack reached (ours with ``--error 0.05`` and
glTF-Transform with ``--error 1``, so the count decides), and ours with its defaults at ``--ratio R``
(1 % bound, measured). Every output's error is our metric (symmetric Hausdorff distance between the
world-space surfaces, % of the input's bounding-box diagonal, 100,000 samples). Times are whole
processes; ours also reports the simplify step alone (from ``--report``). ``cat /proc/loadavg`` is
recorded before each model.

Ours runs from ``--code`` (default: this checkout; several comma-separated checkouts are timed one after the
other on each model, e.g. the main branch's and a change's, in one run). Its bytecode is compiled first
(``compileall``), as an installed package's is: with ``PYTHONDONTWRITEBYTECODE`` set, every run would otherwise
compile the whole package again (~0.1 s).

Usage::

    .venv/bin/python tests/benchmarks/bench_simplify.py --heldout /work/heldout/simplify [--out FILE.md]
"""

from __future__ import annotations

import argparse
import compileall
import json
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "benchmarks"))

from bench_assets import BIN, DEFAULT_CORPUS, intermediate_glb, ours_cmd, run_tool  # noqa: E402

from assets_pipeline.io.formats import read  # noqa: E402
from assets_pipeline.metrics import SurfaceReference  # noqa: E402
from assets_pipeline.scene import world_triangles  # noqa: E402

CORPUS = ("stanford-bunny.obj", "fandisk.obj", "spot.obj", "igea.ply", "DamagedHelmet.glb", "pirate.glb")
TUNED = ("BrainStem-glTF-Binary/BrainStem.glb", "StainedGlassLamp-glTF/StainedGlassLamp.gltf",
         "meshes/Spider_binary.stl")
"""Held-out models the issue named: looked at while changing the simplifier."""
HELDOUT = ("SheenChair-glTF/SheenChair.gltf", "ToyCar-glTF/ToyCar.gltf",
           "GlamVelvetSofa-glTF-Binary/GlamVelvetSofa.glb", "CesiumMilkTruck-glTF-Binary/CesiumMilkTruck.glb",
           "ClearcoatWicker-glTF-Binary/ClearcoatWicker.glb",
           "IridescentDishWithOlives-glTF/IridescentDishWithOlives.gltf",
           "GlassHurricaneCandleHolder-glTF-Binary/GlassHurricaneCandleHolder.glb", "meshes/cow.obj",
           "meshes/homer.obj", "meshes/ogre.obj", "meshes/rocker-arm.obj", "meshes/Wuson.ply", "meshes/cycloidal.ply",
           "meshes/x-end-idler.stl")
"""Held-out models not looked at while changing the simplifier."""


@dataclass(slots=True)
class Row:
    """One model at one ratio."""
    group: str
    name: str
    ratio: float
    load: str
    triangles_in: int = 0
    runs: dict[str, tuple[float, int, float] | str] = field(default_factory=dict)
    """tool -> (seconds, triangles, error %) or the reason it failed."""
    simplify_s: float | None = None


def _loadavg() -> str:
    return Path("/proc/loadavg").read_text().split(" ")[0]


def _measure(ref: SurfaceReference, path: Path) -> tuple[int, float]:
    v, f = world_triangles(read(path))
    return len(f), 100 * ref.hausdorff(v, f)


def _ours(code: Path, src: Path, dst: Path, *extra: str) -> list[str]:
    """Our command run on the checkout ``code`` (``-P``: not on this one, which is the working directory)."""
    cmd = ours_cmd(src, dst, *extra)
    return ["env", f"PYTHONPATH={code}", cmd[0], "-P", *cmd[1:]]


def bench(src: Path, group: str, ratio: float, work: Path, timeout: float, code: Path = ROOT, label: str = "") -> Row:
    """Run the tools on one model (ours from the checkout ``code``, named ``label`` in the row) and measure their
    outputs."""
    row = Row(group, f"{src.name} ({label})" if label else src.name, ratio, _loadavg())
    va, fa = world_triangles(read(src))
    row.triangles_in = len(fa)
    ref = SurfaceReference(va, fa, samples=100_000)
    glb = src
    if src.suffix.lower() not in (".gltf", ".glb"):
        inter = intermediate_glb(src, work, timeout)
        if not inter.ok or inter.path is None:
            row.runs["gltfpack"] = f"no intermediate GLB: {inter.reason}"
            return row
        glb = inter.path

    def one(tool: str, cmd: list[str], out: Path) -> None:
        run = run_tool(tool, cmd, out, timeout)
        if not run.ok:
            row.runs[tool] = run.reason
            return
        tris, err = _measure(ref, out)
        row.runs[tool] = (run.seconds, tris, err)

    one("gltfpack", [str(BIN / "gltfpack"), "-cc", "-si", str(ratio), "-i", str(glb), "-o", str(work / "g.glb")],
        work / "g.glb")
    gp = row.runs["gltfpack"]
    same = gp[1] / row.triangles_in if isinstance(gp, tuple) else ratio
    report = work / "report.json"
    one("ours", _ours(code, src, work / "o.glb", "--ratio", f"{same:.6f}", "--error", "0.05", "--pivot", "keep",
                         "--texture-format", "keep", "--no-measure", "--report", str(report)), work / "o.glb")
    if report.is_file():
        steps = json.loads(report.read_text()).get("steps", [])
        row.simplify_s = sum(s["seconds"] for s in steps if s["name"] == "simplify")
    one("ours default", _ours(code, src, work / "d.glb", "--ratio", str(ratio), "--pivot", "keep",
                                 "--texture-format", "keep"), work / "d.glb")
    one("gltf-transform", [str(BIN / "gltf-transform"), "simplify", str(glb), str(work / "t.glb"), "--ratio",
                           f"{same:.6f}", "--error", "1"], work / "t.glb")
    return row


def _cell(run: tuple[float, int, float] | str | None) -> str:
    if run is None:
        return "-"
    if isinstance(run, str):
        return f"failed: {run[:60]}"
    return f"{run[1]:,} / {run[2]:.3f} % / {run[0]:.2f} s"


def table(rows: list[Row]) -> str:
    """Markdown table of the rows, one group after the other."""
    out = []
    for group in dict.fromkeys(r.group for r in rows):
        out += [f"\n#### {group}\n",
                "| model | R | load | triangles in | gltfpack -si R (tris / err / s) | ours, same count | "
                "gltf-transform, same count | err ours / better peer | time ours / gltfpack (simplify step) "
                "| ours default `--ratio R` (1 % bound) |",
                "|---|---|---|---|---|---|---|---|---|---|"]
        for r in (r for r in rows if r.group == group):
            g, o, t = r.runs.get("gltfpack"), r.runs.get("ours"), r.runs.get("gltf-transform")
            peers = [x[2] for x in (g, t) if isinstance(x, tuple)]
            err = f"{o[2] / min(peers):.2f}x" if isinstance(o, tuple) and peers and min(peers) > 0 else "-"
            tm = "-"
            if isinstance(o, tuple) and isinstance(g, tuple):
                tm = f"{o[0] / g[0]:.1f}x ({(r.simplify_s or 0) / g[0]:.1f}x)"
            out.append(f"| {r.name} | {r.ratio} | {r.load} | {r.triangles_in:,} | {_cell(g)} | {_cell(o)} | "
                       f"{_cell(t)} | {err} | {tm} | {_cell(r.runs.get('ours default'))} |")
    return "\n".join(out)


def main() -> None:
    """Run the benchmark and print (or write) the markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--heldout", type=Path, required=True, help="folder with the held-out models")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--ratios", default="0.5,0.1")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--only", default="", help="comma-separated model names to run")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--code", default=str(ROOT), help="comma-separated checkouts whose assets_pipeline is timed "
                        "(default: this one)")
    args = parser.parse_args()
    codes = [Path(c).resolve() for c in args.code.split(",") if c]
    for code in codes:
        compileall.compile_dir(code / "assets_pipeline", quiet=1)
    models = [("corpus", args.corpus / m) for m in CORPUS] + [("held-out, looked at (the issue's)", args.heldout / m)
                                                             for m in TUNED]
    models += [("held-out, not looked at", args.heldout / m) for m in HELDOUT]
    only = {s for s in args.only.split(",") if s}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for group, path in models:
            if only and path.name not in only:
                continue
            for ratio in (float(r) for r in args.ratios.split(",")):
                for code in codes:
                    label = "" if len(codes) == 1 else str(code)
                    row = bench(path, group, ratio, Path(tmp), args.timeout, code, label)
                    rows.append(row)
                    print(table([row]).splitlines()[-1], flush=True)
    text = table(rows)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
