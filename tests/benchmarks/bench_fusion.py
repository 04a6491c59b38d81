"""Fusion with given poses against Open3D's tutorial TSDF pipeline, on the same frames, in one run.

    .venv/bin/python tests/benchmarks/bench_fusion.py              # bunny 36 x 640x480, and a table of objects
    .venv/bin/python tests/benchmarks/bench_fusion.py --quick      # 16 x 320x240

Ours: ``read_sequence`` + ``load_all`` + ``find_region`` + ``fuse`` (carve) from the capture folder, as
``python -m scanning fuse --poses given`` runs them (cleanup and GLB writing excluded). The tutorial (Open3D's
"RGBD integration" page): ``o3d.io.read_image`` for each color and depth PNG, ``create_from_color_and_depth``
(depth_trunc 4 m, no intensity conversion), ``ScalableTSDFVolume.integrate`` with the same poses, then
``extract_triangle_mesh``; at our voxel size and truncation (4 voxels), and at the tutorial's own 4/512 m voxel
(sdf_trunc 0.04 m), with ours at about that voxel too. The tutorial runs in this process with Open3D's OpenMP
at one thread, as our CLI runs it, and in a child process with OpenMP's default threads (left out with
``--no-omp-child``, or when the one-thread run took over a minute).

Quality, on the chosen object: F@1 % and Chamfer distance of each mesh against the truth on the surface some
camera sees (the tutorial's mesh cut to our object's box), and the distance from our mesh to the tutorial's at
the same voxel (Chamfer, and the share of the tutorial's surface within 1 % of the object's diagonal of ours).
``cat /proc/loadavg`` is printed before and after. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")  # as python -m scanning does (see scanning/__main__.py)
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from scanning.cleanup import keep_main_component  # noqa: E402
from scanning.frames import read_sequence  # noqa: E402
from scanning.fusion import FusionOptions, fuse  # noqa: E402
from scanning.mesh import Mesh  # noqa: E402
from scanning.metrics import compare  # noqa: E402
from scanning.region import find_region  # noqa: E402
from scanning.synthetic import SynthOptions, compose, load_truth, render  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "models"


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__().replace("'", "")


def captures(views: int, width: int, height: int, out: Path) -> list[tuple[str, Path, np.ndarray, np.ndarray]]:
    """(name, folder, truth vertices, truth triangles) for the object capture and the table of objects."""
    opts = SynthOptions(views=views, width=width, height=height)
    bunny_v, bunny_f = load_truth(CORPUS / "stanford-bunny.obj", 0.2)
    cap = render(bunny_v, bunny_f, opts)
    items = [("bunny (object)", cap.write(out / "bunny"), bunny_v, bunny_f)]
    b2 = load_truth(CORPUS / "stanford-bunny.obj", 0.16)
    spot = load_truth(CORPUS / "spot.obj", 0.14)
    mag_v = np.array([[x, y, z] for x in (-0.105, 0.105) for y in (-0.14, 0.14) for z in (0.0, 0.006)])
    import trimesh

    mag = trimesh.convex.convex_hull(mag_v)
    v, f = compose([(*b2, (0.2, 0.06)), (*spot, (-0.24, -0.1)),
                    (np.asarray(mag.vertices), np.asarray(mag.faces, dtype=np.int64), (0.0, 0.0))])
    table = render(v, f, SynthOptions(views=views, width=width, height=height, elevation_deg=40, table_radius=1.5))
    items.append(("table of 3 objects", table.write(out / "table"), b2[0] + [0.2, 0.06, 0.0], b2[1]))
    return items


def ours(folder: Path, voxel: float | None = None) -> tuple[float, object, object, list]:
    """Read, find the object, fuse; ``voxel`` (meters) instead of the object's own 200 voxels across."""
    t0 = time.perf_counter()
    seq = read_sequence(folder)
    frames = seq.load_all()
    region = find_region(frames, seq.intrinsics)
    opts = FusionOptions() if voxel is None else FusionOptions(voxels_across=max(8, round(region.size / voxel)))
    mesh = fuse(frames, seq.intrinsics, region, opts)
    return time.perf_counter() - t0, mesh, region, frames


