"""Scanning accuracy and speed against the truth, on synthetic captures of corpus meshes.

    .venv/bin/python tests/benchmarks/bench_scanning.py            # full: 36 views 640x480, bunny + spot
    .venv/bin/python tests/benchmarks/bench_scanning.py --quick    # 16 views 320x240
    .venv/bin/python tests/benchmarks/bench_scanning.py --image docs/images/scan_bunny.png
    .venv/bin/python tests/benchmarks/bench_scanning.py --noise-sweep    # where estimated poses are refused
    .venv/bin/python tests/benchmarks/bench_scanning.py --symmetric      # a cylinder and a sphere: refused

For each model and camera path, a capture is rendered with Kinect-like noise (scanning.synthetic), written to
disk, and reconstructed with ``reconstruct_capture`` exactly as ``python -m scanning fuse`` does, once with the
given poses and once estimating them. Time is the reconstruction from the folder to the cleaned mesh (reading
included, GLB writing excluded). The cleaned product mesh is compared with the truth mesh: F-scores at 0.5 % and
1 % of the truth's bounding-box diagonal and Chamfer distance on the surface some camera sees (the hollow under
the bunny's base, for one, is seen by none), plus F@1 % on the whole truth surface, the worst relative error of
the three dimensions, and watertightness. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")  # as python -m scanning does (see scanning/__main__.py)
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from scanning.errors import ScanError  # noqa: E402
from scanning.metrics import compare, is_watertight  # noqa: E402
from scanning.reconstruct import CaptureOptions, reconstruct_capture  # noqa: E402
from scanning.synthetic import NoiseModel, SynthOptions, synthesize  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "models"
Z_UP = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])  # glTF y-up -> z-up, for the floor-aware metrics


def run_case(
    model: str | Path, path: str, poses: str, views: int, width: int, height: int, workdir: Path, noise: float = 1.0
) -> tuple[dict[str, object], object]:
    source = model if isinstance(model, Path) else CORPUS / f"{model}.obj"
    cap = synthesize(
        source, SynthOptions(views=views, width=width, height=height, path=path, noise=NoiseModel(scale=noise))
    )  # type: ignore[arg-type]
    workdir.mkdir(parents=True, exist_ok=True)
    folder = cap.write(workdir / f"{source.stem}_{path}_{poses}", with_poses=poses == "given")
    t0 = time.perf_counter()
    mesh, rep = reconstruct_capture(folder, CaptureOptions(poses="given" if poses == "given" else "estimate"))
    seconds = time.perf_counter() - t0
    world_to_model = np.array(rep.world_to_model)
    if poses != "given":  # the estimated world is the first camera's frame
        world_to_model = world_to_model @ np.linalg.inv(cap.poses[0])
    truth = cap.truth_vertices @ world_to_model[:3, :3].T + world_to_model[:3, 3]
    cams = cap.poses[:, :3, 3] @ world_to_model[:3, :3].T + world_to_model[:3, 3]
    pv, tv, cv = mesh.vertices @ Z_UP.T, truth @ Z_UP.T, cams @ Z_UP.T
    vis = compare(pv, mesh.triangles, tv, cap.truth_triangles, cameras=cv, table_z=0.0)
    full = compare(pv, mesh.triangles, tv, cap.truth_triangles)
    row = {
        "model": source.stem,
        "path": path,
        "poses": poses,
        "frames": f"{views} x {width}x{height}",
        "F@0.5%": f"{vis.fscore_05:.3f}",
        "F@1%": f"{vis.fscore_1:.3f}",
        "F@1% all": f"{full.fscore_1:.3f}",
        "Chamfer mm": f"{vis.chamfer * 1000:.2f}",
        "dim err": f"{full.dimension_error * 100:.2f} %",
        "watertight": "yes" if is_watertight(mesh.triangles) else "no",
        "triangles": str(len(mesh.triangles)),
        "time s": f"{seconds:.1f}",
        "poses s": f"{rep.seconds.get('poses', 0.0):.1f}",
        "fusion s": f"{rep.seconds.get('fusion', 0.0):.1f}",
    }
    return row, (cap, mesh)


def markdown(rows: list[dict[str, object]]) -> str:
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def picture(cap: object, mesh: object, out: Path) -> None:
    """Input color frame, its depth, and the reconstruction shaded with its vertex colors (numpy + matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection

    from scanning.cleanup import simplify

    m = simplify(mesh, 25_000)  # type: ignore[arg-type]
    v = m.vertices
    yaw, pitch = np.radians(35), np.radians(25)
    ry = np.array([[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]])
    rx = np.array([[1, 0, 0], [0, np.cos(pitch), -np.sin(pitch)], [0, np.sin(pitch), np.cos(pitch)]])
    p = v @ (rx @ ry).T
    tri = p[m.triangles]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    n /= np.linalg.norm(n, axis=1, keepdims=True) + 1e-12
    front = n[:, 2] > 0
    light = np.array([0.3, 0.5, 0.8]) / np.linalg.norm([0.3, 0.5, 0.8])
    shade = 0.35 + 0.65 * np.clip(n @ light, 0, 1)
    col = m.colors[m.triangles].mean(axis=1) if m.colors is not None else np.full((len(tri), 3), 0.7)
    col = np.clip(col * shade[:, None] * 1.15, 0, 1)
    order = np.argsort(tri[:, :, 2].mean(axis=1))
    order = order[front[order]]
    fig, ax = plt.subplots(1, 3, figsize=(12, 4), dpi=80)
    ax[0].imshow(cap.colors[0])  # type: ignore[attr-defined]
    ax[0].set_title(f"input color (1 of {len(cap.colors)})")  # type: ignore[attr-defined]
    ax[1].imshow(np.where(cap.depths[0] > 0, cap.depths[0], np.nan), cmap="viridis")  # type: ignore[attr-defined]
    ax[1].set_title("input depth (noisy)")
    ax[2].add_collection(
        PolyCollection(
            tri[order][:, :, :2], facecolors=col[order], edgecolors=col[order], linewidths=0.4, antialiased=False
        )
    )
    ax[2].set_xlim(p[:, 0].min() - 0.01, p[:, 0].max() + 0.01)
    ax[2].set_ylim(p[:, 1].min() - 0.01, p[:, 1].max() + 0.01)
    ax[2].set_aspect("equal")
    ax[2].set_title("fused, watertight, vertex colors")
    for a in ax:
        a.set_axis_off()
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    plt.close(fig)
    from PIL import Image

    Image.open(out).convert("RGB").quantize(128).save(out, optimize=True)  # README-sized (< 200 KB)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="16 views at 320x240")
    ap.add_argument("--models", default="stanford-bunny,spot")
    ap.add_argument("--paths", default="turntable,handheld")
    ap.add_argument("--image", type=Path, help="also write a picture of the first reconstruction here")
    ap.add_argument(
        "--noise-sweep",
        action="store_true",
        help="instead: estimated poses on the bunny at growing noise; shows where the scan is refused",
    )
    ap.add_argument(
        "--symmetric",
        action="store_true",
        help="instead: estimated poses on a cylinder and a sphere, which ICP cannot tell apart",
    )
    args = ap.parse_args()
    views, width, height = (16, 320, 240) if args.quick else (36, 640, 480)
    rows = []
    if args.noise_sweep:
        with tempfile.TemporaryDirectory() as tmp:
            for k, scale in enumerate((1.0, 3.0, 6.0, 10.0, 20.0, 30.0)):
                try:
                    row, _ = run_case(
                        "stanford-bunny",
                        "turntable",
                        "estimated",
                        views,
                        width,
                        height,
                        Path(tmp) / str(k),
                        noise=scale,
                    )
                    result = f"F@1% {row['F@1%']}, dim err {row['dim err']}"
                except ScanError as exc:
                    result = f"refused: {exc}"
                sigma = NoiseModel(scale=scale).sigma(np.array(0.5))
                print(f"| {scale:g} | {float(sigma) * 1000:.1f} | {result} |", flush=True)
        return
    if args.symmetric:
        import trimesh

        with tempfile.TemporaryDirectory() as tmp:
            for name, shape in (
                ("cylinder", trimesh.creation.cylinder(0.5, 1.0, sections=64)),
                ("sphere", trimesh.creation.icosphere(4)),
            ):
                shape.apply_transform(trimesh.transformations.rotation_matrix(-np.pi / 2, [1, 0, 0]))  # Y-up file
                shape.export(Path(tmp) / f"{name}.obj")
                try:
                    row, _ = run_case(
                        Path(tmp) / f"{name}.obj", "turntable", "estimated", views, width, height, Path(tmp) / name
                    )
                    result = f"F@1% {row['F@1%']}, dim err {row['dim err']}"
                except ScanError as exc:
                    result = f"refused: {exc}"
                print(f"| {name} | {result} |", flush=True)
        return
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models.split(","):
            for path in args.paths.split(","):
                for poses in ("given", "estimated"):
                    row, (cap, mesh) = run_case(model, path, poses, views, width, height, Path(tmp))
                    rows.append(row)
                    print(markdown([row]).splitlines()[-1], file=sys.stderr, flush=True)
                    if args.image and len(rows) == 1:
                        picture(cap, mesh, args.image)
    print(markdown(rows))


if __name__ == "__main__":
    main()
