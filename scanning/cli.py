"""Command line: ``python -m scanning fuse|mesh|synth``.

Bad input ends the command with one line on stderr and exit code 2; outputs are written atomically, so a
failure leaves nothing behind. With ``--sku`` the GLB is then published through ``assets_pipeline.publish``;
a bad SKU or category is refused before any work, and a catalog or store failure after the GLB was written
says so (``written, but not published: ...``) and keeps the GLB.
"""

from __future__ import annotations

import logging
import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import typer

from assets_pipeline import clikit
from scanning.errors import ScanError

if TYPE_CHECKING:
    from assets_pipeline.settings import AssetSettings

app = clikit.make_app(
    "scanning",
    "Phygital scanning: turn an RGB-D capture folder or a point cloud into a clean, correctly sized, "
    "AR-ready GLB product model (Open3D fusion + the asset pipeline's optimize).",
)
err = clikit.err
out = clikit.out


class PoseChoice(StrEnum):
    """``--poses``: use the capture's poses when present (auto), require them (given) or estimate them."""
    auto = "auto"
    given = "given"
    estimate = "estimate"


class MethodChoice(StrEnum):
    """``--method``: the TSDF fusion variant (carved dense grid, or Open3D's scalable TSDF)."""
    carve = "carve"
    scalable = "scalable"


class PathChoice(StrEnum):
    """``synth --path``: the synthetic camera path (turntable circle or handheld wobble)."""
    turntable = "turntable"
    handheld = "handheld"


class UpChoice(StrEnum):
    """``mesh --up``: the cloud's up axis when no table plane is found."""
    x = "x"
    y = "y"
    z = "z"


SkuOption = Annotated[
    str | None,
    typer.Option(
        help="also publish the GLB as the next version of this product SKU (LODs, USDZ, thumbnail into the asset "
        "store and catalog chosen by the PHYGITAL_ASSETS_* settings)"
    ),
]
CategoryOption = Annotated[
    str | None,
    typer.Option(
        help="category when publishing: shoes|apparel|makeup|furniture|accessory (default: the product's own, "
        "else accessory)"
    ),
]
TextureOption = Annotated[
    int | None,
    typer.Option(
        "--texture-size",
        min=64,
        max=4096,
        help="also bake the vertex colors into a texture atlas of this many pixels a side (UV charting takes "
        "20-30 s); for viewers and formats that ignore vertex colors",
    ),
]
NameOption = Annotated[str | None, typer.Option("--name", help="product name when publishing (default: the SKU)")]


class _RichProgress:
    """Adapter from the library's Progress protocol to a rich progress bar."""

    def __init__(self, quiet: bool) -> None:
        from rich.progress import MofNCompleteColumn

        self.progress = clikit.progress_bar(MofNCompleteColumn(), width=8, quiet=quiet, transient=False)
        self.task: Any = None

    def start(self, stage: str, total: int | None) -> None:
        if self.task is not None:
            t = self.progress.tasks[-1]
            self.progress.update(self.task, completed=t.total if t.total is not None else 1, total=t.total or 1)
        self.task = self.progress.add_task(stage, total=total)

    def advance(self, amount: int = 1) -> None:
        if self.task is not None:
            self.progress.advance(self.task, amount)

    def __enter__(self) -> _RichProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.task is None:  # nothing was shown: no blank line (Progress.stop prints one when stderr is no terminal)
            self.progress.live.transient = True
            self.progress.live.stop()
            return
        if self.task is not None and not any(exc):
            t = self.progress.tasks[-1]
            self.progress.update(self.task, completed=t.total if t.total is not None else 1, total=t.total or 1)
        self.progress.__exit__(None, None, None)


def _logging(verbose: bool, quiet: bool) -> None:
    clikit.setup_logging(clikit.log_level(quiet, verbose))


def _fail(exc: BaseException) -> typer.Exit:
    if isinstance(exc, typer.Exit):  # already reported (a bad setting)
        return exc
    if isinstance(exc, ScanError):
        return clikit.fail(exc, 2)
    logging.getLogger("scanning").debug("internal error", exc_info=exc)
    err.print(f"internal error: {type(exc).__name__} (run with --verbose for details)", markup=False)
    return typer.Exit(1)


