"""Catalog commands on the ``assets_pipeline`` CLI: upload, tryon, list, show, rollback, delete, token, serve,
init-store.

Store and catalog come from the settings (``PHYGITAL_ASSETS_STORE``, ``..._STORE_PATH``, ``..._S3_*``,
``..._CATALOG_URL``/``..._CATALOG_PATH``). Bad input ends with one stderr line and exit code 2.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .cli import _fail, _setup_logging, app, err, out
from .errors import AssetError

if TYPE_CHECKING:
    from .publish import PublishReport
    from .service import AssetService
    from .settings import AssetSettings


def _settings() -> AssetSettings:
    from pydantic import ValidationError

    from .settings import AssetSettings

    try:
        return AssetSettings()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        err.print(f"[bold red]error:[/] setting PHYGITAL_ASSETS_{field.upper()}: {first['msg']}", highlight=False)
        raise typer.Exit(2) from None


@contextmanager
def _service() -> Iterator[AssetService]:
    """The store and catalog for one command; an AssetError ends it with one line and exit code 2."""
    service = _open()
    try:
        yield service
    except AssetError as exc:
        _fail(exc)
    finally:
        service.close()


def _open() -> AssetService:
    from .service import AssetService

    try:
        return AssetService.open(_settings())
    except AssetError as exc:
        _fail(exc)
        raise


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 100_000 else f"{n:,} B"


@app.command()
def upload(
    model: Annotated[Path, typer.Argument(help="Model to publish: .obj (+.mtl), .stl, .ply, .gltf or .glb.")],
    sku: Annotated[str, typer.Option(help="Product SKU (letters, digits, '.', '_', '-').")],
    category: Annotated[str, typer.Option(help="shoes|apparel|makeup|furniture|accessory")],
    name: Annotated[str | None, typer.Option(help="Product name (default: the SKU; kept from before).")] = None,
    variant: Annotated[list[str] | None, typer.Option(
        help="NAME=VALUE, repeatable; VALUE naming one of the model's KHR_materials_variants maps to it. "
             "Default: the model's own variants.")] = None,
    note: Annotated[str | None, typer.Option(help="Free text kept with the version.")] = None,
    lods: Annotated[str, typer.Option(help="LOD ratios after the full model.")] = "0.5,0.25,0.1",
    texture_format: Annotated[str, typer.Option(help="webp|keep|png|jpeg")] = "webp",
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Optimize a model and publish it (GLB, LODs, USDZ, thumbnail) as the next version of a product."""
    from .catalog.repository import parse_category
    from .cli import _ratios
    from .publish import PublishOptions, PublishRequest, publish

    _setup_logging(verbose)
    if texture_format not in ("webp", "keep", "png", "jpeg"):
        raise typer.BadParameter("expected webp, keep, png or jpeg", param_hint="--texture-format")
    options = PublishOptions(lods=_ratios(lods), texture_format=texture_format)
    try:
        request = PublishRequest(model, sku, parse_category(category), name, tuple(variant or ()), note)
    except AssetError as exc:
        _fail(exc)
        return
    with _service() as service:
        if quiet or json_out:
            report = publish(request, service.store, service.catalog, limits=service.settings.limits(),
                             options=options)
        else:
            report = _publish_with_progress(request, service, options)
    if json_out:
        from dataclasses import asdict

        sys.stdout.write(json.dumps(asdict(report)) + "\n")
    elif not quiet:
        _publish_summary(report)


def _publish_with_progress(request: object, service: AssetService, options: object) -> PublishReport:
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn, TransferSpeedColumn

    from .publish import PublishHooks, PublishOptions, PublishRequest, publish

    assert isinstance(request, PublishRequest) and isinstance(options, PublishOptions)
    with Progress(TextColumn("{task.description:<22}"), BarColumn(), TimeElapsedColumn(), console=err,
                  transient=True) as bar:
        opt = bar.add_task("optimizing", total=1)
        state: dict[str, int] = {}

        def step(what: str, done: int, total: int) -> None:
            bar.update(opt, description=what, completed=done, total=total)

        def transfer_start(total: int) -> None:
            bar.update(opt, description="optimized", completed=1, total=1)
            state["task"] = bar.add_task(f"uploading {_mb(total)}", total=total)
            bar.columns = (*bar.columns, DownloadColumn(), TransferSpeedColumn())

        def transfer(n: int) -> None:
            bar.advance(state["task"], n)

        return publish(request, service.store, service.catalog, limits=service.settings.limits(),
                       options=options, hooks=PublishHooks(step, transfer_start, transfer))


