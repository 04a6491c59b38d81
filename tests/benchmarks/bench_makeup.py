"""Makeup try-on quality and speed (issue 12): light, skin tones, flashes in video, speed against bare face mesh.

Run: ``.venv/bin/python tests/benchmarks/bench_makeup.py [--heldout DIR] [--before REF]`` -> markdown on stdout.

- Lips' luminance after/before at exposures 0.15 / 0.35 / 1.0 (the picture's linear light scaled), per finish:
  the spread (largest ratio / smallest) should stay under 1.33.
- Blush and foundation on dark skin: change of CIE L* and chroma C* inside the region (ashy: L* up, C* down).
- Makeup flashes in video: painted areas (pixels the try-on changed, as connected blobs followed over frames)
  that last one or two frames.
- Speed: ``TryOn.process`` per frame against bare MediaPipe face mesh (8 faces, refined landmarks) on the same
  frames in the same run, interleaved frame by frame, video mode (face mesh tracking) and image mode (face mesh
  static), on one core.

``--heldout DIR`` adds pictures and a video from outside the corpus (see docs/benchmarks-tryon.md for where they
come from); corpus and held-out results are reported apart. ``--before REF`` runs the same measurements on the
code of git revision REF (extracted to a temporary folder) for a side-by-side "before" column; with
``--rounds N`` the speed is then measured again in N alternating runs of each tree (before, now, before, ...), each
in a subprocess, and reported as the median ratio and its range (load on a shared machine moves from one run to the
next: in one run of each, the bare face mesh on the held-out clip took 5.9 ms in the first and 3.5 ms in the second).
``--clock cpu`` times the process's CPU time instead of wall time: pinned to one core, it leaves out the time other
processes hold that core (load from other work), which wall time counts against whichever code was running.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

ROOT = Path(os.environ.get("BENCH_TREE", Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(ROOT))

from skimage import data  # noqa: E402

from tests.conftest import corpus_dir  # noqa: E402
from tryon import color  # noqa: E402
from tryon.factory import create_tryon  # noqa: E402
from tryon.look import parse_look  # noqa: E402
from tryon.masks import rasterize  # noqa: E402
from tryon.regions import lips, region  # noqa: E402
from tryon.settings import TryOnSettings  # noqa: E402

EXPOSURES = (0.15, 0.35, 1.0)
FINISHES = ("matte", "gloss", "shimmer", "metallic")
HELDOUT_PORTRAITS = ("obama.jpg", "pp_02_woman.jpg", "pp_03_woman.jpg", "pp_04_man.jpg", "lin-manuel-miranda.png",
                     "alex-lacamoire.png", "kit_with_rose.jpg")  # fmt: skip
HELDOUT_DARK = ("pp_03_woman.jpg", "pp_04_man.jpg", "obama.jpg")
HELDOUT_VIDEO = "short_hamilton_clip.mp4"
HELDOUT_TURNED_VIDEO = "obama_3ddfa.mp4"
"""A turned face in video (3DDFA's ``demo@obama/obama.mp4``, 1280x720: the mesh reads yaw 28-32 degrees on most
frames, so the lips' clip runs); used when present in the held-out folder."""
WARMUP = 5
TINTS = {"blush": "#E8909A", "foundation": "#E0B89C"}


def rgb(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path))
    assert bgr is not None, path
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def expose(img: np.ndarray, e: float) -> np.ndarray:
    return np.asarray(color.linear_to_u8(color.u8_to_linear(img) * np.float32(e)))


def darker_skin(img: np.ndarray) -> np.ndarray:
    return np.asarray(color.linear_to_u8(color.u8_to_linear(img) * np.array([0.22, 0.14, 0.11], np.float32)))


def lip_y(img: np.ndarray, face: Any) -> float:
    m = rasterize(lips(face), img.shape)
    x0, y0, x1, y1 = m.box
    y = color.u8_to_linear(img[y0:y1, x0:x1]) @ color.LUMA
    return float((y * m.alpha).sum() / m.alpha.sum())


