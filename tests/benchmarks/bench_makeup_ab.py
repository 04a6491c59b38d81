"""Makeup in video mode against bare face mesh, this tree and an older revision in one process (issue 12).

Run: ``.venv/bin/python tests/benchmarks/bench_makeup_ab.py --heldout DIR --before REF [--repeats N]`` -> markdown.

``bench_makeup.py --before REF --rounds N`` runs each tree in its own process one after the other; on a shared
machine the load moves between those runs by more than a change of a few percent. Here one process on one core
loads the code of both trees (REF extracted with ``git archive``, each tree's ``tryon`` modules kept apart) and, for
every frame, times bare MediaPipe face mesh (tracking, 8 faces, refined landmarks, as ``bench_makeup.py``), then
makeup of both trees in an order alternating from frame to frame, in the process's CPU time. Per clip and repeat:
the mean ms a frame after ``WARMUP`` frames, both ratios, and the largest and mean difference between the two
trees' output frames (0 / 0: byte-identical). The ratio depends on the pairing: a tree's run is cheaper when the
other's ran on the same frame just before it (``--passes``: ``bench_makeup.py``'s pairing, bare face mesh then
makeup, one pass over the clip per tree, the trees alternating).

Clips: ``bench_makeup.py``'s held-out videos (``short_hamilton_clip.mp4``, ``obama_3ddfa.mp4``), the sweep over
a turned-face picture that ``bench_makeup_profile.py`` builds (``emma_input.jpg``, two turned faces), when in
``DIR``, and the corpus's street video. Look: gloss lipstick, as ``bench_makeup.py``'s speed rows.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

from bench_makeup import HELDOUT_TURNED_VIDEO, HELDOUT_VIDEO, WARMUP, extract, read_video  # noqa: E402

LOOK = json.dumps([{"kind": "lipstick", "shade": "#A3162B", "finish": "gloss", "intensity": 0.9}])
SWEEP_PICTURE = "emma_input.jpg"


def _drop_tryon() -> None:
    for name in [n for n in sys.modules if n == "tryon" or n.startswith("tryon.")]:
        del sys.modules[name]


def load_tree(tree: Path) -> dict[str, Any]:
    """The ``tryon`` modules of ``tree`` (imported from it and then taken out of ``sys.modules``)."""
    _drop_tryon()
    sys.path.insert(0, str(tree))
    try:
        for name in ("factory", "look", "settings", "providers.mediapipe", "shoes.render"):
            importlib.import_module(f"tryon.{name}")
    finally:
        sys.path.remove(str(tree))
    mods = {n: m for n, m in sys.modules.items() if n == "tryon" or n.startswith("tryon.")}
    _drop_tryon()
    return mods


def make_tryon(mods: dict[str, Any]) -> Any:
    """A video-mode TryOn of one tree's modules (its lazy imports resolve to that tree while it is built)."""
    _drop_tryon()
    sys.modules.update(mods)
    try:
        look = mods["tryon.look"].parse_look(LOOK)
        return mods["tryon.factory"].create_tryon(look, mods["tryon.settings"].TryOnSettings(), "video")
    finally:
        _drop_tryon()


def clips(heldout: Path | None, frames: int, before: dict[str, Any]) -> dict[str, tuple[list[np.ndarray], float]]:
    """Name -> (RGB frames, fps) of the clips that are there (see the module)."""
    from tests.conftest import corpus_dir

    out = {}
    if heldout is not None:
        for name in (HELDOUT_TURNED_VIDEO, HELDOUT_VIDEO):
            if (heldout / name).is_file():
                out[name] = read_video(heldout / name, frames)
        if (heldout / SWEEP_PICTURE).is_file():
            from bench_makeup_profile import turned_sweep

            sys.modules.update(before)  # the sweep's window is placed by one tree's face finder: the older one's
            try:
                sweep = turned_sweep(heldout / SWEEP_PICTURE)
                out[f"{SWEEP_PICTURE} sweep (synthetic, 2 turned faces)"] = (sweep, 25.0)
            finally:
                _drop_tryon()
    street = corpus_dir() / "images" / "street_walking_720p50.avi"
    out["street_walking_720p50.avi (corpus)"] = read_video(street, frames)
    return out