def _check_publish(sku: str | None, category: str | None) -> AssetSettings | None:
    """Refuse a bad --sku/--category (or bad PHYGITAL_ASSETS_* settings) before the reconstruction starts;
    returns the asset settings publishing will use (None without --sku)."""
    from assets_pipeline.settings import AssetSettings
    from scanning.handoff import check_publish_target

    if sku is not None:
        check_publish_target(sku, category)
        return clikit.load_settings(AssetSettings, "PHYGITAL_ASSETS_")
    if category is not None:
        raise ScanError("only applies with --sku", field="--category")
    return None


def _finish(
    mesh: Any,
    report: Any,
    output: Path,
    report_path: Path | None,
    quiet: bool,
    name: str,
    texture_size: int | None = None,
    sku: str | None = None,
    category: str | None = None,
    product_name: str | None = None,
    asset_settings: AssetSettings | None = None,
) -> None:
    from scanning.handoff import publish_product, write_product
    from scanning.reconstruct import write_report

    published = None
    t0 = time.perf_counter()
    with _RichProgress(quiet) as progress:  # the atlas alone can take tens of seconds: show its stages
        if sku is None or asset_settings is None:
            handoff = write_product(mesh, output, name=name, texture_size=texture_size, progress=progress)
        else:
            handoff, published = publish_product(mesh, output, sku, category, settings=asset_settings, name=name,
                                                 product_name=product_name, texture_size=texture_size,
                                                 progress=progress)  # fmt: skip
    # the hand-off (texture atlas, optimize, write) and publishing count in the reported time
    elapsed = time.perf_counter() - t0
    if "texture" in handoff.seconds:
        report.seconds["texture"] = handoff.seconds["texture"]
    report.seconds["handoff"] = handoff.seconds["total"]
    if published is not None:
        report.seconds["publish"] = round(elapsed - handoff.seconds["total"], 3)
    report.seconds["total"] = round(report.seconds.get("total", 0.0) + elapsed, 3)
    report.output = {
        "path": str(output),
        "bytes": handoff.bytes,
        "triangles": handoff.triangles,
        "dimensions_m": handoff.dimensions_m,
        "texture_size": texture_size,
    }
    if published is not None:
        report.output["published"] = {
            "sku": published.sku,
            "version": published.version,
            "store": published.store,
            "objects": [{"format": o.format, "lod": o.lod, "key": o.key, "bytes": o.bytes} for o in published.objects],
        }
    if report_path is not None:
        write_report(report, report_path)
    if not quiet:
        dims = " x ".join(f"{d * 100:.1f}" for d in report.dimensions_m)
        out.print(
            f"{output}: {handoff.triangles} triangles, {dims} cm (w x h x d), "
            f"{'watertight' if report.watertight else 'not watertight'}, {handoff.bytes} bytes, "
            f"{report.seconds.get('total', 0):.1f} s",
            markup=False,
            highlight=False,
        )
        if published is not None:
            formats = ", ".join(sorted({o.format for o in published.objects}))
            out.print(
                f"published {published.sku} version {published.version}: {len(published.objects)} objects "
                f"({formats}) in {published.store}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )


def _parse_box(text: str | None) -> tuple[float, float, float, float, float, float] | None:
    """``x0,y0,z0,x1,y1,z1`` -> six floats with a positive size along each axis (None stays None)."""
    if text is None:
        return None
    try:
        v = [float(p) for p in text.split(",")]
    except ValueError:
        v = []
    if len(v) != 6 or not all(np.isfinite(v)):
        raise ScanError("expected six numbers x0,y0,z0,x1,y1,z1 (meters)", field="--region")
    if not all(v[k + 3] > v[k] for k in range(3)):
        raise ScanError("x1, y1, z1 must be larger than x0, y0, z0", field="--region")
    return v[0], v[1], v[2], v[3], v[4], v[5]


def _print_object(info: dict[str, Any]) -> None:
    """Which object was reconstructed and why, and the others found (the numbers --object takes)."""
    from scanning.region import Candidate

    cands = [Candidate(**{**c, "size": tuple(c["size"]), "centre": tuple(c["centre"])})
             for c in info.get("candidates", [])]
    chosen = info.get("chosen", 0)
    if chosen:
        out.print(f"object {cands[chosen - 1].describe()} -- {info['reason']}", markup=False, highlight=False,
                  soft_wrap=True)
    else:
        out.print(f"object: {info.get('reason', '')}", markup=False, highlight=False)
    others = [c for c in cands if c.number != chosen]
    for c in others:
        out.print(f"  other {c.describe()}", markup=False, highlight=False, soft_wrap=True)
    if others:
        out.print("  (choose another with --object N or --region x0,y0,z0,x1,y1,z1)", markup=False,
                  highlight=False)


@app.command()
def fuse(
    folder: Annotated[Path, typer.Argument(help="capture folder: our layout, TUM RGB-D or Open3D/Redwood")],
    output: Annotated[Path, typer.Option("-o", "--output", help="GLB to write")],
    report: Annotated[Path | None, typer.Option("--report", help="also write a JSON report here")] = None,
    poses: Annotated[PoseChoice, typer.Option(help="auto: use poses when the capture has them")] = PoseChoice.auto,
    method: Annotated[
        MethodChoice, typer.Option(help="carve: watertight; scalable: Open3D's volume")
    ] = MethodChoice.carve,
    voxels: Annotated[int | None, typer.Option(
        help="fusion voxels across the object's diagonal (default: PHYGITAL_SCAN_VOXELS_ACROSS, 200)")] = None,
    object_number: Annotated[
        int | None,
        typer.Option("--object", help="reconstruct this object of the list printed (1 = the most depth points) "
                     "instead of the one chosen by the rule"),
    ] = None,
    region: Annotated[
        str | None,
        typer.Option("--region", metavar="X0,Y0,Z0,X1,Y1,Z1", help="reconstruct the largest object inside this "
                     "box (meters, the capture's frame: the poses' world, or the first camera's when poses are "
                     "estimated)"),
    ] = None,
    triangles: Annotated[int | None, typer.Option(
        help="simplify to about this many triangles (default: PHYGITAL_SCAN_TARGET_TRIANGLES, 60000)")] = None,
    texture_size: TextureOption = None,
    sku: SkuOption = None,
    category: CategoryOption = None,
    name: NameOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress, no summary")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="debug logging")] = False,
) -> None:
    """Fuse an RGB-D capture folder into a watertight, colored product GLB."""
    from scanning.cleanup import CleanupOptions
    from scanning.fusion import FusionOptions
    from scanning.reconstruct import CaptureOptions, reconstruct_capture
    from scanning.region import RegionOptions
    from scanning.settings import ScanSettings

    _logging(verbose, quiet)
    try:
        asset_settings = _check_publish(sku, category)
        settings = clikit.load_settings(ScanSettings, "PHYGITAL_SCAN_")
        if object_number is not None and region is not None:
            raise ScanError("give either --object or --region, not both", field="--object")
        opts = CaptureOptions(
            poses=poses.value,  # type: ignore[arg-type]
            region=RegionOptions(select=object_number, box=_parse_box(region)),
            fusion=FusionOptions(voxels_across=voxels or settings.voxels_across, method=method.value),  # type: ignore[arg-type]
            cleanup=CleanupOptions(target_triangles=triangles or settings.target_triangles),
            max_frames=settings.max_frames,
        )
        with _RichProgress(quiet) as progress:
            mesh, rep = reconstruct_capture(folder, opts, progress)
        if not quiet:
            _print_object(rep.object)
        _finish(mesh, rep, output, report, quiet, folder.resolve().name or "scan", texture_size, sku, category, name,
                asset_settings)
    except Exception as exc:
        raise _fail(exc) from None


@app.command()
def mesh(
    cloud: Annotated[Path, typer.Argument(help="point cloud: .ply, .pcd or .xyz, with or without normals")],
    output: Annotated[Path, typer.Option("-o", "--output", help="GLB to write")],
    report: Annotated[Path | None, typer.Option("--report", help="also write a JSON report here")] = None,
    up: Annotated[UpChoice, typer.Option(help="the cloud's up axis when no table plane is found")] = UpChoice.y,
    scale: Annotated[float, typer.Option(help="multiply coordinates by this to get meters")] = 1.0,
    triangles: Annotated[int | None, typer.Option(
        help="simplify to about this many triangles (default: PHYGITAL_SCAN_TARGET_TRIANGLES, 60000)")] = None,
    texture_size: TextureOption = None,
    sku: SkuOption = None,
    category: CategoryOption = None,
    name: NameOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress, no summary")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="debug logging")] = False,
) -> None:
    """Surface a point cloud (Poisson, density trimming, cleanup) into a product GLB."""
    from scanning.cleanup import CleanupOptions
    from scanning.reconstruct import CloudOptions, reconstruct_cloud
    from scanning.settings import ScanSettings
    from scanning.surface import SurfaceOptions

    _logging(verbose, quiet)
    try:
        if not scale > 0:
            raise ScanError("must be a positive number", field="--scale")
        asset_settings = _check_publish(sku, category)
        settings = clikit.load_settings(ScanSettings, "PHYGITAL_SCAN_")
        opts = CloudOptions(
            surface=SurfaceOptions(depth=settings.poisson_depth),
            cleanup=CleanupOptions(target_triangles=triangles or settings.target_triangles),
            up=up.value,
            scale=scale,
            max_points=settings.max_cloud_points,
        )  # type: ignore[arg-type]
        with _RichProgress(quiet) as progress:
            m, rep = reconstruct_cloud(cloud, opts, progress)
        _finish(m, rep, output, report, quiet, cloud.stem, texture_size, sku, category, name, asset_settings)
    except Exception as exc:
        raise _fail(exc) from None


@app.command()
def synth(
    model: Annotated[Path, typer.Argument(help="mesh to scan (OBJ, PLY, STL, GLB), Y-up")],
    output: Annotated[Path, typer.Option("-o", "--output", help="capture folder to create (must not exist)")],
    views: Annotated[int, typer.Option(min=2, max=720, help="number of frames")] = 36,
    width: Annotated[int, typer.Option(min=16, max=4096, help="image width, pixels")] = 640,
    height: Annotated[int, typer.Option(min=16, max=4096, help="image height, pixels")] = 480,
    path: Annotated[PathChoice, typer.Option(help="camera path")] = PathChoice.turntable,
    size: Annotated[float, typer.Option(help="object's largest side in meters")] = 0.2,
    noise: Annotated[float, typer.Option(help="depth noise multiplier (0: exact depth)")] = 1.0,
    no_poses: Annotated[bool, typer.Option("--no-poses", help="leave poses.json out")] = False,
    seed: Annotated[int, typer.Option(help="random seed (camera jitter, depth noise)")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress, no summary")] = False,
) -> None:
    """Render a synthetic RGB-D capture of a mesh on a table (with truth.ply), for trying and benchmarking."""
    from scanning.frames import check_new_folder
    from scanning.synthetic import NoiseModel, SynthOptions, synthesize

    _logging(False, quiet)
    try:
        if not (size > 0 and noise >= 0):
            raise ScanError("size must be positive and noise non-negative", field="--size/--noise")
        check_new_folder(output)  # before rendering every view, not after
        nm = NoiseModel(scale=noise) if noise > 0 else NoiseModel.none()
        opts = SynthOptions(
            views=views,
            width=width,
            height=height,
            path=path.value,  # type: ignore[arg-type]
            object_size=size,
            noise=nm,
            seed=seed,
        )
        with _RichProgress(quiet) as progress:
            progress.start("render", views)
            cap = synthesize(model, opts, lambda n: progress.advance(n))
        cap.write(output, with_poses=not no_poses)
        if not quiet:
            out.print(
                f"{output}: {views} frames {width}x{height}, poses {'omitted' if no_poses else 'written'}",
                markup=False,
                highlight=False,
            )
    except Exception as exc:
        raise _fail(exc) from None


def main() -> None:
    """Entry point of ``phygital-scan`` and ``python -m scanning``."""
    clikit.run(app)


__all__ = ["app", "main"]
