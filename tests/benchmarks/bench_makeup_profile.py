"""Makeup on faces turned to three-quarter and full profile (issue 12): colour painted onto the background.

Run: ``.venv/bin/python tests/benchmarks/bench_makeup_profile.py --heldout DIR [--before REF]`` -> markdown.

Every picture in ``DIR`` (JPEG/PNG) gets lipstick, blush, eyeshadow and foundation, one product at a time, through
``python -m tryon image`` (the CLI a user runs), written as PNG. A pixel is *painted* when any channel moved by
at least ``PAINTED`` levels. The face's outline is taken from a model that has nothing to do with our masks:
MediaPipe's selfie (person) segmentation, landscape model, on the untouched picture; a painted pixel whose
person probability is under ``BACKGROUND`` is *spill* (colour on the background). Pixels in the uncertain band
between the two are not counted either way.

Per face (the try-on's own face mesh, image mode) the table also lists the head's yaw and which sided regions
(eyeshadow, blush, brows) are painted on the near and far side, so that one sees whether the far side is skipped.

``--before REF`` runs the same on the code of git revision REF (extracted to a temporary folder).

Cost of the lips' clip (this tree): the person segmentation around each face turned past
``tryon.pipeline.TURNED_LIPS_DEG`` (``MediaPipeProvider.silhouette``), timed against finding the faces (image
mode) in the same process, the median of ``REPEATS`` runs per picture. In video (``--clip-from NAME``, default
the full-profile ``emma_input.jpg``): a 1280 x 720 window around that picture's most turned face, at half size,
moved a few pixels a frame (``CLIP_FRAMES`` frames), bare face mesh (tracking) and makeup with and without the
clip interleaved frame by frame on one core, and the time spent in the segmentation.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(os.environ.get("BENCH_TREE", Path(__file__).resolve().parents[2]))
PYTHON = sys.executable
PAINTED = 6
BACKGROUND = 0.3
PRODUCTS = {
    "lips": {"kind": "lipstick", "shade": "#C0102A", "finish": "matte", "intensity": 0.9},
    "blush": {"kind": "blush", "shade": "#E0506A", "finish": "matte", "intensity": 0.8},
    "eyeshadow": {"kind": "eyeshadow", "shade": "#3050C0", "finish": "matte", "intensity": 0.8},
    "foundation": {"kind": "foundation", "shade": "#D9AE94", "finish": "matte", "intensity": 0.6},
}


def person_probability(rgb: np.ndarray) -> np.ndarray:
    """Selfie segmentation's person probability (h, w) float32 for an RGB picture."""
    import mediapipe as mp

    with mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=1) as seg:
        return np.asarray(seg.process(rgb).segmentation_mask, dtype=np.float32)


def tree_at(ref: str, into: Path) -> Path:
    """The repository's files at git revision ``ref`` extracted under ``into``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def paint(tree: Path, picture: Path, look: Path, out: Path) -> None:
    """Run ``python -m tryon image`` of ``tree`` on one picture."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    cmd = [PYTHON, "-m", "tryon", "image", str(picture), "--look", str(look), "-o", str(out), "-q"]
    subprocess.run(cmd, cwd=tree, env=env, check=True, capture_output=True)


def spill(tree: Path, pictures: list[Path], work: Path) -> dict[tuple[str, str], tuple[int, int]]:
    """(picture, region) -> (painted pixels, painted pixels on the background)."""
    looks = {}
    for name, product in PRODUCTS.items():
        looks[name] = work / f"{name}.json"
        looks[name].write_text(json.dumps([product]))
    result = {}
    for pic in pictures:
        rgb = cv2.cvtColor(cv2.imread(str(pic)), cv2.COLOR_BGR2RGB)
        background = person_probability(rgb) < BACKGROUND
        for name, look in looks.items():
            out = work / f"{pic.stem}_{name}.png"
            paint(tree, pic, look, out)
            after = cv2.cvtColor(cv2.imread(str(out)), cv2.COLOR_BGR2RGB)
            painted = np.abs(after.astype(np.int16) - rgb.astype(np.int16)).max(axis=2) >= PAINTED
            result[(pic.name, name)] = (int(painted.sum()), int((painted & background).sum()))
    return result


