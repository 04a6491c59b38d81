"""How much of the real shoes still shows around the new ones (corpus street video), and what fills them.

Run: ``.venv/bin/python tests/benchmarks/bench_tryon_shoes_erase.py [--frames N] [--photos DIR ...]``.

Per placed shoe, in its box grown by half its span sideways and below (a quarter above): pixels of its person's
mask that are bright (every channel over 150: the walkers' white sneakers) in the input and unchanged (by less
than 12 levels) in the output. Reported: their share of the bright person pixels there, the mean share of shoe
pixels on the person, and the size change p95 (as in ``bench_tryon_shoes.py``), with the load average.

The fill (:func:`fill_figures`, every 10th street frame as a still, and with ``--photos`` the corpus photos and
each ``*.jpg`` of the given folders, in image mode, the boot and the sneaker): the pixels the erase changed and the
new shoe does not cover (the output with erasing against the output without it), compared in CIELAB with a ring
around them (3 to 15 px): the ring's floor (no person's mask over 0.3) and its people (any person's mask over
0.5: the leg, the other people). Reported: fill pixels, the mean distance (delta E 76) of the fill's mean colour
to the floor ring's and to the people ring's, the share of fill pixels nearer the floor's mean than the people's,
and the shoes' mean share of pixels on the person.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.conftest import corpus_dir  # noqa: E402
from tryon import media  # noqa: E402
from tryon.color import srgb_to_lab  # noqa: E402
from tryon.providers.mediapipe import MediaPipeProvider  # noqa: E402
from tryon.shoes.render import ShoeRenderer  # noqa: E402
from tryon.shoes.sprite import procedural_views  # noqa: E402

RING = (3, 15)
"""Inner and outer radius (px) of the ring around the fill it is compared with."""


@dataclass
class Fill:
    """Sums of the fill figures over shoes."""

    pixels: int = 0
    floor_de: list[float] = field(default_factory=list)
    people_de: list[float] = field(default_factory=list)
    nearer_floor: int = 0
    on_person: list[float] = field(default_factory=list)

    def row(self, name: str) -> str:
        """A markdown table row of the figures."""
        fd = np.mean(self.floor_de) if self.floor_de else float("nan")
        pd = np.mean(self.people_de) if self.people_de else float("nan")
        on = np.mean(self.on_person) if self.on_person else float("nan")
        return (f"| {name} | {len(self.floor_de)} | {self.pixels} | {fd:.1f} | {pd:.1f} "
                f"| {self.nearer_floor / max(self.pixels, 1):.0%} | {on:.1%} | {os.getloadavg()[0]:.1f} |")  # fmt: skip


def _disc(r: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def fill_figures(frame: np.ndarray, erased: np.ndarray, kept: np.ndarray, people: list, fill: Fill) -> None:
    """Add to ``fill`` the figures of the visible fill (``erased`` differs from ``kept``, the output without
    erasing), one blob of changed pixels per connected area."""
    changed = (np.abs(erased.astype(np.int16) - kept).max(axis=2) > 0).astype(np.uint8)
    if not changed.any():
        return
    segs = [p.segmentation for p in people if p.segmentation is not None]
    anyone = np.max(np.stack(segs), axis=0) if segs else np.zeros(frame.shape[:2], np.float32)
    lab, lab_in = (srgb_to_lab(x.astype(np.float32) / 255.0) for x in (erased, frame))
    n, labels = cv2.connectedComponents(cv2.dilate(changed, _disc(2)))
    for i in range(1, n):
        blob = (labels == i) & changed.astype(bool)
        if blob.sum() < 10:
            continue
        grown = cv2.dilate(blob.astype(np.uint8), _disc(RING[1])).astype(bool)
        ring = grown & ~cv2.dilate(blob.astype(np.uint8), _disc(RING[0])).astype(bool) & ~changed.astype(bool)
        floor, folk = ring & (anyone <= 0.3), ring & (anyone > 0.5)
        if floor.sum() < 10 or folk.sum() < 10:
            continue
        mean = lab[blob].mean(axis=0)
        f_ref, p_ref = lab_in[floor].mean(axis=0), lab_in[folk].mean(axis=0)
        fill.pixels += int(blob.sum())
        fill.floor_de.append(float(np.linalg.norm(mean - f_ref)))
        fill.people_de.append(float(np.linalg.norm(mean - p_ref)))
        px = lab[blob]
        fill.nearer_floor += int((np.linalg.norm(px - f_ref, axis=1) < np.linalg.norm(px - p_ref, axis=1)).sum())


def photos_fill(paths: list[Path]) -> None:
    """Fill figures on photos (image mode), the boot and the sneaker, one table row per photo and look."""
    provider = MediaPipeProvider("image")
    looks = {"boot": procedural_views("#4A3020", "boot"), "sneaker": procedural_views("#C8102E")}
    print("| photo, look | fills | fill px | delta E to floor | to people | px nearer floor | on person | load |")
    print("|---|---|---|---|---|---|---|---|")
    try:
        for path in paths:
            frame = media.read_image(path)
            people = provider.people(frame)
            for name, views in looks.items():
                fill = Fill()
                erased, placed, _ = ShoeRenderer(views).apply_people(frame, people)
                kept, _, _ = ShoeRenderer(views, erase=False).apply_people(frame, people)
                fill_figures(frame, erased, kept, people, fill)
                fill.on_person += [s.on_person for s in placed if s.on_person is not None]
                print(fill.row(f"{path.name}, {name}"), flush=True)
    finally:
        provider.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=205)
    ap.add_argument("--photos", type=Path, nargs="*", help="also the corpus photos and these folders' *.jpg")
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()}")
    if args.photos is not None:
        images = corpus_dir() / "images"
        paths = [images / "person_standing_shoes.jpg", images / "person_crouching_feet.jpg"]
        photos_fill(paths + [p for d in args.photos for p in sorted(d.glob("*.jpg"))])
    street_fill = Fill()
    plain = ShoeRenderer(procedural_views("#C8102E"), erase=False)
    erasing = ShoeRenderer(procedural_views("#C8102E"))
    renderer = ShoeRenderer(procedural_views("#C8102E"))
    provider = MediaPipeProvider("video")
    left = bright = 0
    on_person: list[float] = []
    last: dict[tuple[int, str], tuple[int, float]] = {}
    changes: list[float] = []
    try:
        video = corpus_dir() / "images" / "street_walking_720p50.avi"
        for i, (t, frame) in enumerate(media.read_video(video, limit=args.frames)):
            people = provider.people(frame, t)
            out, placed, _ = renderer.apply_people(frame, people, t)
            if i % 10 == 0:
                still, _, _ = erasing.apply_people(frame, people)  # unsmoothed, so that both place alike
                kept, _, _ = plain.apply_people(frame, people)
                fill_figures(frame, still, kept, people, street_fill)
            masks = {p.person: p.segmentation for p in people}
            h, w = frame.shape[:2]
            for s in placed:
                seg = masks[s.person]
                assert seg is not None
                x0, y0, x1, y1 = s.box
                m = int(0.5 * s.span)
                x0, y0, x1, y1 = max(0, x0 - m), max(0, y0 - m // 2), min(w, x1 + m), min(h, y1 + m)
                f, o = frame[y0:y1, x0:x1].astype(np.int16), out[y0:y1, x0:x1].astype(np.int16)
                white = (seg[y0:y1, x0:x1] > 0.5) & (f.min(axis=2) > 150)
                bright += int(white.sum())
                left += int((white & (np.abs(o - f).max(axis=2) < 12)).sum())
                if s.on_person is not None:
                    on_person.append(s.on_person)
                key = (s.person, s.side)
                if key in last and last[key][0] == i - 1:
                    changes.append(abs(s.span / last[key][1] - 1.0))
                last[key] = (i, s.span)
    finally:
        provider.close()
    print(f"bright person pixels near the shoes: {bright}, left as they were: {left} ({left / max(bright, 1):.1%})")
    print(f"shoe pixels on the person (mean of shoes): {np.mean(on_person):.3f}")
    print(f"size change p95: {np.percentile(changes, 95):.1%}")
    print("| material | fills | fill px | delta E to floor | to people | px nearer floor | on person | load |")
    print(street_fill.row("street video, every 10th frame"))
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
