"""Try-on speed at 1280x720 on one core: landmark, mask and render time per frame; shoes on the street video;
shoe views rendered from the corpus 3D models (once per product, not per frame).

Run: ``.venv/bin/python tests/benchmarks/bench_tryon.py [--frames 150] [--all-cores]``. Prints markdown tables.
The process is pinned to one CPU core unless ``--all-cores`` is given.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from skimage import data

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from assets_pipeline.render import mesh_items  # noqa: E402
from tests.conftest import corpus_dir  # noqa: E402
from tryon import media  # noqa: E402
from tryon.factory import create_tryon  # noqa: E402
from tryon.settings import TryOnSettings  # noqa: E402
from tryon.shoes.views import front_winding, render_views  # noqa: E402

LOOKS = ROOT / "samples" / "looks"
VIEW_MODELS = ("chr_knight.glb", "BoxVertexColors.glb", "DamagedHelmet.glb", "DenseSphere.glb", "stanford-bunny.obj")
"""Corpus models the view tests use, plus two dense ones (31k and 69k triangles)."""


def mirror_frame(face_width: float = 240.0) -> np.ndarray:
    """A 1280x720 RGB frame with the astronaut's face about ``face_width`` px wide, as in a mirror."""
    img = data.astronaut()
    scale = face_width / 92.0  # her face is 92 px wide in the 512 px original
    big = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    cx, cy = int(224 * scale), int(140 * scale)
    frame = np.zeros((720, 1280, 3), np.uint8)
    x0, y0 = max(0, cx - 640), max(0, cy - 300)
    crop = big[y0 : y0 + 720, x0 : x0 + 1280]
    frame[: crop.shape[0], : crop.shape[1]] = crop
    return frame


