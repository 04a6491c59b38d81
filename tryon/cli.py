"""Command line: ``python -m tryon image|video``.

Bad input (missing or corrupt file, invalid look) exits with status 2 and one line on stderr.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import numpy as np
import typer
from rich.console import Console
from rich.progress import MofNCompleteColumn, TimeRemainingColumn

from assets_pipeline import clikit
from tryon.errors import InvalidInput, TryOnError
from tryon.settings import TryOnSettings

if TYPE_CHECKING:
    from tryon.look import Look

app = clikit.make_app(
    "tryon",
    "Virtual try-on: apply a look (lipstick, eye makeup, blush, foundation, shoes) to photos and videos.\n\n"
    "A look is a JSON list of products, e.g. samples/looks/red_matte_lipstick.json.",
)
err = Console(stderr=True)
out = clikit.out
logger = logging.getLogger("tryon.cli")

LookOpt = Annotated[Path, typer.Option("--look", "-l", help="look JSON: a list of products")]
OutOpt = Annotated[Path, typer.Option("--output", "-o", help="output file")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="only errors on stderr, no progress")]
CatalogOpt = Annotated[
    str | None,
    typer.Option(
        "--catalog",
        help="product catalog database URL for look entries naming a SKU "
        "(default: PHYGITAL_ASSETS_CATALOG_URL, else PHYGITAL_ASSETS_CATALOG_PATH)",
    ),
]


VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="debug logging, and MediaPipe's native log lines")]


def _setup_logging(quiet: bool, verbose: bool) -> None:
    """Log through rich on a duplicate of stderr, so native log lines can be silenced separately."""
    global err
    err = Console(file=os.fdopen(os.dup(2), "w", buffering=1), stderr=True)
    clikit.setup_logging(clikit.log_level(quiet, verbose), err)


@contextlib.contextmanager
def _native_logs(show: bool) -> Iterator[None]:
    """MediaPipe and TFLite print INFO/WARNING lines straight to file descriptor 2; drop them unless ``show``.

    Our own messages are unaffected: they go to ``err``, a duplicate of the original stderr.
    """
    if show:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def _fail(exc: Exception, code: int) -> typer.Exit:
    return clikit.fail(exc, code, err)


def _read_look(path: Path, catalog_url: str | None, settings: TryOnSettings) -> Look:
    """The look file, its SKU entries resolved against the catalog (opened only if the look has some)."""
    from assets_pipeline.settings import AssetSettings
    from tryon import media
    from tryon.catalog import ProductCatalog

    values = {"catalog_url": catalog_url} if catalog_url is not None else {}
    asset_settings = clikit.load_settings(AssetSettings, "PHYGITAL_ASSETS_", err, **values)
    with ProductCatalog(asset_settings, settings.cache_dir) as catalog:
        return media.read_look(path, catalog)


def _input(path: Path) -> None:
    if not path.exists():
        raise InvalidInput("file not found", path=str(path))
    if not path.is_file():
        raise InvalidInput("is not a file", path=str(path))


@app.command()
def image(
    source: Annotated[Path, typer.Argument(help="input image (JPEG, PNG...)")],
    look: LookOpt,
    output: OutOpt,
    compare: Annotated[bool, typer.Option("--compare", help="write before and after side by side")] = False,
    catalog: CatalogOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Apply a look to one image."""
    _setup_logging(quiet, verbose)
    try:
        from tryon import media
        from tryon.factory import create_tryon

        settings = clikit.load_settings(TryOnSettings, "PHYGITAL_TRYON_", err)
        _input(source)
        the_look = _read_look(look, catalog, settings)
        frame = media.read_image(source)
        tryon = create_tryon(the_look, settings, "image", look_dir=look.parent)
        try:
            with _native_logs(verbose):
                result = tryon.process(frame)
        finally:
            tryon.provider.close()
        picture = np.concatenate([frame, result.frame], axis=1) if compare else result.frame
        media.write_image(output, picture, settings.jpeg_quality)
    except TryOnError as exc:
        raise _fail(exc, 2 if isinstance(exc, InvalidInput) else 1) from None
    if not quiet:
        for note in result.notes:
            err.print(f"note: {note}", highlight=False)
        t = result.timings
        out.print(
            f"wrote {output} ({len(result.faces)} face(s), {len(result.shoes_placed)} shoe(s); "
            f"landmarks {t.landmarks:.1f} ms, masks {t.masks:.1f} ms, render {t.render:.1f} ms)",
            highlight=False,
            soft_wrap=True,
        )


@app.command()
def video(
    source: Annotated[Path, typer.Argument(help="input video (AVI, MP4...)")],
    look: LookOpt,
    output: OutOpt,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="process at most this many frames")] = None,
    catalog: CatalogOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Apply a look to every frame of a video (tracking + smoothing), writing MP4."""
    _setup_logging(quiet, verbose)
    try:
        from tryon import media
        from tryon.factory import create_tryon

        settings = clikit.load_settings(TryOnSettings, "PHYGITAL_TRYON_", err)
        _input(source)
        the_look = _read_look(look, catalog, settings)
        info = media.video_info(source)
        total = min(info.frames, limit) if limit else info.frames
        tryon = create_tryon(the_look, settings, "video", look_dir=look.parent)
        frames = with_face = shoes = 0
        ms = 0.0
        progress = clikit.progress_bar(
            MofNCompleteColumn(), TimeRemainingColumn(), width=6, quiet=quiet, transient=False, console=err
        )
        try:
            with (
                _native_logs(verbose),
                progress,
                media.VideoWriter(output, info.fps, (info.width, info.height)) as writer,
            ):
                task = progress.add_task("try-on", total=total or None)
                for t, frame in media.read_video(source, limit):
                    result = tryon.process(frame, t)
                    writer.write(result.frame)
                    frames += 1
                    with_face += bool(result.faces)
                    shoes += len(result.shoes_placed)
                    ms += result.timings.total
                    progress.advance(task)
        finally:
            tryon.provider.close()
    except TryOnError as exc:
        raise _fail(exc, 2 if isinstance(exc, InvalidInput) else 1) from None
    if not quiet:
        out.print(
            f"wrote {output}: {frames} frames, faces in {with_face}, {shoes} shoe placements, "
            f"{ms / max(frames, 1):.1f} ms/frame",
            highlight=False,
            soft_wrap=True,
        )


def main() -> None:
    """Entry point of ``phygital-tryon`` and ``python -m tryon``."""
    clikit.run(app, err)
