"""``python -m session_server``: ``serve`` (default) runs the server; ``token`` mints a join token."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Annotated, Any

import typer
from pydantic_settings import SettingsError

from assets_pipeline import clikit

from .protocol import auth
from .protocol.errors import ProtocolError
from .retail.cli import devices_app, run_with_db
from .settings import SessionSettings

app = clikit.make_app(
    "session_server",
    "Phygital session server: shared AR sessions over WebSocket (see session_server/PROTOCOL.md).",
    no_args_is_help=False,
)


def _settings() -> SessionSettings:
    try:
        return clikit.load_settings(SessionSettings, "PHYGITAL_SESSION_")
    except SettingsError as exc:  # a value the environment source cannot even decode
        raise clikit.fail(f"setting PHYGITAL_SESSION_*: {exc}") from None


def _redacted(url: str) -> str:
    """``url`` without its password."""
    return re.sub(r"//([^:@/]*):[^@/]*@", r"//\1:***@", url)


def _check_redis(url: str, timeout: float = 3.0) -> None:
    """Fail with one line unless the Redis at ``url`` answers a PING."""
    from redis import Redis
    from redis.exceptions import RedisError

    try:
        client = Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        try:
            client.ping()
        finally:
            client.close()
    except (RedisError, ValueError, OSError) as exc:
        raise clikit.fail(f"Redis at {_redacted(url)} is unreachable: {exc}") from None


def _logging(quiet: bool, verbose: bool) -> None:
    clikit.setup_logging(clikit.log_level(quiet, verbose, default=logging.INFO, quiet_level=logging.WARNING))


@app.callback(invoke_without_command=True)
def _default(ctx: typer.Context) -> None:
    ctx.obj = _settings
    if ctx.invoked_subcommand is None:
        ctx.invoke(serve)


def default_routers() -> list[Any]:
    """What the server mounts besides ``/ws``: the live try-on endpoint, the product catalog API."""
    from assets_pipeline.api import router as catalog_router
    from tryon.live import router as tryon_router

    return [tryon_router, catalog_router]


def default_ws_limits() -> dict[str, int]:
    """Largest message per WebSocket path of the default routers (``/ws`` adds its own): the live try-on's frames."""
    from tryon.live import LIVE_PATH, max_message_bytes

    return {LIVE_PATH: max_message_bytes()}


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="bind address (default from settings: 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(min=0, max=65535, help="port (default from settings: 8700)")] = None,
    redis_url: Annotated[str | None, typer.Option(help="share rooms through this Redis (scale-out)")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="warnings and errors only")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="debug logging")] = False,
) -> None:
    """Run the session server (in-memory rooms unless a Redis URL is configured)."""
    settings = _settings()
    overrides = {k: v for k, v in {"host": host, "port": port, "redis_url": redis_url}.items() if v is not None}
    settings = settings.model_copy(update=overrides)
    clikit.check_port(settings.host, settings.port)
    if settings.redis_url:
        _check_redis(settings.redis_url)
    _logging(quiet, verbose)
    from .server.app import create_app
    from .server.runner import make_server

    server = make_server(
        create_app(settings, routers=default_routers()),
        settings,
        log_level="warning" if quiet else "info",
        ws_limits=default_ws_limits(),
    )
    server.tune_gc = True  # a process of its own: the garbage collector is tuned for serving
    server.run()


@app.command()
def token(
    room: Annotated[str, typer.Argument(help="room id the token is valid for")],
    participant: Annotated[str, typer.Argument(help="participant id")],
    role: Annotated[str, typer.Option(help=f"one of: {', '.join(auth.ROLES)}")] = "phone",
    ttl: Annotated[float, typer.Option(min=1, help="seconds until the token expires")] = 3600.0,
) -> None:
    """Mint a signed join token with the configured secret (for development and tests)."""
    settings = _settings()
    try:
        tok = auth.sign(
            auth.Claims(room, participant, role, time.time() + ttl),
            settings.token_secret.get_secret_value().encode(),
        )
    except ProtocolError as exc:
        raise clikit.fail(f"{'--role' if exc.field == 'role' else exc.field}: {exc.message}") from None
    sys.stdout.write(tok + "\n")


app.add_typer(devices_app, name="devices")


@app.command()
def retention(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="count what would go, delete nothing")] = False,
) -> None:
    """Delete what the retention settings no longer allow to keep (run it daily from a scheduler)."""
    from .retail.retention import run_retention

    settings = _settings()
    report = run_with_db(settings, lambda db: run_retention(db, settings.retail, dry_run=dry_run))
    sys.stdout.write(json.dumps(report) + "\n")


def main() -> None:
    """Entry point of ``phygital-session`` and ``python -m session_server``."""
    clikit.run(app)


if __name__ == "__main__":
    main()
