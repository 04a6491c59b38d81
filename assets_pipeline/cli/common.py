"""What the assets commands share: consoles, the settings, the store and catalog of one command, errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer

from .. import clikit
from ..errors import AssetError

if TYPE_CHECKING:
    from ..service import AssetService
    from ..settings import AssetSettings

err = clikit.err
out = clikit.out


def fail(exc: AssetError | str) -> typer.Exit:
    """One ``error:`` line on stderr; raise the returned exit (code 2)."""
    return clikit.fail(exc, 2)


@contextmanager
def asset_errors() -> Iterator[None]:
    """An ``AssetError`` inside ends the command with one line and exit code 2."""
    with clikit.exits((AssetError, 2)):
        yield


def setup_logging(verbose: bool) -> None:
    """Warnings (or everything with ``--verbose``) through rich on stderr."""
    clikit.setup_logging(clikit.log_level(False, verbose))


def settings() -> AssetSettings:
    """The ``PHYGITAL_ASSETS_*`` settings, read once per command; a bad value is one error line."""
    from .. import nodetools
    from ..settings import AssetSettings

    result = clikit.load_settings(AssetSettings, "PHYGITAL_ASSETS_")
    nodetools.configure(result.node_tools)
    return result


def open_service() -> AssetService:
    """The configured store and catalog; a failure to open them is one error line."""
    from ..service import AssetService

    with asset_errors():
        return AssetService.open(settings())


@contextmanager
def service() -> Iterator[AssetService]:
    """The store and catalog for one command; an AssetError ends it with one line and exit code 2."""
    opened = open_service()
    try:
        with asset_errors():
            yield opened
    finally:
        opened.close()


def ratios(text: str | None) -> tuple[float, ...]:
    """LOD ratios from ``0.5,0.25,0.1`` or ``50,25,10``."""
    if not text:
        return ()
    try:
        vals = tuple(float(v) / 100 if float(v) > 1 else float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise typer.BadParameter(f"{text!r}: expected ratios like 0.5,0.25,0.1 or 50,25,10",
                                 param_hint="'--lods'") from None
    if any(not 0 < v <= 1 for v in vals):
        raise typer.BadParameter("each LOD ratio must be in (0, 1]", param_hint="'--lods'")
    return vals


def megabytes(n: int) -> str:
    """``1.23 MB`` for large sizes, ``12,345 B`` for small ones."""
    return f"{n / 1e6:.2f} MB" if n >= 100_000 else f"{n:,} B"
