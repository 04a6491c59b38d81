"""Run the app under uvicorn with a graceful drain before uvicorn closes the sockets."""

from __future__ import annotations

import gc
import socket
from collections.abc import Mapping
from typing import Any

import uvicorn
from fastapi import FastAPI

from ..settings import SessionSettings
from .fastws import fast_websocket_class
from .toobig import asgi_protocol


class GracefulServer(uvicorn.Server):
    """uvicorn closes WebSockets before the app's lifespan shutdown runs; drain first instead, so
    every client gets a ``shutdown`` frame telling it to reconnect and resume."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Start uvicorn, then move everything loaded so far out of the garbage collector's sight.

        The imports and the app are some hundred thousand objects that live as long as the process; with
        them frozen, a full collection (triggered by the per-message allocations under load) scans only
        what came later instead of pausing the event loop for all of them."""
        await super().startup(sockets)
        gc.collect()
        gc.freeze()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Tell every client the server is going away (shutdown frames), then stop uvicorn."""
        app = self.config.app
        node = getattr(getattr(app, "state", None), "session_node", None)
        if node is not None:
            for server in self.servers:
                server.close()
            await node.drain()
        await super().shutdown(sockets)


def ws_route_limits(settings: SessionSettings, routes: Mapping[str, int] | None = None) -> dict[str, int]:
    """Message size limit per WebSocket path: ``/ws`` from the protocol limits, the other routes' as given.

    ``/ws`` has its protocol message limit at the WebSocket layer: a bigger message is refused from its
    header, with the protocol's ``too_big`` error frame before the 1009 close (:mod:`.toobig`).
    """
    return {**(routes or {}), "/ws": settings.limits.max_message_bytes}


def make_server(
    app: FastAPI, settings: SessionSettings, log_level: str = "info", ws_limits: Mapping[str, int] | None = None
) -> GracefulServer:
    """Return a uvicorn server for the app with the settings' host, port and WebSocket implementation.

    ``ws_limits`` maps other WebSocket paths (``/tryon/live``) to their largest message in bytes; each route
    gets its own limit (:mod:`.wslimits`) under the ``fast``, ``auto`` and ``websockets-sansio``
    implementations. Under the legacy ``websockets`` one uvicorn's one limit is the largest of them and ``/ws``
    relies on its protocol check below it (``too_big`` either way).
    """
    limits = ws_route_limits(settings, ws_limits)
    default = limits["/ws"]
    fast = settings.ws_impl == "fast"
    ws: Any
    if fast:
        ws = fast_websocket_class(app.state.session_node, limits, default)
    else:
        ws = asgi_protocol(settings.ws_impl, limits, default)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        ws_ping_interval=settings.ws_ping_interval_s,
        ws_ping_timeout=settings.ws_ping_interval_s,
        ws_max_size=max(limits.values()),
        timeout_graceful_shutdown=5,
        lifespan="on",
        ws=ws,
        ws_per_message_deflate=not fast,  # the fast path sends every recipient the same frame bytes
    )
    return GracefulServer(config)
