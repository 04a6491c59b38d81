"""create_app(settings) -> FastAPI with ``/ws`` and ``/health``; other packages' routers mount here."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Response

from ..backplane.base import Backplane
from ..backplane.memory import MemoryBackplane
from ..protocol import schema
from ..retail import mount as mount_retail
from ..retail.service import RetailService
from ..settings import DEV_SECRET, SessionSettings
from ..web import mount_web
from .hub import LOG_MARGIN_S
from .node import SessionNode
from .ws import ws_endpoint

logger = logging.getLogger(__name__)


def make_backplane(settings: SessionSettings) -> Backplane:
    """Return the backplane the settings name: Redis with ``REDIS_URL``, else in memory."""
    node_id = settings.node_id or SessionNode.new_node_id()
    if settings.redis_url:
        from ..backplane.redis import RedisBackplane

        return RedisBackplane(settings.redis_url, node_id, prefix=settings.redis_prefix, lease_ms=settings.lease_ms)
    # deltas are kept as long as a resume can ask for them (each one is memory: about 0.7 KB for a move)
    return MemoryBackplane(node_id, lease_ms=settings.lease_ms, log_retention_s=settings.resume_window_s + LOG_MARGIN_S)


def create_app(
    settings: SessionSettings | None = None,
    routers: Sequence[APIRouter] = (),
    backplane: Backplane | None = None,
) -> FastAPI:
    """Build the session server.  ``routers`` (e.g. the asset catalog API, the try-on live endpoint)
    are mounted as they are; ``backplane`` overrides the one chosen from ``settings.redis_url``."""
    settings = settings or SessionSettings()
    if settings.token_secret.get_secret_value() == DEV_SECRET:
        logger.warning("using the built-in development token secret; set PHYGITAL_SESSION_TOKEN_SECRET")
    node = SessionNode(settings, backplane or make_backplane(settings))
    retail = RetailService.open(settings, node)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await node.start()
        await retail.start()
        try:
            yield
        finally:
            await retail.close()
            await node.drain()

    app = FastAPI(title="Phygital session server", lifespan=lifespan)
    app.state.session_node = node
    app.state.settings = settings
    app.add_api_websocket_route("/ws", ws_endpoint)

    @app.get("/protocol.schema.json", include_in_schema=False)
    async def protocol_schema() -> Response:
        """The session protocol's JSON Schema (docs/protocol.schema.json, built from the code)."""
        return Response(schema.text(), media_type="application/schema+json")

    @app.get("/health")
    async def health() -> dict[str, object]:
        return {
            "status": "draining" if node.draining else "ok",
            "node": node.bp.node_id,
            "backplane": type(node.bp).__name__,
            "rooms": len(node.hubs),
            "connections": len(node.links),
            "leading": sum(1 for h in node.hubs.values() if h.leader is not None),
            "tick_lag_ms": round(node.tick_lag_ms, 1),
            "stalls": node.stall.stalls,
            "stalled_s": round(node.stall.stalled, 3),
            "send_backlog_bytes": sum(link.sender.queued_bytes for link in node.links),
        }

    mount_retail(app, retail)
    for router in routers:
        app.include_router(router)
    mount_web(app)
    return app
