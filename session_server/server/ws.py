"""ASGI adapter for ``/ws``: works under any ASGI server (and Starlette's TestClient).

``python -m session_server`` serves ``/ws`` through :mod:`server.fastws` instead (same ClientLink,
no ASGI layer); this route stays for other servers and for running the app inside another one.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from ..protocol.errors import ERROR_CODES
from .link import ClientLink
from .sender import Sender

if TYPE_CHECKING:
    from .node import SessionNode


class AsgiSocket:
    """A client socket over Starlette's ASGI WebSocket (the ``websockets-sansio`` path)."""

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws
        self.receiving: asyncio.Task[None] | None = None

    async def close(self, code: int) -> None:
        """Close the WebSocket with ``code``; a client that is gone already (or a socket closed already) is no
        error."""
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            await self.ws.close(code)

    def abort(self) -> None:
        """Stop receiving at once."""
        if self.receiving is not None and not self.receiving.done():
            self.receiving.cancel()

    async def send_frame(self, data: str | bytes) -> None:
        """Send one frame: a text frame for str, a binary frame for bytes (a binary tick frame)."""
        if isinstance(data, str):
            await self.ws.send_text(data)
        else:
            await self.ws.send_bytes(data)


async def _receive(ws: WebSocket, link: ClientLink) -> None:
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("text")
            link.feed(data if data is not None else message.get("bytes") or b"")


async def ws_endpoint(websocket: WebSocket) -> None:
    """The ``/ws`` ASGI endpoint: runs a ClientLink over the WebSocket until it closes."""
    node: SessionNode = websocket.app.state.session_node
    if node.draining:
        await websocket.close(ERROR_CODES["shutdown"].close_code or 1012)
        return
    await websocket.accept()
    socket = AsgiSocket(websocket)
    holder: list[ClientLink] = []
    sender = Sender(
        socket.send_frame,
        lambda reason: holder[0].sender_failed(reason),
        node.settings.send_queue_bytes,
        node.settings.send_timeout_s,
    )
    link = ClientLink(node, sender, socket)
    holder.append(link)
    sending = asyncio.create_task(sender.run())
    node.links.add(link)
    socket.receiving = asyncio.create_task(_receive(websocket, link))
    try:
        await socket.receiving
    except asyncio.CancelledError:
        if not link.closing:
            raise
    finally:
        node.links.discard(link)
        sending.cancel()
        await link.ended()
        if websocket.application_state != WebSocketState.DISCONNECTED:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(websocket.close(), 1.0)
