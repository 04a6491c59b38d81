"""Fast-path ``/ws`` connections on an in-process node over socket pairs (no server process, no ASGI app)."""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any

import uvicorn
from uvicorn.server import ServerState
from websockets.speedups import apply_mask

from session_server.backplane.memory import MemoryBackplane
from session_server.server.fastws import fast_websocket_class
from session_server.server.node import SessionNode
from session_server.settings import SessionSettings

HANDSHAKE = (
    b"GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


def masked(opcode: int, payload: bytes) -> bytes:
    """A client frame (RFC 6455): final, masked, a payload under 64 KiB."""
    key = os.urandom(4)
    n = len(payload)
    size = bytes((0x80 | n,)) if n < 126 else bytes((0xFE,)) + n.to_bytes(2, "big")
    return bytes((0x80 | opcode,)) + size + key + apply_mask(payload, key)


async def _no_app(scope: Any, receive: Any, send: Any) -> None:
    """ASGI app behind the fast path (``/ws`` never reaches it)."""


class FastNode:
    """A started node on the running loop and the fast-path protocol class that serves its ``/ws``."""

    def __init__(self, node: SessionNode) -> None:
        self.node = node
        limit = node.settings.limits.max_message_bytes
        self._cls = fast_websocket_class(node, {"/ws": limit}, limit)
        self._config = uvicorn.Config(app=_no_app, ws=self._cls, ws_ping_interval=None, log_level="warning")
        self._config.load()
        self._state = ServerState()

    async def connect(self) -> tuple[Any, socket.socket]:
        """One connection upgraded to WebSocket: its protocol object and the client's (non-blocking) socket."""
        ours, peer = socket.socketpair()
        peer.setblocking(False)
        _, proto = await asyncio.get_running_loop().connect_accepted_socket(
            lambda: self._cls(config=self._config, server_state=self._state, app_state={}), ours
        )
        proto.data_received(HANDSHAKE)
        return proto, peer


async def fast_node(settings: SessionSettings) -> FastNode:
    """A node with an in-memory backplane, started on the running loop, ready for fast-path connections."""
    node = SessionNode(settings, MemoryBackplane())
    node.loop = asyncio.get_running_loop()
    await node.bp.start()
    return FastNode(node)
