"""Before/after pictures for the README, made with the library API from the real corpus images.

Run: ``.venv/bin/python tests/benchmarks/bench_tryon_pictures.py`` -> docs/images/tryon_*.jpg (each < 150 KB).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from skimage import data

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.conftest import corpus_dir  # noqa: E402
from tryon import media  # noqa: E402
from tryon.factory import create_tryon  # noqa: E402
from tryon.settings import TryOnSettings  # noqa: E402

LOOKS = ROOT / "samples" / "looks"
OUT = ROOT / "docs" / "images"
MAX_BYTES = 150_000


def side_by_side(before: np.ndarray, after: np.ndarray, box: tuple[int, int, int, int] | None = None) -> np.ndarray:
    if box is not None:
        x0, y0, x1, y1 = box
        before, after = before[y0:y1, x0:x1], after[y0:y1, x0:x1]
    gap = np.full((before.shape[0], 6, 3), 255, np.uint8)
    return np.concatenate([before, gap, after], axis=1)


def save(name: str, picture: np.ndarray) -> None:
    path = OUT / name
    for quality in (88, 80, 70, 60, 50):
        media.write_image(path, picture, quality)
        if path.stat().st_size < MAX_BYTES:
            break
    print(f"{path.relative_to(ROOT)}: {picture.shape[1]}x{picture.shape[0]}, {path.stat().st_size // 1024} KB")


def still(image: np.ndarray, look: str) -> np.ndarray:
    tryon = create_tryon(media.read_look(LOOKS / f"{look}.json"), TryOnSettings(), "image")
    try:
        return tryon.process(image).frame
    finally:
        tryon.provider.close()


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    images = corpus_dir() / "images"
    astro = np.ascontiguousarray(data.astronaut())
    save("tryon_astronaut_full_face.jpg", side_by_side(astro, still(astro, "full_face"), (160, 50, 290, 210)))
    save("tryon_astronaut_smoky_eye.jpg", side_by_side(astro, still(astro, "smoky_eye"), (160, 50, 290, 210)))
    man = media.read_image(images / "face_man_suit.jpg")
    save("tryon_man_red_matte_lipstick.jpg", side_by_side(man, still(man, "red_matte_lipstick"), (115, 120, 245, 280)))
    women = media.read_image(images / "faces_three_women.jpg")
    save("tryon_three_women_natural.jpg", side_by_side(women, still(women, "natural_look"), (90, 60, 400, 200)))
    tryon = create_tryon(media.read_look(LOOKS / "sneakers.json"), TryOnSettings(), "video")
    try:
        for i, (t, frame) in enumerate(media.read_video(images / "street_walking_720p50.avi", limit=181)):
            result = tryon.process(frame, t)
            last = i
    finally:
        tryon.provider.close()
    boxes = np.array([s.box for s in result.shoes_placed])
    x0, y0 = np.maximum(boxes[:, :2].min(axis=0) - 60, 0)
    x1, y1 = boxes[:, 2:].max(axis=0) + 60
    print(f"street frame {last}: {len(result.shoes_placed)} shoes")
    save("tryon_street_sneakers.jpg", side_by_side(frame, result.frame, (int(x0), int(y0) - 60, int(x1), int(y1))))


if __name__ == "__main__":
    main()
