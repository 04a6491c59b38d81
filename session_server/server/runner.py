"""Run the app under uvicorn with a graceful drain before uvicorn closes the sockets."""

from __future__ import annotations

import socket
from typing import Any

import uvicorn
from fastapi import FastAPI

from ..settings import SessionSettings
from .fastws import fast_websocket_class


class GracefulServer(uvicorn.Server):
    """uvicorn closes WebSockets before the app's lifespan shutdown runs; drain first instead, so
    every client gets a ``shutdown`` frame telling it to reconnect and resume."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Tell every client the server is going away (shutdown frames), then stop uvicorn."""
        app = self.config.app
        node = getattr(getattr(app, "state", None), "session_node", None)
        if node is not None:
            for server in self.servers:
                server.close()
            await node.drain()
        await super().shutdown(sockets)


def make_server(app: FastAPI, settings: SessionSettings, log_level: str = "info") -> GracefulServer:
    """Return a uvicorn server for the app with the settings' host, port and WebSocket implementation."""
    fast = settings.ws_impl == "fast"
    ws: Any = fast_websocket_class(app.state.session_node) if fast else settings.ws_impl
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        ws_ping_interval=settings.ws_ping_interval_s,
        ws_ping_timeout=settings.ws_ping_interval_s,
        ws_max_size=settings.limits.max_message_bytes * 4,
        timeout_graceful_shutdown=5,
        lifespan="on",
        ws=ws,
        ws_per_message_deflate=not fast,  # the fast path sends every recipient the same frame bytes
    )
    return GracefulServer(config)