def noisy(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    f = img.astype(np.float32)
    return np.clip(f + rng.normal(0, 1, img.shape) * np.sqrt(16 + 0.15 * f), 0, 255).astype(np.uint8)


def ms(values: list[float]) -> str:
    return f"{statistics.mean(values):.2f}"


def bench_face(look_name: str, frames: int) -> dict[str, float | str]:
    look = media.read_look(LOOKS / f"{look_name}.json")
    base = mirror_frame()
    rng = np.random.default_rng(1)
    inputs = [noisy(base, rng) for _ in range(16)]
    tryon = create_tryon(look, TryOnSettings(), "video")
    lm, mk, rd = [], [], []
    try:
        for i in range(frames + 10):
            r = tryon.process(inputs[i % len(inputs)], i / 30)
            assert len(r.faces) == 1
            if i >= 10:
                lm.append(r.timings.landmarks)
                mk.append(r.timings.masks)
                rd.append(r.timings.render)
        width = r.faces[0].width
    finally:
        tryon.provider.close()
    total = statistics.mean(lm) + statistics.mean(mk) + statistics.mean(rd)
    return {
        "look": look_name,
        "face px": f"{width:.0f}",
        "landmarks ms": ms(lm),
        "masks ms": ms(mk),
        "render ms": ms(rd),
        "masks+render / landmarks": f"{(statistics.mean(mk) + statistics.mean(rd)) / statistics.mean(lm):.2f}",
        "total ms": f"{total:.2f}",
        "fps": f"{1000 / total:.0f}",
    }


def bench_shoes(limit: int | None) -> tuple[dict[str, float | str], list[str]]:
    look = media.read_look(LOOKS / "sneakers.json")
    src = corpus_dir() / "images" / "street_walking_720p50.avi"
    tryon = create_tryon(look, TryOnSettings(), "video")
    pose_ms, shoe_ms, frames = [], [], 0
    per_side: dict[str, dict[str, list[float] | int]] = {
        s: {"visible": 0, "shod": 0, "err": []} for s in ("left", "right")
    }
    views: dict[str, int] = {}
    try:
        for t, frame in media.read_video(src, limit):
            r = tryon.process(frame, t)
            frames += 1
            pose_ms.append(r.timings.pose)
            shoe_ms.append(r.timings.shoes)
            if r.pose is not None:
                for foot in r.pose.feet:
                    per_side[foot.side]["visible"] += 1  # type: ignore[operator]
            for s in r.shoes_placed:
                per_side[s.side]["shod"] += 1  # type: ignore[operator]
                per_side[s.side]["err"].append(s.error_px)  # type: ignore[union-attr]
                views[s.view] = views.get(s.view, 0) + 1
    finally:
        tryon.provider.close()
    total = statistics.mean(pose_ms) + statistics.mean(shoe_ms)
    row = {
        "look": "sneakers (street video)",
        "frames": str(frames),
        "pose+segmentation ms": ms(pose_ms),
        "shoes ms": ms(shoe_ms),
        "total ms": f"{total:.2f}",
        "fps": f"{1000 / total:.0f}",
    }
    lines = [
        "| foot | frames visible | frames with a shoe | sole centre to heel/foot-index midpoint: mean px | max px |",
        "|---|---|---|---|---|",
    ]
    for side, st in per_side.items():
        err = st["err"]
        assert isinstance(err, list)
        mean = f"{statistics.mean(err):.1f}" if err else "-"
        mx = f"{max(err):.1f}" if err else "-"
        lines.append(f"| {side} | {st['visible']} / {frames} | {st['shod']} | {mean} | {mx} |")
    lines.append("")
    lines.append("Views used: " + ", ".join(f"{k} {v}" for k, v in sorted(views.items())))
    return row, lines


def bench_views(repeats: int = 5) -> list[dict[str, float | str]]:
    """Time per view (side, front and back rendered together, divided by 3) at the default 256 px sprite."""
    rows: list[dict[str, float | str]] = []
    for name in VIEW_MODELS:
        doc = media.read_document(corpus_dir() / "models" / name)
        sided = name.endswith((".glb", ".gltf"))
        items = mesh_items(doc)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            render_views(doc, sided_materials=sided)
            times.append((time.perf_counter() - t0) * 1e3 / 3)
        rows.append(
            {
                "model": name,
                "triangles": str(sum(len(it.triangles) for it in items)),
                "back faces skipped": "yes" if front_winding(doc, items, sided) else "no",
                "ms per view (median)": f"{statistics.median(times):.1f}",
                "best": f"{min(times):.1f}",
            }
        )
    return rows


def codec_row(frame: np.ndarray, n: int = 50) -> str:
    jpeg = media.encode_jpeg(frame)
    t0 = time.perf_counter()
    for _ in range(n):
        media.decode_image(jpeg)
    t1 = time.perf_counter()
    for _ in range(n):
        media.encode_jpeg(frame)
    t2 = time.perf_counter()
    return f"JPEG 1280x720: decode {(t1 - t0) / n * 1e3:.2f} ms, encode {(t2 - t1) / n * 1e3:.2f} ms"


def table(rows: list[dict[str, float | str]]) -> str:
    keys = list(rows[0])
    out = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    out += ["| " + " | ".join(str(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--frames", type=int, default=150, help="timed frames per face look")
    ap.add_argument("--shoe-frames", type=int, default=None, help="street video frames (default: all 205)")
    ap.add_argument("--views-only", action="store_true", help="only the shoe views from 3D models")
    ap.add_argument("--all-cores", action="store_true", help="do not pin to one core")
    args = ap.parse_args()
    if not args.all_cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
        cv2.setNumThreads(1)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if args.views_only:
        print(table(bench_views()))
        return
    print(f"### Try-on speed, 1280x720, {cores} core(s), mediapipe video (tracking) mode\n")
    rows = [bench_face(name, args.frames) for name in ("red_matte_lipstick", "glossy_lipstick", "full_face")]
    print(table(rows))
    print()
    shoe_row, shoe_lines = bench_shoes(args.shoe_frames)
    print(table([shoe_row]))
    print()
    print("\n".join(shoe_lines))
    print()
    print(codec_row(mirror_frame()))
    print()
    print("### Shoe views from 3D models (256 px sprites, rendered once per product)\n")
    print(table(bench_views()))


if __name__ == "__main__":
    main()
