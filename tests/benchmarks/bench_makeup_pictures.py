"""Before/after pictures of issue 12's hardest makeup cases, made with the library API.

Run: ``.venv/bin/python tests/benchmarks/bench_makeup_pictures.py [--heldout DIR] [--before REF]``
-> docs/images/makeup_*.jpg (each < 100 KB). Columns: the input, the try-on of revision REF (the code before the
change, run in a subprocess on an extracted copy) when given, and the try-on now. Corpus cases always; held-out
cases (dark skin, a group of more faces than the cap) when ``--heldout`` names the folder of held-out pictures.
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
sys.path.insert(0, str(ROOT))

from tests.conftest import corpus_dir  # noqa: E402
from tryon import color, media  # noqa: E402
from tryon.factory import create_tryon  # noqa: E402
from tryon.look import parse_look  # noqa: E402
from tryon.settings import TryOnSettings  # noqa: E402

OUT = Path(__file__).resolve().parents[2] / "docs" / "images"
MAX_BYTES = 100_000
LIPSTICK = [{"kind": "lipstick", "shade": "#A3162B", "finish": "matte", "intensity": 0.85}]
GLOSS = [{"kind": "lipstick", "shade": "#B0102A", "finish": "gloss", "intensity": 0.9}]
METALLIC = [{"kind": "lipstick", "shade": "#9A4A3A", "finish": "metallic", "intensity": 0.9}]
NATURAL = [{"kind": "foundation", "shade": "#D9AE94", "finish": "matte", "intensity": 0.45},
           {"kind": "blush", "shade": "#D8707A", "finish": "matte", "intensity": 0.55}]  # fmt: skip


def expose(img: np.ndarray, e: float) -> np.ndarray:
    return np.asarray(color.linear_to_u8(color.u8_to_linear(img) * np.float32(e)))


def darker_skin(img: np.ndarray) -> np.ndarray:
    return np.asarray(color.linear_to_u8(color.u8_to_linear(img) * np.array([0.22, 0.14, 0.11], np.float32)))


def render(cases: dict[str, tuple[np.ndarray, list[dict[str, object]]]]) -> dict[str, tuple[np.ndarray, str]]:
    """Each case's picture with its look applied (image mode), and the notes."""
    out = {}
    for name, (img, look) in cases.items():
        tryon = create_tryon(parse_look(json.dumps(look)), TryOnSettings(), "image")
        try:
            r = tryon.process(img)
        finally:
            tryon.provider.close()
        out[name] = (r.frame, "; ".join(r.notes))
    return out


