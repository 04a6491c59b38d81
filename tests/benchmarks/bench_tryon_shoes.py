"""Shoe try-on quality and speed: size stability, view changes, shoes on the person, people served, speed.

Run: ``.venv/bin/python tests/benchmarks/bench_tryon_shoes.py [--heldout DIR] [--frames N] [--pictures]``.

Material: the corpus street video (several pedestrians, 205 frames at 50 fps) and corpus photos; held-out
material (not in the corpus, from repositories other than its sources) in ``--heldout`` (default
``/tmp/shoes_held``), made from the mirrors the ``fetch`` tool brings (read with ``git show``):

- ``sports2d_demo.mp4``: davidpagnon/Sports2D ``Sports2D/Demo/demo.mp4`` (1768x994, 30 fps, 230 frames: a
  woman walking across a lawn, a man walking on a roof), BSD-3-Clause;
- ``bus.jpg``: ultralytics' ``ultralytics/assets/bus.jpg`` (four people standing by a bus), as copied in
  Embracely/YOLOv8-Apple, AGPL-3.0;
- ``shoe/MaterialsVariantsShoe.gltf`` (+ .bin, textures): Shopify's shoe from the glTF sample models, as copied
  in webgnar/christskate at commit 3e06230 (``examples/models/gltf/MaterialsVariantsShoe/glTF``), CC BY 4.0;
- ``alphapose/1.jpg``, ``2.jpg``, ``3.jpg``: MVIG-SJTU/AlphaPose ``examples/demo/`` (five skiers with poles,
  five children sitting in a row, a shopping street), under AlphaPose's non-commercial research licence
  (measured here, never committed). The OpenPose example images are not held-out: the corpus comes from them;
- ``extra/*.jpg``: more photos, each in the table (ultralytics' ``bus.jpg`` at its full 810 x 1080 and
  ``zidane.jpg`` from ultralytics/yolov5 ``data/images``, AGPL-3.0; OpenPose ``examples/media`` photos that are
  not in the corpus, COCO / Flickr). All photos run in this one process: a photo's result does not depend on what
  ran before it (tests/tryon/test_pose_history.py).

Metrics, per video and look (the procedural sneaker and, when the held-out shoe is there, its 3D model):

- size change: |span_i / span_(i-1) - 1| of each person's foot between consecutive frames (p95, max);
- view changes: all changes of heading (a view sphere key whose pitch alone changed is counted apart), and
  those without a matching change of the foot's yaw: the foot's unsmoothed yaw (the median of the five
  frames around the change, taken as differences from the old view's centre so that -180 and 180 are one
  heading) still inside the old view (its sector for sprites, its bin for the view sphere);
- on the person: alpha-weighted share of the shoe pixels on the segmentation (> 0.5) of its person;
- people served: frames x people with a visible foot, and how many of them got at least one shoe;
- feet dropped: feet refused before placement as not plausibly feet (above their person's hips,
  :func:`tryon.shoes.feet.foot_below_hips`), over all frames (a person keeps the other foot);
- speed: bare MediaPipe pose with segmentation in video mode on the whole frame, then the try-on's pose
  stage (people) and shoe stage, in the same run, per frame.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.conftest import corpus_dir  # noqa: E402
from tryon import media  # noqa: E402
from tryon.factory import create_tryon  # noqa: E402
from tryon.look import parse_look  # noqa: E402
from tryon.settings import TryOnSettings  # noqa: E402
from tryon.shoes.render import IMPLAUSIBLE  # noqa: E402
from tryon.shoes.tracking import angle_diff  # noqa: E402
from tryon.shoes.views import SPHERE_YAW_STEP  # noqa: E402

SNEAKER = [{"kind": "shoes", "shade": "#C8102E", "style": "sneaker"}]
SPRITE_CENTERS = {"side": (0.0, 180.0), "front": (90.0,), "back": (-90.0,)}


def view_yaws(view: str) -> tuple[float, ...]:
    """The yaws a view shows: a sprite's sector centres, or a view sphere key's yaw."""
    if view in SPRITE_CENTERS:
        return SPRITE_CENTERS[view]
    return (float(view[1:].split("p")[0]),)


def half_width(view: str) -> float:
    return 45.0 if view in SPRITE_CENTERS else SPHERE_YAW_STEP / 2


@dataclass
class Series:
    """One person's foot over the frames."""

    frames: list[int] = field(default_factory=list)
    spans: list[float] = field(default_factory=list)
    views: list[str] = field(default_factory=list)
    raw_yaws: list[float] = field(default_factory=list)