def exposure_rows(images: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    rows = []
    for finish in FINISHES:
        look = parse_look(json.dumps([{"kind": "lipstick", "shade": "#A3162B", "finish": finish, "intensity": 0.85}]))
        tryon = create_tryon(look, TryOnSettings(), "image")
        for name, img in images.items():
            before, after = [], []
            for e in EXPOSURES:
                frame = expose(img, e)
                r = tryon.process(frame)
                if not r.faces:
                    break
                before.append(lip_y(frame, r.faces[0]))
                after.append(lip_y(r.frame, r.faces[0]))
            if len(after) < len(EXPOSURES):
                continue
            ratios = [a / b for a, b in zip(after, before, strict=True)]
            rows.append({"image": name, "finish": finish, "before": before, "after": after,
                         "spread": max(ratios) / min(ratios)})  # fmt: skip
        tryon.provider.close()
    return rows


def tint_rows(images: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    rows = []
    for kind, shade in TINTS.items():
        tryon = create_tryon(parse_look(json.dumps([{"kind": kind, "shade": shade, "intensity": 0.6}])),
                             TryOnSettings(), "image")  # fmt: skip
        for name, img in images.items():
            r = tryon.process(img)
            if not r.faces:
                continue
            m = rasterize(region(r.faces[0], kind), img.shape)
            x0, y0, x1, y1 = m.box
            sel = m.alpha > 0.5
            b = color.srgb_to_lab(img[y0:y1, x0:x1][sel] / 255.0)
            a = color.srgb_to_lab(r.frame[y0:y1, x0:x1][sel] / 255.0)
            hue = lambda lab: float(np.degrees(np.arctan2(lab[:, 2].mean(), lab[:, 1].mean())))  # noqa: E731
            rows.append({"image": name, "kind": kind, "L": (float(b[:, 0].mean()), float(a[:, 0].mean())),
                         "C": (float(np.hypot(b[:, 1], b[:, 2]).mean()), float(np.hypot(a[:, 1], a[:, 2]).mean())),
                         "h": (hue(b), hue(a))})  # fmt: skip
        tryon.provider.close()
    return rows


def read_video(path: Path, limit: int | None = None) -> tuple[list[np.ndarray], float]:
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    frames = []
    while limit is None or len(frames) < limit:
        ok, bgr = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    cap.release()
    return frames, float(fps)


def flashes(frames: list[np.ndarray], outs: list[np.ndarray], cell: int = 8) -> tuple[int, int, list[int]]:
    """(appearances of paint lasting 1-2 frames, all appearances, their lengths in frames).

    Painted pixels (changed by more than 10 levels) form blobs on a grid of ``cell`` px cells, dilated by two cells
    to bridge motion. A blob continues the appearance of every blob of the previous frame it overlaps (splits and
    merges, say lips and cheeks, continue it); an appearance ends when no blob of the next frame overlaps it.
    """
    prev: list[tuple[np.ndarray, int]] = []
    done: list[int] = []
    kernel = np.ones((5, 5), np.uint8)
    for src, out in zip(frames, outs, strict=True):
        diff = (np.abs(out.astype(np.int16) - src).max(axis=2) > 10).astype(np.uint8) * np.uint8(255)
        h, w = diff.shape
        grid = cv2.resize(diff, (w // cell, h // cell), interpolation=cv2.INTER_AREA)
        grid = cv2.dilate((grid > 0).astype(np.uint8), kernel)
        n, labels = cv2.connectedComponents(grid)
        blobs = [labels == i for i in range(1, n)]
        now: list[tuple[np.ndarray, int]] = []
        continued = set()
        for blob in blobs:
            before = [j for j, (p, _) in enumerate(prev) if (p & blob).any()]
            continued.update(before)
            now.append((blob, 1 + max((prev[j][1] for j in before), default=0)))
        done.extend(length for j, (_, length) in enumerate(prev) if j not in continued)
        prev = now
    done.extend(length for _, length in prev)
    return sum(1 for n in done if n <= 2), len(done), sorted(done)


def video_flash_rows(videos: dict[str, tuple[list[np.ndarray], float]]) -> list[dict[str, Any]]:
    rows = []
    look = parse_look(json.dumps([{"kind": "lipstick", "shade": "#A3162B", "finish": "gloss", "intensity": 0.9},
                                  {"kind": "blush", "shade": "#D8707A", "intensity": 0.5}]))  # fmt: skip
    for name, (frames, fps) in videos.items():
        tryon = create_tryon(look, TryOnSettings(), "video")
        outs = [tryon.process(f, i / fps).frame for i, f in enumerate(frames)]
        tryon.provider.close()
        short, total, lengths = flashes(frames, outs)
        rows.append({"video": name, "frames": len(frames), "flashes": short, "blobs": total,
                     "lengths": lengths[:12]})  # fmt: skip
    return rows


def speed_rows(videos: dict[str, tuple[list[np.ndarray], float]], stills: dict[str, np.ndarray],
               repeats: int = 2) -> list[dict[str, Any]]:  # fmt: skip
    import mediapipe as mp

    clock = time.process_time if os.environ.get("BENCH_CLOCK") == "cpu" else time.perf_counter

    look = parse_look(json.dumps([{"kind": "lipstick", "shade": "#A3162B", "finish": "gloss", "intensity": 0.9}]))
    settings = TryOnSettings()
    rows = []

    def bare(static: bool) -> Any:
        return mp.solutions.face_mesh.FaceMesh(static_image_mode=static, max_num_faces=8,
                                               refine_landmarks=True, min_detection_confidence=0.5)  # fmt: skip

    for name, (frames, fps) in videos.items():
        ours_ms, bare_ms = [], []
        for _ in range(repeats):  # interleaved frame by frame (same load for both); after WARMUP frames
            mesh = bare(False)
            tryon = create_tryon(look, settings, "video")
            tb, to = [], []
            for i, f in enumerate(frames):
                t0 = clock()
                mesh.process(f)
                t1 = clock()
                tryon.process(f, i / fps)
                to.append(clock() - t1)
                tb.append(t1 - t0)
            bare_ms.append(statistics.mean(tb[WARMUP:]) * 1e3)
            ours_ms.append(statistics.mean(to[WARMUP:]) * 1e3)
            mesh.close()
            tryon.provider.close()
        rows.append({"mode": "video", "input": name, "bare_ms": min(bare_ms), "ours_ms": min(ours_ms)})
    for name, img in stills.items():
        ours_ms, bare_ms = [], []
        mesh = bare(True)
        tryon = create_tryon(look, settings, "image")
        for _ in range(repeats * 3):
            t0 = clock()
            mesh.process(img)
            bare_ms.append((clock() - t0) * 1e3)
            t0 = clock()
            tryon.process(img)
            ours_ms.append((clock() - t0) * 1e3)
        mesh.close()
        tryon.provider.close()
        rows.append({"mode": "image", "input": name, "bare_ms": statistics.median(bare_ms),
                     "ours_ms": statistics.median(ours_ms)})  # fmt: skip
    return rows


def measure(heldout: Path | None, video_frames: int, speed_only: bool = False) -> dict[str, Any]:
    corpus = corpus_dir()
    man = rgb(corpus / "images" / "face_man_suit.jpg")
    corpus_faces = {"astronaut": np.ascontiguousarray(data.astronaut()), "face_man_suit.jpg": man}
    street = read_video(corpus / "images" / "street_walking_720p50.avi", video_frames)
    result: dict[str, Any] = {}
    if not speed_only:
        result["exposure_corpus"] = exposure_rows(corpus_faces)
        result["tint_corpus"] = tint_rows({"face_man_suit.jpg, melanin x5-9 (generated)": darker_skin(man)})
        result["flash_corpus"] = video_flash_rows({"street_walking_720p50.avi": street})
    videos = {"street_walking_720p50.avi": street}
    stills = {"face_man_suit.jpg": man, "astronaut": corpus_faces["astronaut"]}
    if heldout is not None:
        clip = read_video(heldout / HELDOUT_VIDEO, video_frames)
        if not speed_only:
            portraits = {n: rgb(heldout / n) for n in HELDOUT_PORTRAITS if (heldout / n).is_file()}
            result["exposure_heldout"] = exposure_rows(portraits)
            result["tint_heldout"] = tint_rows({n: portraits[n] for n in HELDOUT_DARK if n in portraits})
            result["flash_heldout"] = video_flash_rows({HELDOUT_VIDEO: clip})
        videos[HELDOUT_VIDEO] = clip
        if (heldout / HELDOUT_TURNED_VIDEO).is_file():
            turned = read_video(heldout / HELDOUT_TURNED_VIDEO, video_frames)
            videos[HELDOUT_TURNED_VIDEO] = turned
            if not speed_only:
                result["flash_heldout"] += video_flash_rows({HELDOUT_TURNED_VIDEO: turned})
        for n in ("obama-720p.jpg", "two_people.jpg", "pp_03_woman.jpg"):
            if (heldout / n).is_file():
                stills[n] = rgb(heldout / n)
    result["speed"] = speed_rows(videos, stills)
    return result


def run_tree(tree: Path, args: argparse.Namespace, speed_only: bool = False) -> dict[str, Any]:
    """The measurements on the code in ``tree`` (another checkout), in a subprocess."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--json", "--video-frames", str(args.video_frames)]
    if args.heldout:
        cmd += ["--heldout", str(args.heldout)]
    if speed_only:
        cmd.append("--speed-only")
    env = {**os.environ, "BENCH_TREE": str(tree), "PYTHONPATH": str(tree), "PHYGITAL_CORPUS": str(corpus_dir()),
           "BENCH_CLOCK": args.clock}  # fmt: skip
    out = subprocess.run(cmd, env=env, cwd=tree, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def extract(ref: str, into: Path) -> Path:
    """The repository's files at git revision ``ref`` in ``into`` (``git archive``)."""
    here = Path(__file__).resolve().parents[2]
    archive = subprocess.run(["git", "-C", str(here), "archive", ref], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def speed_rounds(before_tree: Path, args: argparse.Namespace) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Speed rows of the code before and now from ``args.rounds`` alternating runs (before, now, before, ...), each
    in its own subprocess: per row the median face mesh and makeup times and every run's ratio (``ratios``), so
    that load changing between the two trees' runs shows as a range instead of a difference."""
    here = Path(__file__).resolve().parents[2]
    runs: dict[str, list[list[dict[str, Any]]]] = {"before": [], "now": []}
    for _ in range(args.rounds):
        runs["before"].append(run_tree(before_tree, args, speed_only=True)["speed"])
        runs["now"].append(run_tree(here, args, speed_only=True)["speed"])
    merged = {}
    for key, lists in runs.items():
        rows = []
        for i, first in enumerate(lists[0]):
            same = [rs[i] for rs in lists]
            rows.append({"mode": first["mode"], "input": first["input"],
                         "bare_ms": statistics.median(r["bare_ms"] for r in same),
                         "ours_ms": statistics.median(r["ours_ms"] for r in same),
                         "ratios": [r["ours_ms"] / r["bare_ms"] for r in same]})  # fmt: skip
        merged[key] = rows
    return merged["before"], merged["now"]


def _ratio(r: dict[str, Any]) -> str:
    """A row's ratio: the median of its runs' ratios and their range when there were several, else the one."""
    if "ratios" in r and len(r["ratios"]) > 1:
        rs = r["ratios"]
        return f"{statistics.median(rs):.2f}x ({min(rs):.2f}-{max(rs):.2f})"
    return f"{r['ours_ms'] / r['bare_ms']:.2f}x"


def report(now: dict[str, Any], before: dict[str, Any] | None) -> str:
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    lines = [f"load average {load} (1, 5, 15 min) at the end, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"]
    extra_col, extra_sep = (" before the change |", "---|") if before else ("", "")
    for part in ("corpus", "heldout"):
        if f"exposure_{part}" not in now:
            continue
        lines += ["", f"### Lips across exposures ({part})", "",
                  "| image | finish | lips before (0.15 / 0.35 / 1.0) | after | spread of after/before |" + extra_col,
                  "|---|---|---|---|---|" + extra_sep]  # fmt: skip
        old = {(r["image"], r["finish"]): r for r in (before or {}).get(f"exposure_{part}", [])}
        for r in now[f"exposure_{part}"]:
            f3 = lambda v: " / ".join(f"{x:.3f}" for x in v)  # noqa: E731
            row = f"| {r['image']} | {r['finish']} | {f3(r['before'])} | {f3(r['after'])} | {r['spread']:.2f}x |"
            if before:
                o = old.get((r["image"], r["finish"]))
                row += f" {o['spread']:.2f}x (after {f3(o['after'])}) |" if o else " - |"
            lines.append(row)
        lines += ["", f"### Blush and foundation on dark skin ({part})", "",
                  "| image | product | L* before -> after | C* before -> after | hue before -> after |" + extra_col,
                  "|---|---|---|---|---|" + extra_sep]  # fmt: skip
        old = {(r["image"], r["kind"]): r for r in (before or {}).get(f"tint_{part}", [])}
        for r in now[f"tint_{part}"]:
            row = (f"| {r['image']} | {r['kind']} | {r['L'][0]:.1f} -> {r['L'][1]:.1f} | {r['C'][0]:.1f} -> "
                   f"{r['C'][1]:.1f} | {r['h'][0]:.0f} -> {r['h'][1]:.0f} |")  # fmt: skip
            if before:
                o = old.get((r["image"], r["kind"]))
                row += f" {o['L'][0]:.1f} -> {o['L'][1]:.1f}, {o['C'][0]:.1f} -> {o['C'][1]:.1f} |" if o else " - |"
            lines.append(row)
        lines += ["", f"### Makeup flashes in video ({part})", "",
                  "| video | frames | blobs lasting 1-2 frames | blobs | before the change: 1-2 frame blobs / blobs |",
                  "|---|---|---|---|---|"]  # fmt: skip
        old = {r["video"]: r for r in (before or {}).get(f"flash_{part}", [])}
        for r in now[f"flash_{part}"]:
            o = old.get(r["video"])
            lines.append(f"| {r['video']} | {r['frames']} | {r['flashes']} | {r['blobs']} | "
                         + (f"{o['flashes']} / {o['blobs']} |" if o else "- |"))  # fmt: skip
    clock = "CPU time" if os.environ.get("BENCH_CLOCK") == "cpu" else "wall time"
    lines += ["", f"### Speed against bare MediaPipe face mesh (same frames, same run, one core, {clock})", "",
              "| mode | input | face mesh ms | makeup ms | ratio | before the change: makeup ms, ratio |",
              "|---|---|---|---|---|---|"]  # fmt: skip
    old = {(r["mode"], r["input"]): r for r in (before or {}).get("speed", [])}
    for r in now["speed"]:
        o = old.get((r["mode"], r["input"]))
        prev = f"{o['ours_ms']:.1f}, {_ratio(o)}" if o else "-"
        lines.append(f"| {r['mode']} | {r['input']} | {r['bare_ms']:.1f} | {r['ours_ms']:.1f} | {_ratio(r)} | {prev} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--heldout", type=Path, help="folder with the held-out pictures and video")
    parser.add_argument("--before", help="git revision to measure side by side (e.g. the commit before issue 12)")
    parser.add_argument("--video-frames", type=int, default=150, help="frames read from each video")
    parser.add_argument("--json", action="store_true", help="print the raw measurements as one JSON line")
    parser.add_argument("--all-cores", action="store_true", help="do not pin the process to one core")
    parser.add_argument("--speed-only", action="store_true", help="only the speed rows (with --json)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="speed as wall time or as the process's CPU time (see above)")  # fmt: skip
    parser.add_argument(
        "--rounds", type=int, default=1, help="with --before: speed from this many alternating runs per tree"
    )
    args = parser.parse_args()
    os.environ["BENCH_CLOCK"] = args.clock
    if not args.all_cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    if args.json:
        print(json.dumps(measure(args.heldout, args.video_frames, args.speed_only)))
        return
    before = None
    if args.before:
        with tempfile.TemporaryDirectory() as tmp:
            tree = extract(args.before, Path(tmp))
            before = run_tree(tree, args)
            now = measure(args.heldout, args.video_frames)
            if args.rounds > 1:
                before["speed"], now["speed"] = speed_rounds(tree, args)
    else:
        now = measure(args.heldout, args.video_frames)
    print(report(now, before))


if __name__ == "__main__":
    main()