def run(frames: list[np.ndarray], fps: float, trees: dict[str, dict[str, Any]], repeat: int) -> dict[str, Any]:
    """One pass over a clip: mean CPU ms a frame of bare face mesh and of each tree, and their frames' difference."""
    import mediapipe as mp

    mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=False, max_num_faces=8, refine_landmarks=True,
                                           min_detection_confidence=0.5)  # fmt: skip
    tryons = {k: make_tryon(m) for k, m in trees.items()}
    spent: dict[str, list[float]] = {"bare": [], **{k: [] for k in trees}}
    order = list(trees)
    top, total, pixels, changed = 0, 0.0, 0, 0
    for i, frame in enumerate(frames):
        t0 = time.process_time()
        mesh.process(frame)
        spent["bare"].append(time.process_time() - t0)
        outs = {}
        for k in order if (i + repeat) % 2 == 0 else order[::-1]:
            t0 = time.process_time()
            outs[k] = tryons[k].process(frame, i / fps).frame
            spent[k].append(time.process_time() - t0)
        d = np.abs(outs[order[0]].astype(np.int16) - outs[order[1]])
        top, total, pixels = max(top, int(d.max())), total + float(d.sum()), pixels + d.size
        changed += int((d.max(axis=2) > 0).sum())
    mesh.close()
    for t in tryons.values():
        t.provider.close()
    ms = {k: statistics.mean(v[WARMUP:]) * 1e3 for k, v in spent.items()}
    return {"ms": ms, "max_diff": top, "mean_diff": total / max(pixels, 1), "changed_px": changed,
            "load": os.getloadavg()[0]}  # fmt: skip


def run_passes(frames: list[np.ndarray], fps: float, trees: dict[str, dict[str, Any]], repeat: int) -> dict[str, Any]:
    """``bench_makeup.py``'s own pairing, both trees in one process: one pass over the clip per tree (the order of
    the trees alternating with ``repeat``), each frame bare face mesh then makeup; per tree the mean CPU ms a frame
    of both and their ratio."""
    import mediapipe as mp

    out: dict[str, Any] = {}
    order = list(trees) if repeat % 2 == 0 else list(trees)[::-1]
    for k in order:
        mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=False, max_num_faces=8, refine_landmarks=True,
                                               min_detection_confidence=0.5)  # fmt: skip
        tryon = make_tryon(trees[k])
        bare, ours = [], []
        for i, frame in enumerate(frames):
            t0 = time.process_time()
            mesh.process(frame)
            t1 = time.process_time()
            tryon.process(frame, i / fps)
            ours.append(time.process_time() - t1)
            bare.append(t1 - t0)
        mesh.close()
        tryon.provider.close()
        out[k] = (statistics.mean(bare[WARMUP:]) * 1e3, statistics.mean(ours[WARMUP:]) * 1e3)
    out["load"] = os.getloadavg()[0]
    return out


def main() -> None:
    """Print the in-process A/B table (markdown)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--heldout", type=Path, help="folder with the held-out videos and emma_input.jpg")
    parser.add_argument("--before", required=True, help="git revision to compare with (extracted with git archive)")
    parser.add_argument("--repeats", type=int, default=3, help="passes over each clip")
    parser.add_argument("--video-frames", type=int, default=150, help="frames read from each video")
    parser.add_argument("--passes", action="store_true",
                        help="one pass per tree (bare face mesh, then makeup, each frame) instead of interleaving the "
                        "trees frame by frame (no frame comparison then)")  # fmt: skip
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    sys.path.insert(0, str(ROOT))  # tests.conftest
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"before": load_tree(extract(args.before, Path(tmp))), "now": load_tree(ROOT)}
        videos = clips(args.heldout, args.video_frames, trees["before"])
        print(f"before: {args.before}; load at start {' '.join(f'{v:.1f}' for v in os.getloadavg())}; CPU time, "
              f"one core, gloss lipstick\n")  # fmt: skip
        if args.passes:
            print("| clip | repeat | now: face mesh ms, makeup ms (ratio) | before: face mesh ms, makeup ms (ratio) "
                  "| load |\n|---|---|---|---|---|")  # fmt: skip
            for name, (frames, fps) in videos.items():
                for rep in range(args.repeats):
                    r = run_passes(frames, fps, trees, rep)
                    cells = [f"{r[k][0]:.2f}, {r[k][1]:.2f} ({r[k][1] / r[k][0]:.2f}x)" for k in ("now", "before")]
                    print(f"| {name}, {len(frames)} frames | {rep + 1} | {' | '.join(cells)} | {r['load']:.1f} |",
                          flush=True)  # fmt: skip
            return
        print("| clip | repeat | face mesh ms | makeup now ms (ratio) | makeup before ms (ratio) | now / before "
              "| frames now vs before: max / mean difference, pixels changed | load |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|")
        for name, (frames, fps) in videos.items():
            for rep in range(args.repeats):
                r = run(frames, fps, trees, rep)
                b, now, old = r["ms"]["bare"], r["ms"]["now"], r["ms"]["before"]
                print(f"| {name}, {len(frames)} frames | {rep + 1} | {b:.2f} | {now:.2f} ({now / b:.2f}x) | "
                      f"{old:.2f} ({old / b:.2f}x) | {now / old:.3f} | {r['max_diff']} / {r['mean_diff']:.1e}, "
                      f"{r['changed_px']} | {r['load']:.1f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