def sides(tree: Path, pictures: list[Path]) -> dict[str, list[str]]:
    """Per picture, each face's yaw and the sided regions painted on its near / far side (code of ``tree``)."""
    code = f"""
import json, sys, cv2
sys.path.insert(0, {str(tree)!r})
from tryon.providers.mediapipe import MediaPipeProvider
from tryon.regions import SIDED, visibility, yaw_degrees
out = {{}}
with MediaPipeProvider("image") as p:
    for path in sys.argv[1:]:
        rgb = cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB)
        rows = []
        for face in p.faces(rgb):
            yaw = yaw_degrees(face)
            far = "left" if yaw > 0 else "right"
            near = "right" if far == "left" else "left"
            rows.append("%+.0f: lips %.1f, near %.1f, far %.1f" % (
                yaw, visibility(face, "lips"), visibility(face, "blush", near), visibility(face, "blush", far)))
        out[path.rsplit("/", 1)[-1]] = rows
print(json.dumps(out))
"""
    run = subprocess.run([PYTHON, "-c", code, *map(str, pictures)], capture_output=True, text=True, check=True)
    return json.loads(run.stdout.strip().splitlines()[-1])


REPEATS = 3


def clip_cost(tree: Path, pictures: list[Path]) -> str:
    """One line: turned faces, median ms of their silhouette and of the pictures' face search (code of ``tree``)."""
    code = f"""
import statistics, sys, time, cv2
sys.path.insert(0, {str(tree)!r})
from tryon.pipeline import TURNED_LIPS_DEG
from tryon.providers.mediapipe import MediaPipeProvider
from tryon.regions import yaw_degrees
find, sil = [], []
with MediaPipeProvider("image") as p:
    for path in sys.argv[1:]:
        rgb = cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB)
        times = []
        for _ in range({REPEATS}):
            t0 = time.perf_counter()
            faces = p.faces(rgb)
            times.append(time.perf_counter() - t0)
        find.append(statistics.median(times) * 1e3)
        for face in faces:
            if abs(yaw_degrees(face)) >= TURNED_LIPS_DEG:
                times = []
                for _ in range({REPEATS}):
                    t0 = time.perf_counter()
                    p.silhouette(rgb, face)
                    times.append(time.perf_counter() - t0)
                sil.append(statistics.median(times) * 1e3)
print("%d turned faces: silhouette %.1f ms median (%.1f-%.1f) a face; finding the faces %.1f ms median a picture" % (
    len(sil), statistics.median(sil), min(sil), max(sil), statistics.median(find)))
"""
    run = subprocess.run([PYTHON, "-c", code, *map(str, pictures)], capture_output=True, text=True, check=True)
    return run.stdout.strip().splitlines()[-1]


CLIP_FRAMES = 60