def run_video(path: Path, look_items: list[dict], frames: int, max_people: int = 8) -> dict:
    """The try-on in video mode over ``frames`` frames of ``path``: quality figures and per-frame times."""
    look = parse_look(json.dumps(look_items))
    tryon = create_tryon(look, TryOnSettings(cache_dir=None, max_people=max_people), "video")
    people = 0
    series: dict[tuple[int, str], Series] = {}
    on_num = on_den = 0.0
    served = with_feet = dropped = 0
    pose_ms, shoe_ms = [], []
    try:
        for i, (t, frame) in enumerate(media.read_video(path, limit=frames)):
            r = tryon.process(frame, t)
            pose_ms.append(r.timings.pose)
            dropped += sum(IMPLAUSIBLE in n for n in r.notes)
            shoe_ms.append(r.timings.shoes)
            got = {s.person for s in r.shoes_placed}
            people += len(r.people)
            for p in r.people:
                if p.feet:
                    with_feet += 1
                    served += p.person in got
            for s in r.shoes_placed:
                key = (s.person, s.side)
                se = series.setdefault(key, Series())
                se.frames.append(i)
                se.spans.append(s.span)
                se.views.append(s.view)
                se.raw_yaws.append(np.nan if s.raw_yaw is None else s.raw_yaw)
                if s.on_person is not None:
                    x0, y0, x1, y1 = s.box
                    weight = float((x1 - x0) * (y1 - y0))
                    on_num += s.on_person * weight
                    on_den += weight
    finally:
        tryon.provider.close()
    changes = []
    view_changes = unmatched = pitch_changes = 0
    for se in series.values():
        for j in range(1, len(se.frames)):
            if se.frames[j] != se.frames[j - 1] + 1:
                continue  # the foot was missing in between: a new start, not a change
            changes.append(abs(se.spans[j] / se.spans[j - 1] - 1.0))
            if se.views[j] != se.views[j - 1]:
                if view_yaws(se.views[j]) == view_yaws(se.views[j - 1]):
                    pitch_changes += 1  # a view sphere key with the same yaw: the camera height changed
                    continue
                view_changes += 1
                around = [y for y in se.raw_yaws[max(0, j - 2) : j + 3] if not np.isnan(y)]
                old = se.views[j - 1]
                # the median of the yaws' differences from the old view's centre (an angle's median: -180 = 180)
                if around and min(abs(float(np.median([angle_diff(y, c) for y in around])))
                                  for c in view_yaws(old)) <= half_width(old):  # fmt: skip
                    unmatched += 1
    return {
        "frames": len(pose_ms),
        "size_change_p95": float(np.percentile(changes, 95)) if changes else float("nan"),
        "size_change_max": float(max(changes)) if changes else float("nan"),
        "view_changes": view_changes,
        "unmatched_view_changes": unmatched,
        "pitch_changes": pitch_changes,
        "on_person": on_num / on_den if on_den else float("nan"),
        "people_with_feet": with_feet,
        "people_served": served,
        "feet_dropped": dropped,
        "pose_ms": statistics.mean(pose_ms),
        "shoes_ms": statistics.mean(shoe_ms),
        "people_per_frame": people / max(1, len(pose_ms)),
    }


def bare_pose_ms(path: Path, frames: int) -> float:
    """MediaPipe pose with segmentation, video mode, whole frame: the reference per frame (its graph options as the
    try-on's: the provider's module is imported first, and mask smoothing is off there)."""
    import mediapipe as mp

    import tryon.providers.mediapipe  # noqa: F401 (registers the options of the pose graph's calculators)

    times = []
    with mp.solutions.pose.Pose(static_image_mode=False, model_complexity=1, enable_segmentation=True,
                                smooth_segmentation=False) as pose:  # fmt: skip
        for _, frame in media.read_video(path, limit=frames):
            t0 = time.perf_counter()
            pose.process(frame)
            times.append((time.perf_counter() - t0) * 1e3)
    return statistics.mean(times)


