"""``upload``, ``rollback`` and ``delete``: the commands that change what is published.

Store and catalog come from the settings (``PHYGITAL_ASSETS_STORE``, ``..._STORE_PATH``, ``..._S3_*``,
``..._CATALOG_URL``/``..._CATALOG_PATH``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .. import clikit
from ..categories import Category
from .common import asset_errors, megabytes, out, ratios, service, setup_logging
from .optimize import LodTextures, TextureFormat, TextureMaxSize, UnitsChoice, Up

if TYPE_CHECKING:
    from ..publish import PublishOptions, PublishReport, PublishRequest
    from ..service import AssetService

app = clikit.App()


@app.command()
def upload(
    model: Annotated[Path, typer.Argument(help="Model to publish: .obj (+.mtl), .stl, .ply, .gltf or .glb.")],
    sku: Annotated[str, typer.Option(help="Product SKU (letters, digits, '.', '_', '-').")],
    category: Annotated[Category, typer.Option(help="Product category.")],
    name: Annotated[str | None, typer.Option(help="Product name (default: the SKU; kept from before).")] = None,
    variant: Annotated[list[str] | None, typer.Option(
        metavar="NAME=VALUE", help="A variant, repeatable; VALUE naming one of the model's KHR_materials_variants "
                                   "maps to it. Default: the model's own variants.")] = None,
    note: Annotated[str | None, typer.Option(help="Free text kept with the version.")] = None,
    lods: Annotated[str, typer.Option(help="LOD ratios after the full model.")] = "0.5,0.25,0.1",
    texture_format: Annotated[TextureFormat, typer.Option(help="Re-encode textures (WebP via EXT_texture_webp).")
                              ] = TextureFormat.webp,
    texture_max_size: TextureMaxSize = None,
    lod_textures: LodTextures = True,
    units: Annotated[UnitsChoice, typer.Option(help="Units of the model (published in meters).")] = UnitsChoice.m,
    up: Annotated[Up, typer.Option(help="Up axis of the model (published Y-up).")] = Up.y,
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Optimize a model and publish it (GLB, LODs, USDZ, thumbnail) as the next version of a product."""
    from ..catalog.repository import parse_category
    from ..publish import PublishOptions, PublishRequest, publish

    setup_logging(verbose)
    options = PublishOptions(lods=ratios(lods), texture_format=texture_format.value,
                             texture_max_size=texture_max_size, lod_textures=lod_textures, units=units.value,
                             up=up.value)
    with asset_errors():
        request = PublishRequest(model, sku, parse_category(category), name, tuple(variant or ()), note)
    with service() as opened:
        if quiet or json_out:
            report = publish(request, opened.store, opened.catalog, limits=opened.settings.limits(),
                             options=options)
        else:
            report = _publish_with_progress(request, opened, options)
    if json_out:
        from dataclasses import asdict

        sys.stdout.write(json.dumps(asdict(report)) + "\n")
    elif not quiet:
        _publish_summary(report)


def _publish_with_progress(request: PublishRequest, opened: AssetService, options: PublishOptions) -> PublishReport:
    from rich.progress import DownloadColumn, TransferSpeedColumn

    from ..publish import PublishHooks, publish

    with clikit.progress_bar(width=22) as bar:
        opt = bar.add_task("optimizing", total=1)
        state: dict[str, int] = {}

        def step(what: str, done: int, total: int) -> None:
            bar.update(opt, description=what, completed=done, total=total)

        def transfer_start(total: int) -> None:
            bar.update(opt, description="optimized", completed=1, total=1)
            state["task"] = bar.add_task(f"uploading {megabytes(total)}", total=total)
            bar.columns = (*bar.columns, DownloadColumn(), TransferSpeedColumn())

        def transfer(n: int) -> None:
            bar.advance(state["task"], n)

        return publish(request, opened.store, opened.catalog, limits=opened.settings.limits(),
                       options=options, hooks=PublishHooks(step, transfer_start, transfer))


def _publish_summary(report: PublishReport) -> None:
    from rich.table import Table

    table = Table(title=f"{report.sku} version {report.version}", title_justify="left")
    for col in ("object", "lod", "bytes", "sha256", "stored"):
        table.add_column(col, justify="right" if col in ("lod", "bytes") else "left")
    for o in report.objects:
        name = o.format if o.variant is None else f"{o.format} variant #{o.variant}"
        table.add_row(name, str(o.lod), f"{o.bytes:,}", o.sha256[:16], "new" if o.created else "already there")
    clikit.print_table(table)
    w, h, d = report.dimensions_m
    out.print(f"stored in: {report.store}", highlight=False, soft_wrap=True)
    out.print(f"dimensions: {w:.4g} x {h:.4g} x {d:.4g} m (w x h x d)   uploaded {megabytes(report.bytes_uploaded)}, "
              f"reused {megabytes(report.bytes_reused)}   time: {report.seconds:.1f} s", highlight=False)
    if report.variants:
        out.print("variants: " + ", ".join(
            f"{v['name']}" + (f" (KHR #{v['khr_index']})" if v["khr_index"] is not None else "")
            for v in report.variants), highlight=False)
    for warning in report.warnings:
        clikit.warn(warning)


@app.command()
def rollback(
    sku: Annotated[str, typer.Argument(help="Product SKU.")],
    version: Annotated[int, typer.Argument(min=1, help="Version number to make current again.")],
) -> None:
    """Make an earlier version of a product current again (versions themselves never change)."""
    with service() as opened:
        opened.catalog.rollback(sku, version)
    out.print(f"{sku}: current version is now {version}", highlight=False)


@app.command()
def delete(
    sku: Annotated[str, typer.Argument(help="Product SKU.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
) -> None:
    """Delete a product and every version; objects no other product uses are removed from the store."""
    from ..publish import delete_product

    with service() as opened:
        opened.catalog.get(sku)
        if not yes and not typer.confirm(f"delete {sku} and all its versions?", err=True):
            raise typer.Exit(1)
        removed = delete_product(sku, opened.store, opened.catalog)
    out.print(f"deleted {sku}; removed {removed} object(s) from the store", highlight=False)
