"""Fast-path ``/ws`` connections on an in-process node over socket pairs (no server process, no ASGI app)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
from typing import Any

import uvicorn
from uvicorn.server import ServerState
from websockets.frames import Frame
from websockets.speedups import apply_mask
from websockets.streams import StreamReader

from session_server.backplane.memory import MemoryBackplane
from session_server.protocol import auth
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


def frames_of(peer: socket.socket) -> list[tuple[int, bytes]]:
    """Every WebSocket frame ``peer`` got so far (after the handshake's response): ``(opcode, payload)``."""
    raw = b""
    while True:
        try:
            chunk = peer.recv(1 << 16)
        except BlockingIOError:
            break
        if not chunk:
            break
        raw += chunk
    raw = raw[raw.index(b"\r\n\r\n") + 4 :] if raw.startswith(b"HTTP/") else raw
    reader = StreamReader()
    reader.feed_data(raw)
    out: list[tuple[int, bytes]] = []
    while reader.buffer:
        parser = Frame.parse(reader.read_exact, mask=False)
        try:
            while True:
                next(parser)
        except StopIteration as done:
            out.append((done.value.opcode.value, bytes(done.value.data)))
    return out


def received(peer: socket.socket) -> tuple[list[dict[str, Any]], list[int]]:
    """What ``peer`` got so far (after the handshake's response): its JSON frames (batches unpacked), and the
    opcodes of its frames that are not JSON (pongs, closes, binary tick frames)."""
    frames: list[dict[str, Any]] = []
    other: list[int] = []
    for opcode, data in frames_of(peer):
        if opcode in (1, 2) and data[:1] == b"{":
            got = json.loads(data)
            frames.extend(got["frames"] if got["type"] == "batch" else [got])
        else:
            other.append(opcode)
    return frames, other


def join_frame(node: SessionNode, room: str, pid: str) -> bytes:
    """A join message for ``pid`` in ``room`` with a valid token from ``node``'s key."""
    key = node.settings.token_secret.get_secret_value().encode()
    token = auth.sign(auth.Claims(room, pid, "phone", time.time() + 3600), key)
    return json.dumps({"v": 1, "type": "join", "id": "j", "room": room, "token": token}).encode()