def render_before(ref: str, cases: dict[str, tuple[np.ndarray, list[dict[str, object]]]]) -> dict[str, np.ndarray]:
    """The same cases rendered by the code of git revision ``ref`` (extracted, run in a subprocess)."""
    here = Path(__file__).resolve().parents[2]
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        tree.mkdir()
        archive = subprocess.run(["git", "-C", str(here), "archive", ref], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
        np.savez(Path(tmp) / "in.npz", **{k: v[0] for k, v in cases.items()})
        (Path(tmp) / "looks.json").write_text(json.dumps({k: v[1] for k, v in cases.items()}))
        env = {**os.environ, "BENCH_TREE": str(tree), "PYTHONPATH": str(tree), "PHYGITAL_CORPUS": str(corpus_dir())}
        subprocess.run([sys.executable, str(Path(__file__).resolve()), "--render-only", tmp], env=env, cwd=tree,
                       check=True, capture_output=True)  # fmt: skip
        with np.load(Path(tmp) / "out.npz") as done:
            return {k: done[k] for k in done.files}


def render_only(folder: Path) -> None:
    """Subprocess side of :func:`render_before`: in.npz + looks.json -> out.npz."""
    looks = json.loads((folder / "looks.json").read_text())
    with np.load(folder / "in.npz") as given:
        cases = {k: (given[k], looks[k]) for k in given.files}
    np.savez(folder / "out.npz", **{k: v[0] for k, v in render(cases).items()})


def crop(img: np.ndarray, box: tuple[int, int, int, int], height: int) -> np.ndarray:
    x0, y0, x1, y1 = box
    part = img[max(0, y0) : y1, max(0, x0) : x1]
    scale = height / part.shape[0]
    return cv2.resize(part, (round(part.shape[1] * scale), height), interpolation=cv2.INTER_AREA
                      if scale < 1 else cv2.INTER_CUBIC)  # fmt: skip


def grid(rows: list[list[np.ndarray]], gap: int = 4) -> np.ndarray:
    width = max(sum(t.shape[1] for t in row) + gap * (len(row) - 1) for row in rows)
    lines = []
    for row in rows:
        line = np.full((row[0].shape[0], width, 3), 255, np.uint8)
        x = 0
        for tile in row:
            line[:, x : x + tile.shape[1]] = tile
            x += tile.shape[1] + gap
        lines.append(line)
        lines.append(np.full((gap, width, 3), 255, np.uint8))
    return np.concatenate(lines[:-1])


def save(name: str, picture: np.ndarray) -> None:
    path = OUT / name
    for quality in (85, 75, 65, 55, 45):
        media.write_image(path, picture, quality)
        if path.stat().st_size < MAX_BYTES:
            break
    size = path.stat().st_size // 1024
    print(f"{path.relative_to(OUT.parents[1])}: {picture.shape[1]}x{picture.shape[0]}, {size} KB")


def face_box(img: np.ndarray, part: str = "mouth") -> tuple[int, int, int, int]:
    """A box around the mouth (or the whole face) of the largest face, from the current landmarks."""
    from tryon.providers.mediapipe import MediaPipeProvider

    with MediaPipeProvider("image") as p:
        face = p.faces(img)[0]
    if part == "mouth":
        pts = face.points[[61, 291, 0, 17]]
        c, r = pts.mean(axis=0), 0.95 * float(np.linalg.norm(pts[1] - pts[0]))
        return int(c[0] - r), int(c[1] - 0.6 * r), int(c[0] + r), int(c[1] + 0.6 * r)
    lo, hi = face.points.min(axis=0), face.points.max(axis=0)
    c, r = (lo + hi) / 2, 0.6 * float((hi - lo).max())
    return int(c[0] - r), int(c[1] - r), int(c[0] + r), int(c[1] + r)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--heldout", type=Path)
    parser.add_argument("--before", help="git revision whose try-on makes the middle column")
    parser.add_argument("--render-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.render_only:
        render_only(args.render_only)
        return
    man = media.read_image(corpus_dir() / "images" / "face_man_suit.jpg")
    cases: dict[str, tuple[np.ndarray, list[dict[str, object]]]] = {
        f"exposure_{e}": (expose(man, e), LIPSTICK) for e in (0.15, 0.35, 1.0)
    }
    cases["gloss_man"] = (man, GLOSS)
    cases["metallic_man"] = (man, METALLIC)
    cases["natural_darker"] = (darker_skin(man), NATURAL)
    held: dict[str, np.ndarray] = {}
    if args.heldout:
        for name in ("pp_03_woman.jpg", "pp_04_man.jpg", "obama.jpg", "bald_guys.jpg"):
            if (args.heldout / name).is_file():
                held[name] = media.read_image(args.heldout / name)
        for name in ("pp_03_woman.jpg", "pp_04_man.jpg"):
            if name in held:
                cases[f"natural_{name}"] = (held[name], NATURAL)
        if "obama.jpg" in held:
            cases["gloss_obama"] = (held["obama.jpg"], GLOSS)
        if "bald_guys.jpg" in held:
            cases["group"] = (held["bald_guys.jpg"], LIPSTICK)
    now = render(cases)
    before = render_before(args.before, cases) if args.before else {}

    def row(name: str, box: tuple[int, int, int, int], height: int) -> list[np.ndarray]:
        tiles = [cases[name][0]] + ([before[name]] if name in before else []) + [now[name][0]]
        return [crop(t, box, height) for t in tiles]

    OUT.mkdir(parents=True, exist_ok=True)
    mouth = face_box(man)
    save("makeup_exposure.jpg", grid([row(f"exposure_{e}", mouth, 120) for e in (0.15, 0.35, 1.0)]))
    finishes = [row("gloss_man", mouth, 120), row("metallic_man", mouth, 120)]
    if "gloss_obama" in cases:
        finishes.append(row("gloss_obama", face_box(held["obama.jpg"]), 120))
    save("makeup_finishes.jpg", grid(finishes))
    skin = [row("natural_darker", face_box(man, "face"), 200)]
    for name in ("pp_03_woman.jpg", "pp_04_man.jpg"):
        if f"natural_{name}" in cases:
            skin.append(row(f"natural_{name}", face_box(held[name], "face"), 200))
    save("makeup_dark_skin.jpg", grid(skin))
    if "group" in cases:
        img = cases["group"][0]
        h, w = img.shape[:2]
        save("makeup_group_cap.jpg", grid([row("group", (0, 0, w, h), 380)]))
        print("group:", now["group"][1])


if __name__ == "__main__":
    main()
