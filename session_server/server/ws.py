"""WebSocket endpoint: frames -> protocol.Connection -> RoomHub; replies through a Sender."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from typing import TYPE_CHECKING

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from ..protocol import auth
from ..protocol import messages as m
from ..protocol.connection import Connection, Identity
from ..protocol.errors import CLOSE_NORMAL, ERROR_CODES, ProtocolError, ServerError
from .sender import Sender

if TYPE_CHECKING:
    from .hub import RoomHub
    from .node import SessionNode

logger = logging.getLogger(__name__)


class ClientLink:
    def __init__(self, ws: WebSocket, node: SessionNode) -> None:
        self.ws = ws
        self.node = node
        self.conn = Connection(node.limits, node.clock())
        self.sender = Sender(
            self._send_text, self._sender_failed, node.settings.send_queue_bytes, node.settings.send_timeout_s
        )
        self.participant = ""
        self.session = ""
        self.role = ""
        self.hub: RoomHub | None = None
        self.last_received = time.monotonic()
        self._closing = False
        self._left = False
        self._sender_task: asyncio.Task[None] | None = None
        self._close_task: asyncio.Task[None] | None = None
        self._recv_task: asyncio.Task[None] | None = None

    async def _send_text(self, text: str) -> None:
        await self.ws.send_text(text)

    # ---- hub callbacks -----------------------------------------------------------------------
    def welcomed(self, participant: str, role: str, session: str) -> None:
        self.participant, self.role, self.session = participant, role, session
        assert self.hub is not None
        self.conn.joined(Identity(self.hub.room_id, participant, role, session))

    def fail(self, exc: ProtocolError, ref: str | None = None) -> None:
        self.sender.send(m.encode(m.server_frame("error", **exc.to_wire(ref))))
        if exc.close_code is not None:
            self.close(exc.code, send_frame=False)
        elif self.conn.phase == "joining":
            self.conn.join_failed()

    def close(self, code: str, send_frame: bool = True) -> None:
        """Send an error frame for ``code`` (if it can) and close with the table's close code."""
        if self._closing:
            return
        self._closing = True
        self._close_task = asyncio.get_running_loop().create_task(self._close(code, send_frame))

    async def _close(self, code: str, send_frame: bool) -> None:
        spec = ERROR_CODES[code]
        if code == "slow_consumer":
            pass
        elif send_frame:
            self.sender.send(m.encode(m.server_frame("error", code=code, message=spec.description)))
            await self.sender.flush(1.0)
        else:
            await self.sender.flush(1.0)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(spec.close_code or CLOSE_NORMAL), 2.0)
        if self._recv_task is not None and not self._recv_task.done():
            self._recv_task.cancel()  # a peer that never answers the close must not keep its seat

    def _sender_failed(self, reason: str) -> None:
        logger.info(
            "room %s participant %s: disconnecting (%s)",
            self.hub.room_id if self.hub else "-",
            self.participant or "-",
            reason,
        )
        self.close(reason)

    def check_idle(self, mono: float) -> None:
        if not self._closing and mono - self.last_received > self.node.settings.idle_timeout_s:
            self.close("idle_timeout")

    async def shutdown(self, timeout: float) -> None:
        self._closing = True
        self.sender.send(
            m.encode(
                m.server_frame(
                    "shutdown",
                    reason="server is shutting down",
                    reconnect=True,
                    retry_after_ms=self.node.settings.shutdown_retry_after_ms,
                )
            )
        )
        await self.sender.flush(timeout)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(ERROR_CODES["shutdown"].close_code or 1012), timeout)

    # ---- main loop -----------------------------------------------------------------------------
    async def run(self) -> None:
        self._sender_task = asyncio.create_task(self.sender.run())
        self.node.links.add(self)
        self._recv_task = asyncio.create_task(self._receive_loop())
        try:
            await self._recv_task
        except asyncio.CancelledError:
            if not self._closing:
                raise
        finally:
            self.node.links.discard(self)
            self._sender_task.cancel()
            if self.hub is not None and not self.node.draining:
                with contextlib.suppress(Exception):
                    await self.hub.gone(self, leave=self._left)
            if self.ws.application_state != WebSocketState.DISCONNECTED:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self.ws.close(), 1.0)

    async def _receive_loop(self) -> None:
        try:
            while True:
                message = await self.ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                data = message.get("text")
                if data is None:
                    data = message.get("bytes") or b""
                self.last_received = time.monotonic()
                if self._closing:
                    continue
                await self._handle(data)
        except WebSocketDisconnect:
            pass

    async def _handle(self, data: str | bytes) -> None:
        now = self.node.clock()
        try:
            msg = self.conn.receive(data, now)
        except ProtocolError as exc:
            self.fail(exc, _peek_id(data, self.node.limits.max_message_bytes))
            return
        kind = msg.type  # type: ignore[attr-defined]
        try:
            if kind == "presence":
                assert self.hub is not None
                self.hub.update_presence(self.participant, m.pose_list(msg.pose))  # type: ignore[attr-defined]
            elif kind == "ping":
                self.sender.send(m.encode(m.server_frame("pong", t=now)))
            elif kind in ("join", "resume"):
                await self._join(msg, now)  # type: ignore[arg-type]
            elif kind == "leave":
                self._left = True
                self._closing = True
                await self.sender.flush(1.0)
                await self.ws.close(CLOSE_NORMAL)
            else:
                assert self.hub is not None
                await self.hub.request(self, msg)
        except ProtocolError as exc:
            self.fail(exc, msg.id)
        except Exception:  # a bug: log it, tell the client nothing more than "internal"
            logger.exception("room %s: unexpected error handling %s", self.hub.room_id if self.hub else "-", kind)
            self.fail(ServerError(), msg.id)

    async def _join(self, msg: m.Join | m.Resume, now: float) -> None:
        settings = self.node.settings
        if msg.token is None:
            if not settings.room_open(msg.room):
                raise ProtocolError("auth_required", f"room {msg.room!r} needs a token", field="token")
            claims = auth.Claims(msg.room, f"guest-{uuid.uuid4().hex[:8]}", "phone", now + settings.token_ttl_s)
        else:
            claims = auth.verify(msg.token, self.node.key, now, room=msg.room)
        self.conn.start_join()
        hub = await self.node.get_hub(msg.room)
        self.hub = hub
        self.participant = claims.participant
        self.session = msg.session if isinstance(msg, m.Resume) else ""
        await hub.join(self, claims, msg)


def _peek_id(data: str | bytes, max_bytes: int) -> str | None:
    """The request id of a refused frame, if it has a readable one (so the client can match the error)."""
    if len(data) > max_bytes:
        return None
    try:
        raw = json.loads(data)
    except (ValueError, RecursionError):
        return None
    rid = raw.get("id") if isinstance(raw, dict) else None
    return rid if isinstance(rid, str) and 0 < len(rid) <= 64 else None


async def ws_endpoint(websocket: WebSocket) -> None:
    node: SessionNode = websocket.app.state.session_node
    if node.draining:
        await websocket.close(ERROR_CODES["shutdown"].close_code or 1012)
        return
    await websocket.accept()
    await ClientLink(websocket, node).run()
