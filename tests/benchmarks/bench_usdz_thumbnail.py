"""USDZ export and thumbnail rendering over corpus models: times, sizes, UsdValidation errors (markdown table).

Each model is read as it is and after ``optimize_file`` (quantized + meshopt + WebP GLB, read back).

Usage::

    .venv/bin/python tests/benchmarks/bench_usdz_thumbnail.py [--size 512] [--docs docs/images]

``--docs`` also writes the README's example thumbnails (``thumb_DamagedHelmet.png``, ``thumb_pirate.png``):
the same renders, palette-quantized to 256 colors to keep each file small.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from assets_pipeline import optimize_file  # noqa: E402
from assets_pipeline.io.formats import read  # noqa: E402
from assets_pipeline.io.usdz import write_usdz  # noqa: E402
from assets_pipeline.scene import world_triangles  # noqa: E402
from assets_pipeline.thumbnail import render_thumbnail  # noqa: E402

MODELS = ["DamagedHelmet.glb", "BoxTextured/BoxTextured.gltf", "chr_knight.glb", "stanford-bunny.obj",
          "pirate.obj", "ShapeCollection.glb"]
DOCS = {"DamagedHelmet.glb": "thumb_DamagedHelmet.png", "pirate.obj": "thumb_pirate.png"}


def validation_errors(path: Path) -> int:
    from pxr import Usd, UsdValidation

    stage = Usd.Stage.Open(str(path))
    validators = UsdValidation.ValidationRegistry().GetOrLoadAllValidators()
    errors = UsdValidation.ValidationContext(validators).Validate(stage)
    return sum(1 for e in errors if e.GetType() == UsdValidation.ValidationErrorType.Error)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--docs", type=Path, default=None)
    args = parser.parse_args()
    models = Path(os.environ.get("PHYGITAL_CORPUS", ROOT.parent / "shared" / "corpus")) / "models"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name in MODELS:
            glb = work / f"{Path(name).stem}.glb"
            optimize_file(models / name, glb)
            for label, source in (("source", models / name), ("optimized GLB", glb)):
                doc = read(source)
                out = work / f"{Path(name).stem}.{label[0]}.usdz"
                t0 = time.perf_counter()
                size = write_usdz(doc, out)
                t_usdz = time.perf_counter() - t0
                errors = validation_errors(out)
                t0 = time.perf_counter()
                png = render_thumbnail(doc, args.size)
                t_thumb = time.perf_counter() - t0
                rows.append((Path(name).name, label, len(world_triangles(doc)[1]), size, t_usdz, errors, len(png),
                             t_thumb))
                if args.docs and label == "source" and Path(name).name in DOCS:
                    from PIL import Image as PILImage

                    buf = io.BytesIO()
                    PILImage.open(io.BytesIO(png)).quantize(256, method=PILImage.Quantize.FASTOCTREE).save(
                        buf, "PNG", optimize=True)
                    args.docs.mkdir(parents=True, exist_ok=True)
                    (args.docs / DOCS[Path(name).name]).write_bytes(buf.getvalue())
    print(f"| model | input | triangles | USDZ bytes | USDZ time | UsdValidation errors | "
          f"thumbnail {args.size}px bytes | thumbnail time |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for model, label, tris, size, t_usdz, errors, png, t_thumb in rows:
        print(f"| {model} | {label} | {tris:,} | {size:,} | {t_usdz:.2f} s | {errors} | {png:,} | {t_thumb:.2f} s |")


if __name__ == "__main__":
    main()
