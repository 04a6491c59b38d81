"""Before/after pictures of the hardest shoe cases for the README (each < 100 KB), with the library API.

Run: ``.venv/bin/python tests/benchmarks/bench_tryon_shoes_pictures.py [--heldout DIR] [--before REF]`` ->
docs/images/tryon_shoes_*.jpg. Corpus: the street video (several pedestrians, one walking away from the camera)
and a photo with three people; with ``--before REF``, the seated man's boot on that photo (input, the code of
git revision REF, now), enlarged. Held-out (see ``bench_tryon_shoes.py`` for where they come from; skipped when
missing): the Sports2D walk with the 3D shoe drawn from its view sphere.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.benchmarks.bench_makeup_pictures import crop, grid, render_before  # noqa: E402
from tests.benchmarks.bench_tryon_pictures import side_by_side  # noqa: E402
from tests.conftest import corpus_dir  # noqa: E402
from tryon import media  # noqa: E402
from tryon.factory import create_tryon  # noqa: E402
from tryon.look import parse_look  # noqa: E402
from tryon.pipeline import TryOnResult  # noqa: E402
from tryon.settings import TryOnSettings  # noqa: E402

OUT = ROOT / "docs" / "images"
MAX_BYTES = 100_000
SNEAKER = [{"kind": "shoes", "shade": "#C8102E", "style": "sneaker"}]
BOOT = [{"kind": "shoes", "shade": "#4A3020", "style": "boot"}]


def save(name: str, picture: np.ndarray) -> None:
    """Write a JPEG under ``MAX_BYTES``, shrinking quality, then size, until it fits."""
    path = OUT / name
    import cv2

    while True:
        for quality in (85, 75, 65, 55):
            media.write_image(path, picture, quality)
            if path.stat().st_size < MAX_BYTES:
                print(
                    f"{path.relative_to(ROOT)}: {picture.shape[1]}x{picture.shape[0]}, {path.stat().st_size // 1024} KB"
                )
                return
        picture = cv2.resize(picture, None, fx=0.8, fy=0.8, interpolation=cv2.INTER_AREA)


def around_shoes(result: TryOnResult, shape: tuple[int, ...], pad: int = 50) -> tuple[int, int, int, int]:
    boxes = np.array([s.box for s in result.shoes_placed])
    x0, y0 = np.maximum(boxes[:, :2].min(axis=0) - pad, 0)
    x1, y1 = np.minimum(boxes[:, 2:].max(axis=0) + pad, (shape[1], shape[0]))
    return int(x0), int(max(0, y0 - 2 * pad)), int(x1), int(y1)


def video_frame(path: Path, items: list[dict], index: int) -> tuple[np.ndarray, TryOnResult]:
    tryon = create_tryon(parse_look(json.dumps(items)), TryOnSettings(cache_dir=None), "video")
    try:
        for i, (t, frame) in enumerate(media.read_video(path, limit=index + 1)):
            result = tryon.process(frame, t)
            if i == index:
                return frame, result
    finally:
        tryon.provider.close()
    raise ValueError(f"{path} has fewer than {index + 1} frames")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--heldout", type=Path, default=Path("/tmp/shoes_held"))
    ap.add_argument("--before", help="git revision whose boot on the seated man makes the middle column")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    images = corpus_dir() / "images"
    frame, result = video_frame(images / "street_walking_720p50.avi", SNEAKER, 120)
    print(f"street frame 120: {len({s.person for s in result.shoes_placed})} people, {len(result.shoes_placed)} shoes")
    save("tryon_shoes_street_people.jpg", side_by_side(frame, result.frame, around_shoes(result, frame.shape)))
    photo = media.read_image(images / "person_standing_shoes.jpg")
    tryon = create_tryon(parse_look(json.dumps(BOOT)), TryOnSettings(cache_dir=None), "image")
    try:
        result = tryon.process(photo)
    finally:
        tryon.provider.close()
    print(f"three people photo: {len({s.person for s in result.shoes_placed})} people, notes {result.notes}")
    save("tryon_shoes_photo_boots.jpg", side_by_side(photo, result.frame, around_shoes(result, photo.shape, 30)))
    if args.before:
        seated = [s for s in result.shoes_placed if s.person == 1 and s.span > 20]  # the seated man, the left
        if seated:
            s = seated[0]
            print(f"seated man's boot: view {s.view}, foot yaw {s.raw_yaw:.1f} (front from 45 to 135 degrees)")
            x0, y0, x1, y1 = s.box
            box = (x0 - 25, y0 - 45, x1 + 25, y1 + 20)
            old = render_before(args.before, {"seated": (photo, BOOT)})["seated"]
            tiles = [crop(t, box, 3 * (box[3] - box[1])) for t in (photo, old, result.frame)]
            save("tryon_shoes_seated_boot.jpg", grid([tiles]))
    walk, shoe = args.heldout / "sports2d_demo.mp4", args.heldout / "shoe" / "MaterialsVariantsShoe.gltf"
    if walk.exists() and shoe.exists():
        items = [{"kind": "shoes", "model": str(shoe), "toe_axis": "+x", "up_axis": "+y", "shade": "#1F5F8B"}]
        frame, result = video_frame(walk, items, 75)
        save("tryon_shoes_heldout_walk_3d.jpg", side_by_side(frame, result.frame, around_shoes(result, frame.shape)))
    else:
        print(f"held-out walk or shoe model missing in {args.heldout}: skipped")


if __name__ == "__main__":
    main()
