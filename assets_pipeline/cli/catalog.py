"""``list``, ``show`` and ``tryon``: reading the catalog, and setting a product's try-on attributes."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.text import Text

from .. import clikit
from ..categories import Category
from ..report import round_size
from .common import asset_errors, out, service

app = clikit.App()


def _sizes(*meters: float | None) -> list[float | None]:
    """A stored width, height, depth as shown: to 0.1 mm (None where the product has no version yet)."""
    return [None if m is None else round_size(m) for m in meters]


@app.command("list")
def list_products(
    query: Annotated[str | None, typer.Argument(help="Text in the SKU or name.")] = None,
    category: Annotated[Category | None, typer.Option(help="Only this category.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Products to list.")] = 100,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many first.")] = 0,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List published products."""
    from rich.table import Table

    from ..catalog.repository import parse_category

    with service() as opened:
        rows, total = opened.catalog.search(query, parse_category(category) if category else None,
                                            limit=limit, offset=offset)
    if json_out:
        sys.stdout.write(json.dumps({"total": total, "items": [
            {"sku": p.sku, "name": p.name, "category": p.category.value, "current_version": p.current_version,
             "dimensions_m": _sizes(p.width_m, p.height_m, p.depth_m), "tryon": p.tryon} for p in rows]}) + "\n")
        return
    table = Table(title=f"{total} product(s)", title_justify="left")
    for col in ("sku", "name", "category", "version", "w x h x d (m)"):
        table.add_column(col)
    for p in rows:
        dims = "" if p.width_m is None else f"{p.width_m:.3g} x {p.height_m:.3g} x {p.depth_m:.3g}"
        table.add_row(p.sku, p.name, p.category.value, str(p.current_version or "-"), dims)
    clikit.print_table(table)


@app.command()
def show(
    sku: Annotated[str, typer.Argument(help="Product SKU.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a product: its versions and the objects of the current one."""
    from rich.table import Table

    with service() as opened:
        product = opened.catalog.get(sku)
    versions = [{"number": v.number, "created_at": v.created_at.isoformat(), "source": v.source_name,
                 "dimensions_m": _sizes(v.width_m, v.height_m, v.depth_m), "note": v.note,
                 "variants": [x.name for x in v.variants],
                 "assets": [{"format": a.format.value, "lod": a.lod, "variant": a.variant, "bytes": a.bytes,
                             "sha256": a.sha256, "key": a.storage_key} for a in v.assets]} for v in product.versions]
    if json_out:
        sys.stdout.write(json.dumps({"sku": product.sku, "name": product.name, "category": product.category.value,
                                     "current_version": product.current_version, "tryon": product.tryon,
                                     "versions": versions}) + "\n")
        return
    current = f"  current version: {product.current_version}" if product.current_version is not None else ""
    out.print(Text.assemble((product.sku, "bold"), f"  {product.name}  ({product.category.value}){current}"),
              highlight=False, soft_wrap=True)
    if product.tryon:
        out.print(f"try-on: {_tryon_text(product.tryon)}", highlight=False, soft_wrap=True, markup=False)
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
    clikit.print_table(table)


def _tryon_text(attrs: dict[str, object]) -> str:
    return "  ".join(f"{k}={v}" for k, v in attrs.items())


@app.command("tryon")
def tryon_attributes(
    sku: Annotated[str, typer.Argument(help="Product SKU; a new SKU becomes a product without a 3D model.")],
    kind: Annotated[str | None, typer.Option(
        help="lipstick, eyeshadow, eyeliner, blush, brows, foundation or shoes.")] = None,
    shade: Annotated[str | None, typer.Option(help="sRGB colour as #RRGGBB.")] = None,
    finish: Annotated[str | None, typer.Option(help="matte, gloss, shimmer or metallic.")] = None,
    intensity: Annotated[float | None, typer.Option(help="0 to 1.")] = None,
    wing: Annotated[bool | None, typer.Option("--wing/--no-wing", help="Eyeliner: draw a wing.")] = None,
    style: Annotated[str | None, typer.Option(help="Shoes without a model: sneaker or boot.")] = None,
    toe_axis: Annotated[str | None, typer.Option(help="Shoes: the model's heel-to-toe axis (+x..-z).")] = None,
    up_axis: Annotated[str | None, typer.Option(help="Shoes: the model's sole-to-opening axis (+x..-z).")] = None,
    name: Annotated[str | None, typer.Option(help="Product name (new products: default the SKU).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the product's attributes as JSON.")] = False,
) -> None:
    """Set a product's try-on attributes (merged into what it has); a new SKU is created as makeup or shoes."""
    from ..publish import check_sku

    given = {"kind": kind, "shade": shade, "finish": finish, "intensity": intensity, "wing": wing, "style": style,
             "toe_axis": toe_axis, "up_axis": up_axis}
    attrs = {k: v for k, v in given.items() if v is not None}
    with asset_errors():
        check_sku(sku)
    with service() as opened:
        product = opened.catalog.set_tryon(sku, attrs, name)
    if json_out:
        sys.stdout.write(json.dumps({"sku": product.sku, "category": product.category.value,
                                     "tryon": product.tryon}) + "\n")
        return
    out.print(f"{product.sku} ({product.category.value}): {_tryon_text(product.tryon or {})}", highlight=False)