def _publish_summary(report: PublishReport) -> None:
    from rich.table import Table

    table = Table(title=f"{report.sku} version {report.version}", title_justify="left")
    for col in ("object", "lod", "bytes", "sha256", "stored"):
        table.add_column(col, justify="right" if col in ("lod", "bytes") else "left")
    for o in report.objects:
        table.add_row(o.format, str(o.lod), f"{o.bytes:,}", o.sha256[:16], "new" if o.created else "already there")
    out.print(table)
    w, h, d = report.dimensions_m
    out.print(f"stored in: {report.store}", highlight=False, soft_wrap=True)
    out.print(f"dimensions: {w:.4g} x {h:.4g} x {d:.4g} m (w x h x d)   uploaded {_mb(report.bytes_uploaded)}, "
              f"reused {_mb(report.bytes_reused)}   time: {report.seconds:.1f} s", highlight=False)
    if report.variants:
        out.print("variants: " + ", ".join(
            f"{v['name']}" + (f" (KHR #{v['khr_index']})" if v["khr_index"] is not None else "")
            for v in report.variants), highlight=False)
    for warning in report.warnings:
        err.print(f"[yellow]warning:[/] {warning}", highlight=False)


@app.command("list")
def list_products(
    query: Annotated[str | None, typer.Argument(help="Text in the SKU or name.")] = None,
    category: Annotated[str | None, typer.Option(help="shoes|apparel|makeup|furniture|accessory")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List published products."""
    from rich.table import Table

    from .catalog.repository import parse_category

    with _service() as service:
        rows, total = service.catalog.search(query, parse_category(category) if category else None,
                                             limit=limit, offset=offset)
    if json_out:
        sys.stdout.write(json.dumps({"total": total, "items": [
            {"sku": p.sku, "name": p.name, "category": p.category.value, "current_version": p.current_version,
             "dimensions_m": [p.width_m, p.height_m, p.depth_m], "tryon": p.tryon} for p in rows]}) + "\n")
        return
    table = Table(title=f"{total} product(s)", title_justify="left")
    for col in ("sku", "name", "category", "version", "w x h x d (m)"):
        table.add_column(col)
    for p in rows:
        dims = "" if p.width_m is None else f"{p.width_m:.3g} x {p.height_m:.3g} x {p.depth_m:.3g}"
        table.add_row(p.sku, p.name, p.category.value, str(p.current_version or "-"), dims)
    out.print(table)


@app.command()
def show(
    sku: Annotated[str, typer.Argument(help="Product SKU.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a product: its versions and the objects of the current one."""
    from rich.table import Table

    with _service() as service:
        product = service.catalog.get(sku)
    versions = [{"number": v.number, "created_at": v.created_at.isoformat(), "source": v.source_name,
                 "dimensions_m": [v.width_m, v.height_m, v.depth_m], "note": v.note,
                 "variants": [x.name for x in v.variants],
                 "assets": [{"format": a.format.value, "lod": a.lod, "bytes": a.bytes, "sha256": a.sha256,
                             "key": a.storage_key} for a in v.assets]} for v in product.versions]
    if json_out:
        sys.stdout.write(json.dumps({"sku": product.sku, "name": product.name, "category": product.category.value,
                                     "current_version": product.current_version, "tryon": product.tryon,
                                     "versions": versions}) + "\n")
        return
    current = f"  current version: {product.current_version}" if product.current_version is not None else ""
    out.print(f"[bold]{product.sku}[/]  {product.name}  ({product.category.value}){current}", highlight=False)
    if product.tryon:
        out.print(f"try-on: {_tryon_text(product.tryon)}", highlight=False)
    if not versions:
        out.print("no published 3D model", highlight=False)
        return
    table = Table(title_justify="left")
    for col in ("version", "created", "source", "w x h x d (m)", "objects", "bytes", "variants"):
        table.add_column(col)
    for v in versions:
        mark = " *" if v["number"] == product.current_version else ""
        w, h, d = v["dimensions_m"]  # type: ignore[misc]
        table.add_row(f"{v['number']}{mark}", str(v["created_at"])[:19], str(v["source"]),
                      f"{w:.3g} x {h:.3g} x {d:.3g}", str(len(v["assets"])),  # type: ignore[arg-type]
                      f"{sum(a['bytes'] for a in v['assets']):,}", ", ".join(v["variants"]))  # type: ignore
    out.print(table)


def _tryon_text(attrs: dict[str, object]) -> str:
    return "  ".join(f"{k}={v}" for k, v in attrs.items())


@app.command("tryon")
def tryon_attributes(
    sku: Annotated[str, typer.Argument(help="Product SKU; a new SKU becomes a product without a 3D model.")],
    kind: Annotated[str | None, typer.Option(
        help="lipstick|eyeshadow|eyeliner|blush|brows|foundation|shoes")] = None,
    shade: Annotated[str | None, typer.Option(help="sRGB colour as #RRGGBB.")] = None,
    finish: Annotated[str | None, typer.Option(help="matte|gloss|shimmer|metallic")] = None,
    intensity: Annotated[float | None, typer.Option(help="0 to 1.")] = None,
    wing: Annotated[bool | None, typer.Option("--wing/--no-wing", help="Eyeliner: draw a wing.")] = None,
    style: Annotated[str | None, typer.Option(help="Shoes without a model: sneaker|boot.")] = None,
    toe_axis: Annotated[str | None, typer.Option(help="Shoes: the model's heel-to-toe axis (+x..-z).")] = None,
    up_axis: Annotated[str | None, typer.Option(help="Shoes: the model's sole-to-opening axis (+x..-z).")] = None,
    name: Annotated[str | None, typer.Option(help="Product name (new products: default the SKU).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the product's attributes as JSON.")] = False,
) -> None:
    """Set a product's try-on attributes (merged into what it has); a new SKU is created as makeup or shoes."""
    from .publish import check_sku

    given = {"kind": kind, "shade": shade, "finish": finish, "intensity": intensity, "wing": wing, "style": style,
             "toe_axis": toe_axis, "up_axis": up_axis}
    attrs = {k: v for k, v in given.items() if v is not None}
    try:
        check_sku(sku)
    except AssetError as exc:
        _fail(exc)
        return
    with _service() as service:
        product = service.catalog.set_tryon(sku, attrs, name)
    if json_out:
        sys.stdout.write(json.dumps({"sku": product.sku, "category": product.category.value,
                                     "tryon": product.tryon}) + "\n")
        return
    out.print(f"{product.sku} ({product.category.value}): {_tryon_text(product.tryon or {})}", highlight=False)


@app.command()
def rollback(
    sku: Annotated[str, typer.Argument(help="Product SKU.")],
    version: Annotated[int, typer.Argument(min=1, help="Version number to make current again.")],
) -> None:
    """Make an earlier version of a product current again (versions themselves never change)."""
    with _service() as service:
        service.catalog.rollback(sku, version)
    out.print(f"{sku}: current version is now {version}", highlight=False)


@app.command()
def delete(
    sku: Annotated[str, typer.Argument(help="Product SKU.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
) -> None:
    """Delete a product and every version; objects no other product uses are removed from the store."""
    from .publish import delete_product

    with _service() as service:
        service.catalog.get(sku)
        if not yes and not typer.confirm(f"delete {sku} and all its versions?", err=True):
            raise typer.Exit(1)
        removed = delete_product(sku, service.store, service.catalog)
    out.print(f"deleted {sku}; removed {removed} object(s) from the store", highlight=False)


@app.command()
def token(
    subject: Annotated[str, typer.Argument(help="Who the token is for (kept in the token).")],
    role: Annotated[str, typer.Option(help="artist (may upload) or reader")] = "artist",
    ttl: Annotated[float, typer.Option(min=1, help="Seconds until the token expires.")] = 30 * 24 * 3600.0,
) -> None:
    """Mint an API token signed with PHYGITAL_ASSETS_API_TOKEN_SECRET."""
    from .tokens import TokenClaims, sign

    settings = _settings()
    if settings.api_token_secret is None:
        err.print("[bold red]error:[/] PHYGITAL_ASSETS_API_TOKEN_SECRET is not set", highlight=False)
        raise typer.Exit(2)
    try:
        tok = sign(TokenClaims(subject, role, time.time() + ttl), settings.api_token_secret.get_secret_value().encode())
    except AssetError as exc:
        _fail(exc)
        return
    sys.stdout.write(tok + "\n")


@app.command("init-store")
def init_store() -> None:
    """Prepare the configured store: create the local folder, or the S3 bucket if it is missing."""
    from .store import open_store
    from .store.s3 import S3Store

    settings = _settings()
    try:
        store = open_store(settings)
        if isinstance(store, S3Store):
            created = store.create_bucket()
            out.print(f"{store.describe()}: {'created' if created else 'bucket exists'}", highlight=False)
        else:
            Path(store.describe()).mkdir(parents=True, exist_ok=True)
            out.print(f"{store.describe()}: ready", highlight=False)
    except AssetError as exc:
        _fail(exc)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Bind address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535)] = 8710,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Warnings and errors only.")] = False,
) -> None:
    """Serve the catalog HTTP API alone (OpenAPI docs at /docs)."""
    import uvicorn

    from .api import create_app

    service = _open()
    uvicorn.run(create_app(service=service), host=host, port=port, log_level="warning" if quiet else "info")
