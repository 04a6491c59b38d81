"""``optimize``, ``validate`` and ``inspect``: one model file in, GLBs or a description out."""

from __future__ import annotations

import dataclasses
import json
import math
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .. import clikit
from ..categories import LOD_TEXTURES_HELP, TEXTURE_MAX_SIZE_HELP, TEXTURE_MAX_SIZE_MIN
from ..errors import AssetError
from ..io.atomic import check_target
from .common import asset_errors, out, ratios, settings, setup_logging

if TYPE_CHECKING:
    from ..report import OptimizeReport

app = clikit.App()


class Compression(StrEnum):
    """``--compression``: meshopt (default), Draco or none."""
    meshopt = "meshopt"
    draco = "draco"
    none = "none"


class TextureFormat(StrEnum):
    """``--texture-format``: WebP (default), keep the originals, PNG or JPEG."""
    webp = "webp"
    keep = "keep"
    png = "png"
    jpeg = "jpeg"


class UnitsChoice(StrEnum):
    """``--units``: the unit the input model is in."""
    m = "m"
    cm = "cm"
    mm = "mm"
    inch = "in"
    ft = "ft"


class Up(StrEnum):
    """``--up``: the input's up axis."""
    y = "y"
    z = "z"


class Pivot(StrEnum):
    """``--pivot``: where the origin goes (bottom center, center, or kept)."""
    bottom_center = "bottom-center"
    center = "center"
    keep = "keep"


TextureMaxSize = Annotated[int | None, typer.Option(min=TEXTURE_MAX_SIZE_MIN, help=TEXTURE_MAX_SIZE_HELP)]
"""--texture-max-size, for optimize and upload alike."""
LodTextures = Annotated[bool, typer.Option("--lod-textures/--no-lod-textures", help=LOD_TEXTURES_HELP)]
"""--lod-textures/--no-lod-textures, for optimize and upload alike."""