def turned_sweep(picture: str | Path, frames: int = CLIP_FRAMES) -> list[np.ndarray]:
    """The synthetic clip of a turned face (see the module): 1280 x 720 windows around the picture's most turned
    face (the code on ``sys.path`` finds it), the picture at half size, moved a few pixels a frame."""
    from tryon.providers.mediapipe import MediaPipeProvider
    from tryon.regions import yaw_degrees

    rgb = cv2.cvtColor(cv2.imread(str(picture)), cv2.COLOR_BGR2RGB)
    rgb = cv2.resize(rgb, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    with MediaPipeProvider("image") as p:
        face = max(p.faces(rgb), key=lambda f: abs(yaw_degrees(f)))
    cx, cy = (int(v) for v in face.center)
    out = []
    for i in range(frames):
        x0 = min(max(0, cx - 640 + int(6 * np.sin(i / 6))), rgb.shape[1] - 1280)
        y0 = min(max(0, cy - 360 + int(3 * np.cos(i / 9))), rgb.shape[0] - 720)
        out.append(np.ascontiguousarray(rgb[y0 : y0 + 720, x0 : x0 + 1280]))
    return out


def video_cost(tree: Path, picture: Path) -> str:
    """One line: the lips' clip in video on a turned face (code of ``tree``), see the module."""
    code = f"""
import json, os, statistics, sys, time, cv2, numpy as np
sys.path.insert(0, {str(tree)!r})
import mediapipe as mp
import tryon.providers.mediapipe as M
from tryon.factory import create_tryon
from tryon.look import parse_look
from tryon.regions import yaw_degrees
from tryon.settings import TryOnSettings
os.sched_setaffinity(0, {{0}})
sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
from bench_makeup_profile import turned_sweep
frames = turned_sweep(sys.argv[1])
spent = [0.0]
silhouette = M.MediaPipeProvider.silhouette
def timed(self, frame, face):
    t0 = time.perf_counter()
    out = silhouette(self, frame, face)
    spent[0] += time.perf_counter() - t0
    return out
M.MediaPipeProvider.silhouette = timed
look = parse_look(json.dumps([{{"kind": "lipstick", "shade": "#A3162B", "finish": "gloss", "intensity": 0.9}}]))
mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=False, max_num_faces=8, refine_landmarks=True,
                                       min_detection_confidence=0.5)
clip, plain = create_tryon(look, TryOnSettings(), "video"), create_tryon(look, TryOnSettings(), "video")
plain.provider.silhouette = None
tm, tc, tp = [], [], []
for i, f in enumerate(frames):
    t0 = time.perf_counter(); mesh.process(f); t1 = time.perf_counter()
    clip.process(f, i / 25); t2 = time.perf_counter()
    plain.process(f, i / 25); t3 = time.perf_counter()
    if i == 10:
        spent[0] = 0.0
    if i >= 10:
        tm.append(t1 - t0); tc.append(t2 - t1); tp.append(t3 - t2)
m, c, q = (statistics.mean(v) * 1e3 for v in (tm, tc, tp))
print("video, %d frames: face mesh %.1f ms; makeup with the clip %.1f ms (%.2fx), without %.1f ms (%.2fx); "
      "segmentation %.1f ms a frame" % (len(tm), m, c, c / m, q, q / m, spent[0] * 1e3 / len(tm)))
"""
    run = subprocess.run([PYTHON, "-c", code, str(picture)], capture_output=True, text=True, check=True)
    return run.stdout.strip().splitlines()[-1]


def main() -> None:
    """Measure spill on the held-out pictures and print a markdown table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--heldout", type=Path, required=True)
    ap.add_argument("--before", default=None, help="git revision for a 'before' column")
    ap.add_argument("--keep", type=Path, default=None, help="keep the painted pictures in this folder")
    ap.add_argument("--clip-from", default="emma_input.jpg", help="picture of DIR the video cost is measured on")
    args = ap.parse_args()
    pictures = sorted(p for p in args.heldout.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        runs = {"after": spill(ROOT, pictures, work)}
        faces = sides(ROOT, pictures)
        if args.before:
            (Path(tmp) / "before").mkdir(exist_ok=True)
            old = tree_at(args.before, Path(tmp) / "before")
            (work / "b").mkdir(exist_ok=True)
            runs["before"] = spill(old, pictures, work / "b")
        cost = clip_cost(ROOT, pictures)
        if (args.heldout / args.clip_from).is_file():
            cost += "\n\n" + video_cost(ROOT, args.heldout / args.clip_from)
    load = os.getloadavg()
    cols = list(runs)
    print(f"{len(pictures)} pictures, load {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}\n")
    print(f"Lips' clip cost: {cost}\n")
    head = " | ".join(f"{r} {c} (painted / on background)" for c in cols for r in PRODUCTS)
    print(f"| picture | faces: yaw, lips, near-side, far-side visibility | {head} |")
    print("|" + " --- |" * (2 + len(cols) * len(PRODUCTS)))
    totals = {(c, r): [0, 0] for c in cols for r in PRODUCTS}
    for pic in pictures:
        cells = []
        for c in cols:
            for r in PRODUCTS:
                n, bg = runs[c][(pic.name, r)]
                totals[(c, r)][0] += n
                totals[(c, r)][1] += bg
                cells.append(f"{n} / {bg}")
        print(f"| {pic.name} | {'; '.join(faces.get(pic.name, [])) or 'none'} | {' | '.join(cells)} |")
    cells = [f"{totals[(c, r)][0]} / {totals[(c, r)][1]}" for c in cols for r in PRODUCTS]
    print(f"| **total** | | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
