"""LOD file sizes with textures scaled down per LOD (the default) against full-size textures in every LOD
(``--no-lod-textures``, what every LOD carried before): ``optimize --lods 0.5,0.25,0.1 --validate`` on textured
held-out models, each run a process of its own, one after the other.

For each model and output: triangles, bytes without and with LOD textures scaled, their ratio, and the largest
texture (pixels) of each; the whole-process time of both runs and whether the validator passed (``--validate``
exits 2 on errors and writes nothing). The held-out folder is given with ``--heldout DIR`` or ``PHYGITAL_HELDOUT``
(the files are named in ``tests/benchmarks/heldout_models.csv``).

Usage::

    nice .venv/bin/python tests/benchmarks/bench_lod_textures.py --heldout /work/heldout/lead [--models NAME ...]
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

ROOT = Path(__file__).resolve().parents[2]
MODELS = ("SheenChair", "ToyCar", "GlamVelvetSofa", "CesiumMilkTruck", "MaterialsVariantsShoe", "WaterBottle")
LODS = "0.5,0.25,0.1"


def find_model(folder: Path, name: str) -> Path:
    """The model file named ``name`` in the held-out folder (its entry in ``heldout_models.csv``)."""
    listing = Path(__file__).with_name("heldout_models.csv").read_text().splitlines()[1:]
    for line in listing:
        path = line.split(",")[0]
        if Path(path).stem == name:
            return folder / path
    raise SystemExit(f"error: {name} is not in heldout_models.csv")


def run(model: Path, out: Path, *extra: str) -> tuple[dict[str, Any] | None, float]:
    """One ``optimize`` process: its report (None when it failed) and its wall time."""
    report = out.with_suffix(".json")
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "assets_pipeline", "optimize", str(model), "-o", str(out), "--lods",
                        LODS, "--validate", "--quiet", "--report", str(report), *extra],
                       capture_output=True, text=True, cwd=ROOT, check=False)
    seconds = time.perf_counter() - t0
    if r.returncode != 0:
        print(f"{model.name} {' '.join(extra)}: exit {r.returncode}: {r.stderr.strip()}", file=sys.stderr)
        return None, seconds
    return json.loads(report.read_text()), seconds


def largest(textures: list[list[int]]) -> str:
    """The largest texture of an output as WxH ('-' without textures)."""
    best = max(textures, key=lambda wh: wh[0] * wh[1], default=None)
    return "-" if best is None else f"{best[0]}x{best[1]}"


def main() -> None:
    """Run both settings on each model and print the Markdown table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--heldout", type=Path, default=os.environ.get("PHYGITAL_HELDOUT"))
    ap.add_argument("--models", nargs="*", default=list(MODELS))
    args = ap.parse_args()
    if args.heldout is None or not Path(args.heldout).is_dir():
        raise SystemExit(f"error: held-out folder {args.heldout} not found (--heldout DIR or PHYGITAL_HELDOUT)")
    print(f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, load {'/'.join(f'{x:.1f}' for x in os.getloadavg())}, "
          f"--lods {LODS}\n")
    print("| model | output | triangles | bytes, full textures | bytes, scaled | scaled / full | largest texture, "
          "full -> scaled |")
    print("|---|---|---:|---:|---:|---:|---|")
    notes = []
    with tempfile.TemporaryDirectory(prefix="bench-lodtex-") as tmp:
        for name in args.models:
            model = find_model(Path(args.heldout), name)
            full, t_full = run(model, Path(tmp) / f"{name}-full.glb", "--no-lod-textures")
            scaled, t_scaled = run(model, Path(tmp) / f"{name}-scaled.glb")
            if full is None or scaled is None:
                notes.append(f"{name}: a run failed (see stderr)")
                continue
            for i, (a, b) in enumerate(zip(full["lods"], scaled["lods"], strict=True)):
                label = "LOD0" if i == 0 else f"LOD{i} ({a['ratio']:g})"
                print(f"| {name if i == 0 else ''} | {label} | "
                      f"{b['triangles']:,} | {a['bytes']:,} | {b['bytes']:,} | {b['bytes'] / a['bytes']:.2f} | "
                      f"{largest(a['textures'])} -> {largest(b['textures'])} |")
            total_a = sum(lod["bytes"] for lod in full["lods"][1:])
            total_b = sum(lod["bytes"] for lod in scaled["lods"][1:])
            notes.append(f"{name}: LOD1-3 together {total_a:,} -> {total_b:,} bytes ({total_b / total_a:.2f}x); "
                         f"time {t_full:.1f} s -> {t_scaled:.1f} s; validator: no errors in either run")
    print()
    for note in notes:
        print(f"- {note}")
    print(f"\nload at the end {'/'.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