@app.command()
def optimize(
    input: Annotated[Path, typer.Argument(help="Model to convert: .obj (+.mtl), .stl, .ply, .gltf or .glb.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="GLB file to write.")],
    report: Annotated[Path | None, typer.Option(help="Write a JSON report (sizes, triangles, errors, "
                                                     "timings) to this file.")] = None,
    ratio: Annotated[float | None, typer.Option(min=0.0, max=1.0,
                                                help="Simplify to this fraction of triangles (default: "
                                                     "no simplification).")] = None,
    error: Annotated[float, typer.Option(min=0.0, help="Largest simplification error, measured, as a "
                                                       "fraction of the model's diagonal.")] = 0.01,
    lods: Annotated[str | None, typer.Option(help="Also write LODs next to the output, e.g. "
                                                  "'0.5,0.25,0.1' -> NAME.lod1.glb ...")] = None,
    lock_border: Annotated[bool, typer.Option(help="Keep open borders fixed while simplifying.")] = False,
    normals: Annotated[bool, typer.Option("--normals", help="Generate smooth normals where missing "
                                                           "(default: viewers shade such meshes flat).")] = False,
    tangents: Annotated[bool, typer.Option("--tangents", help="Generate tangents where a normal map "
                                                              "needs them.")] = False,
    quantize: Annotated[bool, typer.Option(help="Quantize vertex attributes (KHR_mesh_quantization).")] = True,
    position_bits: Annotated[int, typer.Option(min=8, max=16, help="Quantized position bits.")] = 14,
    normal_bits: Annotated[int, typer.Option(min=4, max=16, help="Quantized normal bits (octahedral).")] = 8,
    texcoord_bits: Annotated[int, typer.Option(min=8, max=16, help="Quantized UV bits.")] = 12,
    compression: Annotated[Compression, typer.Option(help="Geometry compression.")] = Compression.meshopt,
    texture_format: Annotated[TextureFormat, typer.Option(help="Re-encode textures (WebP via "
                                                               "EXT_texture_webp).")] = TextureFormat.webp,
    texture_max_size: TextureMaxSize = None,
    lod_textures: LodTextures = True,
    texture_quality: Annotated[int, typer.Option(min=1, max=100, help="WebP/JPEG quality.")] = 80,
    texture_fallback: Annotated[bool, typer.Option(help="Keep the original images as a fallback for "
                                                        "viewers without WebP.")] = False,
    units: Annotated[UnitsChoice, typer.Option(help="Units of the input; the output is in meters.")] = UnitsChoice.m,
    up: Annotated[Up, typer.Option(help="Up axis of the input; the output is Y-up.")] = Up.y,
    pivot: Annotated[Pivot, typer.Option(help="Where the model's origin goes.")] = Pivot.bottom_center,
    weld: Annotated[bool, typer.Option(help="Merge identical vertices.")] = True,
    keyframes: Annotated[bool, typer.Option(
        help="Drop redundant animation keys and quantize keyframes within the --anim-* bounds "
             "(--no-keyframes keeps them as they are).")] = True,
    anim_rotation_error: Annotated[float, typer.Option(min=0.0, help="Largest animation rotation error, "
                                                                     "radians.")] = 1e-3,
    anim_translation_error: Annotated[float, typer.Option(min=0.0, help="Largest animation translation error, "
                                                                        "fraction of the model's diagonal.")] = 1e-4,
    anim_scale_error: Annotated[float, typer.Option(min=0.0, help="Largest animation scale error, "
                                                                  "relative.")] = 1e-4,
    keep_attributes: Annotated[bool, typer.Option(help="Keep texture coordinates that no texture reads "
                                                       "and flat-shading normals (dropped by default).")] = False,
    measure: Annotated[bool | None, typer.Option(
        "--measure/--no-measure", help="Measure each output's geometric error (default: when simplifying).",
        show_default=False)] = None,
    max_file_mb: Annotated[float | None, typer.Option(
        help="Refuse inputs larger than this (default: PHYGITAL_ASSETS_MAX_FILE_MB, 512).", show_default=False)] = None,
    validate_output: Annotated[bool, typer.Option("--validate", help=(
        "Run the Khronos validator on the outputs; on errors nothing is written, exit 2."))] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Optimize a model into an AR-ready GLB (meters, Y-up, pivot at the bottom center)."""
    setup_logging(verbose)
    if output.suffix.lower() not in ("", ".glb"):  # GLB bytes under a .gltf/.obj name fool the next tool
        with asset_errors():
            raise AssetError(f"optimize writes GLB (binary glTF): name it .glb, e.g. {output.with_suffix('.glb')}",
                             path=output, field="--output")
    limits = settings().limits()  # first: it says where the node tools are
    if ratio is not None or lods:  # the simplifier's node process starts while the pipeline loads
        from ..codecs import simplifier

        simplifier.start()
    from ..pipeline import OptimizeOptions, optimize_file
    from ..transforms.animation import AnimationOptions
    from ..transforms.ar_frame import FrameOptions
    from ..transforms.quantize import QuantizeOptions
    from ..transforms.textures import TextureOptions

    options = OptimizeOptions(
        weld=weld, keep_attributes=keep_attributes, generate_normals=normals, generate_tangents=tangents,
        ratio=ratio, error=error,
        lock_border=lock_border, lods=ratios(lods), quantize=quantize,
        quantization=QuantizeOptions(position_bits, normal_bits, texcoord_bits),
        compression=compression.value,  # type: ignore[arg-type]
        texture=TextureOptions(texture_format.value, texture_max_size, texture_quality,  # type: ignore[arg-type]
                               texture_fallback, lod_textures=lod_textures),
        frame=FrameOptions(units.value, up.value, pivot.value),  # type: ignore[arg-type]
        measure_error=measure,
        animation=(AnimationOptions(anim_rotation_error, anim_translation_error, anim_scale_error)
                   if keyframes else None),
    )
    if report is not None:
        with asset_errors():
            check_target(report, "--report", "report.json")
    if max_file_mb is not None:
        limits = dataclasses.replace(limits, max_file_bytes=int(max_file_mb * 1024 * 1024))
    with asset_errors():
        if quiet:
            result = optimize_file(input, output, options, limits, validate=validate_output)
        else:
            with clikit.progress_bar() as bar:
                task = bar.add_task(input.name, total=1)

                def progress(what: str, done: int, total: int) -> None:
                    bar.update(task, description=what, completed=done - 1, total=total)

                result = optimize_file(input, output, options, limits, progress, validate=validate_output)
    if report:
        from ..io.atomic import write_bytes_atomic

        write_bytes_atomic(report, json.dumps(result.to_dict(), indent=2).encode())
    if not quiet:
        _summary(result)


def _summary(result: OptimizeReport) -> None:
    from rich.table import Table

    table = Table(title=f"{Path(result.input).name} -> {Path(result.output or '').name}", title_justify="left")
    textured = any(lod.textures for lod in result.lods)
    for col in ("output", "triangles", "bytes", "error (% of diagonal)", *(["largest texture"] if textured else [])):
        table.add_column(col, justify="right" if col != "output" else "left")
    table.add_row("input", f"{result.triangles_in:,}", f"{result.bytes_in:,}", "", *([""] if textured else []))
    for lod in result.lods:
        largest = max(lod.textures, key=lambda wh: wh[0] * wh[1], default=None)
        table.add_row(Path(lod.path or "").name, f"{lod.triangles:,}", f"{lod.bytes:,}",
                      "" if lod.error is None else f"{lod.error * 100:.4f}",
                      *([f"{largest[0]}x{largest[1]}" if largest else ""] if textured else []))
    clikit.print_table(table)
    w, h, d = result.dimensions_m or [0.0, 0.0, 0.0]
    out.print(f"dimensions: {w:.4g} x {h:.4g} x {d:.4g} m (w x h x d)   extensions: "
              f"{', '.join(result.extensions_used) or 'none'}   time: {result.seconds:.2f} s")
    if result.animation is not None and result.animation.channels:
        a = result.animation
        out.print(f"animation: {a.channels} channels, {a.keys_in:,} -> {a.keys_out:,} keys, {a.bytes_in:,} -> "
                  f"{a.bytes_out:,} bytes before compression; max error: rotation "
                  f"{math.degrees(a.rotation_error_rad):.3f} deg, translation {a.translation_error * 100:.4f} % "
                  f"of diagonal, scale {a.scale_error * 100:.4f} %, weights {a.weight_error:.4f}",
                  highlight=False, soft_wrap=True)
    if result.flat_normals_dropped:
        out.print(f"normals: {result.flat_normals_dropped} flat-shaded primitive(s) written without NORMAL "
                  "(viewers compute flat normals; vertices welded)", highlight=False, soft_wrap=True)
    for warning in result.warnings:
        clikit.warn(warning)


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="glTF/GLB files to check with the Khronos validator.")],
) -> None:
    """Run the Khronos glTF-Validator; exit 1 if any file has errors."""
    from ..validation import validate as run_validator

    settings()
    with asset_errors():
        reports = run_validator(list(files))
    bad = 0
    for rep in reports:
        out.print(f"{rep.path}: {rep.errors} errors, {rep.warnings} warnings")
        for m in rep.messages[:10]:
            out.print(f"  {m.get('code')}: {m.get('message')} ({m.get('pointer', '')})", highlight=False)
        bad += rep.errors > 0
    raise typer.Exit(1 if bad else 0)


@app.command()
def inspect(model: Annotated[Path, typer.Argument(help="Model file to describe.")]) -> None:
    """Describe a model: meshes, triangles, materials, textures, extensions, dimensions."""
    from ..io.formats import read
    from ..transforms.ar_frame import dimensions

    limits = settings().limits()
    with asset_errors():
        doc = read(model, limits)
    g = doc.gltf
    extensions = list(g.get("extensionsUsed", []))
    if model.suffix.lower() in (".glb", ".gltf"):  # compression the reader decoded (and dropped) is the file's too
        from ..io.gltf import DECODED_EXTENSIONS, GLB_MAGIC, parse_glb, parse_json

        data = model.read_bytes()
        raw = parse_glb(data, model, limits)[0] if data[:4] == GLB_MAGIC else parse_json(data, model, limits)
        extensions += [e for e in raw.get("extensionsUsed", []) if e in DECODED_EXTENSIONS and e not in extensions]
    info = {
        "meshes": len(g.get("meshes", [])), "primitives": sum(1 for _ in doc.primitives()),
        "triangles": doc.triangle_count(), "vertices": sum(
            doc.accessors[p["attributes"]["POSITION"]].count for _, _, p in doc.primitives()
            if "POSITION" in p.get("attributes", {})),
        "materials": len(g.get("materials", [])), "textures": len(g.get("textures", [])),
        "images": len(doc.images), "nodes": len(g.get("nodes", [])), "skins": len(g.get("skins", [])),
        "animations": len(g.get("animations", [])), "extensions": extensions,
        "dimensions": dimensions(doc), "warnings": doc.warnings,
    }
    out.print_json(json.dumps(info))