def run_still(path: Path) -> dict:
    """People found and served on a photo (image mode)."""
    import cv2

    rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    tryon = create_tryon(parse_look(json.dumps(SNEAKER)), TryOnSettings(cache_dir=None), "image")
    try:
        r = tryon.process(rgb)
    finally:
        tryon.provider.close()
    got = {s.person for s in r.shoes_placed}
    feet = [p for p in r.people if p.feet]
    on = [s.on_person for s in r.shoes_placed if s.on_person is not None]
    return {
        "people": len(r.people),
        "people_with_feet": len(feet),
        "people_served": sum(p.person in got for p in feet),
        "shoes": len(r.shoes_placed),
        "feet_dropped": sum(IMPLAUSIBLE in n for n in r.notes),
        "on_person_mean": float(np.mean(on)) if on else float("nan"),
        "pose_ms": r.timings.pose,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--heldout", type=Path, default=Path("/tmp/shoes_held"))
    ap.add_argument("--frames", type=int, default=205)
    args = ap.parse_args()
    corpus = corpus_dir()
    print(f"load average before: {os.getloadavg()}")
    videos = [("corpus street video", corpus / "images" / "street_walking_720p50.avi")]
    held_video = args.heldout / "sports2d_demo.mp4"
    if held_video.exists():
        videos.append(("held-out Sports2D walk", held_video))
    shoe = args.heldout / "shoe" / "MaterialsVariantsShoe.gltf"
    looks = [("procedural sneaker", SNEAKER, 8), ("procedural sneaker, largest person only", SNEAKER, 1)]
    if shoe.exists():
        looks.append(("3D shoe (view sphere)", [{"kind": "shoes", "model": str(shoe), "toe_axis": "+x",
                                                 "up_axis": "+y", "shade": "#1F5F8B"}], 8))  # fmt: skip
    rows = []
    for vname, vpath in videos:
        bare = bare_pose_ms(vpath, args.frames)
        for lname, items, max_people in looks:
            res = run_video(vpath, items, args.frames, max_people)
            res.update(video=vname, look=lname, bare_pose_ms=bare, load=os.getloadavg()[0])
            rows.append(res)
            print(json.dumps(res), flush=True)
    print()
    print(
        "| video | look | frames | size change p95 / max | view changes (unmatched) + pitch only | on person "
        "| people with feet served | feet dropped | people per frame | pose ms (bare) | shoes ms | ratio (per person) "
        "| load |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        ratio = (r["pose_ms"] + r["shoes_ms"]) / r["bare_pose_ms"]
        per_person = ratio / max(r["people_per_frame"], 1e-9)
        print(f"| {r['video']} | {r['look']} | {r['frames']} | {r['size_change_p95']:.1%} / {r['size_change_max']:.0%} "
              f"| {r['view_changes']} ({r['unmatched_view_changes']}) + {r['pitch_changes']} | {r['on_person']:.1%} "
              f"| {r['people_served']} / {r['people_with_feet']} | {r['feet_dropped']} | {r['people_per_frame']:.1f} "
              f"| {r['pose_ms']:.1f} ({r['bare_pose_ms']:.1f}) | {r['shoes_ms']:.1f} "
              f"| {ratio:.2f}x ({per_person:.2f}x) | {r['load']:.1f} |")  # fmt: skip
    stills = [corpus / "images" / "person_standing_shoes.jpg", corpus / "images" / "person_crouching_feet.jpg"]
    held = [args.heldout / "bus.jpg"] + [args.heldout / "alphapose" / f"{n}.jpg" for n in (1, 2, 3)]
    stills += [p for p in held if p.exists()] + sorted((args.heldout / "extra").glob("*.jpg"))
    print()
    print("| photo | people found | with visible feet | served | shoes | feet dropped | on person (mean) | pose ms |")
    print("|---|---|---|---|---|---|---|---|")
    for p in stills:
        s = run_still(p)
        print(f"| {p.name} | {s['people']} | {s['people_with_feet']} | {s['people_served']} | {s['shoes']} "
              f"| {s['feet_dropped']} | {s['on_person_mean']:.0%} | {s['pose_ms']:.0f} |")  # fmt: skip
    print(f"\nload average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
