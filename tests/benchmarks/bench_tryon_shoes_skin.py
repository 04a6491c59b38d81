"""A boot on a bare leg (issue 12): how much of its shaft is drawn, and what the bare-skin rule changes elsewhere.

Run: ``.venv/bin/python tests/benchmarks/bench_tryon_shoes_skin.py [--frames N]`` -> markdown on stdout.

- The corpus photo of three people, boot look: per shoe, the boot's pixels drawn (alpha times cover) and the
  share of its shaft (sprite pixels above the occlusion line) drawn, without and with the bare-skin rule
  (:func:`tryon.shoes.occlusion.bare_skin`); the rule off is ``skin_chroma`` answering None, which is the code
  before it.
- The corpus street video (video mode, the first N frames, pose run once and both variants drawn from the same
  poses): frames and pixels that differ, placements (person, side, view, size) that differ, and how often a
  person's skin colour was found, for the procedural sneaker and boot.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import tryon.shoes.render as shoe_render  # noqa: E402
from tests.conftest import corpus_dir  # noqa: E402
from tryon import media  # noqa: E402
from tryon.providers.mediapipe import MediaPipeProvider  # noqa: E402
from tryon.shoes.occlusion import above_collar, bare_skin, leg_mask, skin_chroma  # noqa: E402
from tryon.shoes.sprite import procedural_views  # noqa: E402


def photo_rows() -> list[str]:
    """Per boot on the corpus photo: pixels drawn and shaft share drawn, rule off -> on."""
    photo = media.read_image(corpus_dir() / "images" / "person_standing_shoes.jpg")
    with MediaPipeProvider("image") as provider:
        people = provider.people(photo)
    renderer = shoe_render.ShoeRenderer(procedural_views("#4A3020", "boot"))
    rows = []
    for p, pose, _ in renderer.placements(photo.shape, people, None)[0]:
        x0, y0, x1, y1 = p.box
        m = p.matrix.copy()
        m[:, 2] -= (x0, y0)
        alpha = cv2.warpAffine(p.sprite.rgba, m, (x1 - x0, y1 - y0))[..., 3] / 255.0
        line = shoe_render.occlusion_point(p)
        leg = leg_mask(pose.segmentation, p.frame, line, p.box)
        shaft = (above_collar(p.frame, line, p.box) > 0.5) & (alpha > 0.5)
        chroma = skin_chroma(photo, pose.points, pose.visibility)
        skin = np.zeros_like(leg)
        if chroma is not None and shoe_render._shaft_above_ankle(p):
            skin = bare_skin(photo, chroma, p.box)
        off, on = alpha * (1 - leg), alpha * (1 - leg * (1 - skin))
        share = [f"{(v[shaft] > 0.5).mean():.0%}" if shaft.any() else "-" for v in (off, on)]
        found = "no" if chroma is None else "yes"
        rows.append(f"| person {pose.person}, {p.frame.side} | {p.name or p.frame.view} | {off.sum():.0f} -> "
                    f"{on.sum():.0f} | {shaft.sum()} | {share[0]} -> {share[1]} | {found} |")  # fmt: skip
    return rows


def video_rows(frames: int) -> list[str]:
    """Street video: what the rule changes, per look."""
    poses = []
    with MediaPipeProvider("video") as provider:
        for t, frame in media.read_video(corpus_dir() / "images" / "street_walking_720p50.avi", limit=frames):
            poses.append((t, frame, provider.people(frame, t)))
    original = shoe_render.skin_chroma
    rows = []
    for style in ("sneaker", "boot"):
        outs, found = {}, 0
        for variant in ("off", "on"):
            seen = [0]

            def counted(*args: object, _seen: list[int] = seen) -> np.ndarray | None:
                value = original(*args)  # type: ignore[arg-type]
                _seen[0] += value is not None
                return value

            shoe_render.skin_chroma = counted if variant == "on" else (lambda *args: None)  # type: ignore[assignment]
            renderer = shoe_render.ShoeRenderer(procedural_views("#C8102E", style))
            res = []
            for t, frame, people in poses:
                out, placed, _ = renderer.apply_people(frame, people, t)
                res.append((out, [(s.person, s.side, s.view, round(s.span, 1)) for s in placed]))
            outs[variant] = res
            found = seen[0]
        shoe_render.skin_chroma = original
        pairs = list(zip(outs["off"], outs["on"], strict=True))
        frames_diff = sum(not np.array_equal(a[0], b[0]) for a, b in pairs)
        pixels = sum(int((a[0] != b[0]).any(axis=2).sum()) for a, b in pairs)
        placements = sum(a[1] != b[1] for a, b in pairs)
        rows.append(f"| {style} | {len(pairs)} | {frames_diff} | {pixels} | {placements} | {found} |")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=100)
    args = ap.parse_args()
    print(f"load average before: {' '.join(f'{v:.1f}' for v in os.getloadavg())}\n")
    print("| shoe | view | boot pixels drawn, rule off -> on | shaft pixels | shaft drawn | skin colour found |")
    print("|---|---|---|---|---|---|")
    print("\n".join(photo_rows()))
    print("\n| look | frames | frames differing | pixels differing | placements differing | skin colours found |")
    print("|---|---|---|---|---|---|")
    print("\n".join(video_rows(args.frames)))
    print(f"\nload average after: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
