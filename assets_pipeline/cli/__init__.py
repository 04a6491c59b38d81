"""Command line: ``python -m assets_pipeline`` (also ``phygital-assets``).

One module per group of commands: ``optimize`` (optimize, validate, inspect), ``publish`` (upload, rollback,
delete), ``catalog`` (list, show, tryon), ``server`` (serve, token, init-store), ``stores`` (stores, fitting rooms,
stock, tags), ``tools`` (node-tools). A group is one ``app.add_typer(module.app)`` line below (with ``name=...`` for
a group of sub-commands). Errors in the input end a command with one line on stderr and exit code 2; nothing is
written.
"""

from __future__ import annotations

from .. import cli_batch, clikit
from . import catalog, optimize, publish, server, stores, tools

app = clikit.make_app(
    "assets_pipeline",
    "Phygital asset pipeline: turn any product model (OBJ, STL, PLY, glTF, GLB) into a validated, "
    "optimized, AR-ready GLB with LODs.",
)
app.add_typer(optimize.app)
app.add_typer(publish.app)
app.add_typer(catalog.app)
app.add_typer(server.app)
app.add_typer(stores.app, name="stores")
app.add_typer(cli_batch.app)  # batch (submit, status, dead) and worker
app.add_typer(tools.app)


def main() -> None:
    """Entry point of ``phygital-assets`` and ``python -m assets_pipeline``."""
    clikit.run(app)


__all__ = ["app", "main"]
