"""``serve``, ``token`` and ``init-store``: running the catalog API and preparing what it needs."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from .. import clikit
from .common import asset_errors, fail, open_service, out, settings

app = clikit.App()


@app.command()
def token(
    subject: Annotated[str, typer.Argument(help="Who the token is for (kept in the token).")],
    role: Annotated[str, typer.Option(help="artist (may upload), manager (stores, stock, tags) or reader")] = "artist",
    ttl: Annotated[float, typer.Option(min=1, help="Seconds until the token expires (30 days).")] = 30 * 24 * 3600.0,
) -> None:
    """Mint an API token signed with PHYGITAL_ASSETS_API_TOKEN_SECRET."""
    from ..tokens import TokenClaims, sign

    configured = settings()
    if configured.api_token_secret is None:
        raise fail("PHYGITAL_ASSETS_API_TOKEN_SECRET is not set")
    with asset_errors():
        tok = sign(TokenClaims(subject, role, time.time() + ttl),
                   configured.api_token_secret.get_secret_value().encode())
    sys.stdout.write(tok + "\n")


@app.command("init-store")
def init_store() -> None:
    """Prepare the configured store: create the local folder, or the S3 bucket if it is missing."""
    from ..store import open_store
    from ..store.s3 import S3Store

    configured = settings()
    with asset_errors():
        store = open_store(configured)
        if isinstance(store, S3Store):
            created = store.create_bucket()
            out.print(f"{store.describe()}: {'created' if created else 'bucket exists'}", highlight=False)
        else:
            Path(store.describe()).mkdir(parents=True, exist_ok=True)
            out.print(f"{store.describe()}: ready", highlight=False)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Bind address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: any free one).")] = 8710,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Warnings and errors only.")] = False,
) -> None:
    """Serve the catalog HTTP API alone (OpenAPI docs at /docs)."""
    import uvicorn

    from ..api import create_app

    clikit.check_port(host, port)  # one line and exit 2, not uvicorn's log lines and exit 3
    service = open_service()
    uvicorn.run(create_app(service=service), host=host, port=port, log_level="warning" if quiet else "info")
