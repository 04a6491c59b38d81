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
from .nap import Napper
from .toobig import asgi_protocol

GC_THRESHOLDS = (20_000, 20, 100)
"""gc.set_threshold for a server process: young collections after 20,000 allocations (not 700), full
ones after 100 x 20 of them (and only once the older objects grew by a quarter, as always)."""


class GracefulServer(uvicorn.Server):
    """uvicorn closes WebSockets before the app's lifespan shutdown runs; drain first instead, so
    every client gets a ``shutdown`` frame telling it to reconnect and resume."""

    tune_gc = False
    """Set by ``python -m session_server serve`` (a process of its own): see :meth:`startup`."""
    poll_interval = 0.0
    """Seconds between socket polls while the process has clients (``Napper``; set by :func:`make_server`)."""
    napper: Napper | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Start uvicorn; in a server process of its own (``tune_gc``), also tune the garbage collector and nap
        the loop between polls while there are clients (``poll_interval``, :mod:`.nap`).

        Everything loaded so far (imports, the app: some hundred thousand objects that live as long as the
        process) is frozen out of the collector's scans, and collections are rarer (``GC_THRESHOLDS``):
        under load each presence message allocates a few short-lived containers, and with the default
        thresholds the collector ran hundreds of times a second, a full collection every few seconds
        scanning every connection's objects (measured in rooms of ten, 800 clients: 3 s of collections
        in a 20 s run, full ones of 0.3 s on a busy machine, each a pause of the event loop)."""
        await super().startup(sockets)
        if self.tune_gc:
            gc.collect()
            gc.freeze()
            gc.set_threshold(*GC_THRESHOLDS)
            node = getattr(getattr(self.config.app, "state", None), "session_node", None)
            if self.poll_interval > 0 and node is not None:
                links = node.links
                self.napper = Napper(self.poll_interval, lambda: bool(links), lambda: node.next_slot_at)
                self.napper.start()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Tell every client the server is going away (shutdown frames), then stop uvicorn."""
        if self.napper is not None:
            self.napper.stop()
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
    server = GracefulServer(config)
    server.poll_interval = settings.poll_interval_ms / 1000
    return server
