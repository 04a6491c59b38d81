"""``node-tools``: show or install the npm packages the simplifier and the validator run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .. import clikit
from .common import asset_errors, err, out, settings

app = clikit.App()


@app.command("node-tools")
def node_tools(
    install: Annotated[bool, typer.Option("--install", help="Install what is missing (npm ci; needs Node.js "
                                                            "18+ and npm).")] = False,
    folder: Annotated[Path | None, typer.Option(
        "--dir", help="Folder for the npm packages (default: PHYGITAL_ASSETS_NODE_TOOLS, else "
                      "share/phygital/node-tools in this Python environment).", show_default=False)] = None,
) -> None:
    """Show where the simplifier's and validator's npm packages are and whether they are installed.

    Exit code 0 when everything is there, 1 when something is missing (without --install).
    """
    from .. import nodetools

    settings()
    where = folder or nodetools.folder()
    if install:
        with asset_errors(), err.status(f"installing the node tools into {where}"):
            nodetools.install(where)
    state = nodetools.status(where)
    out.print(f"folder: {state.folder}", highlight=False, soft_wrap=True)
    out.print(f"node: {state.node or 'not found on the PATH'}", highlight=False)
    for name, (want, have) in state.packages.items():
        mark = "ok" if have == want else "missing" if have is None else f"version {have}, wanted {want}"
        out.print(f"{name} {want}: {mark}", highlight=False)
    if not state.ready:
        clikit.warn(f"the simplifier falls back to a lower-quality one and --validate fails: {nodetools.INSTALL_HINT}")
        raise typer.Exit(1)