def tutorial(folder: str, voxel: float, trunc: float) -> tuple[float, np.ndarray, np.ndarray]:
    import open3d as o3d

    seq = read_sequence(folder)  # file names and poses only
    t0 = time.perf_counter()
    volume = o3d.pipelines.integration.ScalableTSDFVolume(
        voxel_length=voxel, sdf_trunc=trunc, color_type=o3d.pipelines.integration.TSDFVolumeColorType.RGB8
    )
    intr = seq.intrinsics.to_open3d()
    for ref, pose in zip(seq.frames, seq.poses, strict=True):
        color = o3d.io.read_image(str(ref.color))
        depth = o3d.io.read_image(str(ref.depth))
        rgbd = o3d.geometry.RGBDImage.create_from_color_and_depth(
            color, depth, depth_trunc=4.0, convert_rgb_to_intensity=False
        )
        volume.integrate(rgbd, intr, np.linalg.inv(pose))
    mesh = volume.extract_triangle_mesh()
    seconds = time.perf_counter() - t0
    return seconds, np.asarray(mesh.vertices), np.asarray(mesh.triangles)


def cut(v: np.ndarray, f: np.ndarray, to_object: np.ndarray, lo: np.ndarray, hi: np.ndarray, z0: float):
    """Triangles of a world mesh whose vertices all lie in the object's box (above z0), in the object frame."""
    w = v @ to_object[:3, :3].T + to_object[:3, 3]
    inside = np.all((w >= lo) & (w <= hi), axis=1) & (w[:, 2] >= z0)
    return w, f[inside[f].all(axis=1)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-omp-child", action="store_true")
    ap.add_argument("--captures", default="bunny,table", help="which captures: bunny, table or both")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        sec, _, _ = tutorial(args.child[0], float(args.child[1]), float(args.child[2]))
        print(json.dumps({"seconds": sec}))
        return
    views, width, height = (16, 320, 240) if args.quick else (36, 640, 480)
    print(f"load before: {loadavg()}", file=sys.stderr)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, folder, tv, tf in captures(views, width, height, Path(tmp)):
            if name.split()[0] not in args.captures.split(","):
                continue
            t_ours, mesh, region, frames = ours(folder)
            voxel = mesh.voxel
            t_tut, rv, rf = tutorial(str(folder), voxel, 4 * voxel)
            t_tut512, _, _ = tutorial(str(folder), 4 / 512, 0.04)
            t_ours512, m512, _, _ = ours(folder, 4 / 512)
            t_child = float("nan")
            if not args.no_omp_child and t_tut < 60:
                env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
                res = subprocess.run([sys.executable, __file__, "--child", str(folder), str(voxel), str(4 * voxel)],
                                     capture_output=True, text=True, env=env, timeout=1800, check=True)
                t_child = json.loads(res.stdout.strip().splitlines()[-1])["seconds"]
            to_obj = region.to_object
            truth = tv @ to_obj[:3, :3].T + to_obj[:3, 3]
            cams = np.array([(to_obj @ fr.pose)[:3, 3] for fr in frames])
            pad = 0.05 * region.size
            z0 = 1.5 * voxel
            mesh, _ = keep_main_component(mesh)  # cleanup's first step, on both meshes
            acc = compare(mesh.vertices, mesh.triangles, truth, tf, cameras=cams, table_z=0.0)
            wv, wf = cut(rv, rf, to_obj, region.lo - pad, region.hi + pad, z0)
            main, _ = keep_main_component(Mesh(wv, wf, None, voxel).compact())
            wv, wf = main.vertices, main.triangles
            acc_t = compare(wv, wf, truth, tf, cameras=cams, table_z=0.0)
            ov, of = cut(mesh.vertices @ region.to_world[:3, :3].T + region.to_world[:3, 3], mesh.triangles, to_obj,
                         region.lo - pad, region.hi + pad, z0)
            diff = compare(ov, of, wv, wf)
            rows.append({
                "capture": name, "frames": f"{len(frames)} x {width}x{height}", "voxel mm": f"{voxel * 1000:.2f}",
                "ours s": f"{t_ours:.2f}", "tutorial s (same voxel, 1 thread)": f"{t_tut:.2f}",
                "ratio": f"{t_ours / t_tut:.2f}",
                "tutorial s (same voxel, OpenMP default)": f"{t_child:.2f}",
                "4/512 m voxel: ours s / tutorial s": f"{t_ours512:.2f} / {t_tut512:.2f} ({m512.voxel * 1000:.1f} mm)",
                "F@1% ours / tutorial": f"{acc.fscore_1:.3f} / {acc_t.fscore_1:.3f}",
                "Chamfer mm ours / tutorial": f"{acc.chamfer * 1000:.2f} / {acc_t.chamfer * 1000:.2f}",
                "ours vs tutorial: Chamfer mm, recall@1%": f"{diff.chamfer * 1000:.2f}, {diff.recall_1:.3f}",
            })
            print(rows[-1], file=sys.stderr, flush=True)
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for r in rows:
        print("| " + " | ".join(str(r[k]) for k in keys) + " |")
    print(f"load before/after: see stderr; after: {loadavg()}")


if __name__ == "__main__":
    main()
