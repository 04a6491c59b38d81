"""How much of the real shoes still shows around the new ones on the corpus street video.

Run: ``.venv/bin/python tests/benchmarks/bench_tryon_shoes_erase.py [--frames N]``.

Per placed shoe, in its box grown by half its span sideways and below (a quarter above): pixels of its person's
mask that are bright (every channel over 150: the walkers' white sneakers) in the input and unchanged (by less
than 12 levels) in the output. Reported: their share of the bright person pixels there, the mean share of shoe
pixels on the person, and the size change p95 (as in ``bench_tryon_shoes.py``), with the load average.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.conftest import corpus_dir  # noqa: E402
from tryon import media  # noqa: E402
from tryon.providers.mediapipe import MediaPipeProvider  # noqa: E402
from tryon.shoes.render import ShoeRenderer  # noqa: E402
from tryon.shoes.sprite import procedural_views  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=205)
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()}")
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
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
