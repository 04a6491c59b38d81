"""Asyncio client for the session server, used by apps, tests and samples.

    client = SessionClient(["ws://127.0.0.1:8700/ws"], room="store-1", token=tok)
    await client.connect()                      # join; client.mirror holds the room state
    await client.request("object.place", object="sofa-1", sku="SOFA", pose={"p": [0, 0, -2]})
    await client.send_presence([0, 1.6, 0], [0, 0, 0, 1])
    await client.wait_until(lambda s: "sofa-1" in s.objects)
    await client.close()

``RoomMirror`` applies the welcome snapshot and every delta through the same
``protocol.deltas.apply`` the server uses.  With ``auto_resume`` the client reconnects after a drop
or a ``shutdown`` frame (trying each URL in turn), resumes its session and re-sends the requests
that were not yet acknowledged (same ids: the server applies each once).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import random
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from .protocol.deltas import Delta, apply
from .protocol.errors import ERROR_CODES, ProtocolError
from .protocol.frames import TICK_TAG, decode_tick_frame
from .protocol.inbound import encode_binary_pose
from .protocol.kinds import kind_for
from .protocol.limits import DEFAULT_LIMITS
from .protocol.messages import PROTOCOL_VERSION
from .protocol.state import State

logger = logging.getLogger(__name__)


NO_RESUME = frozenset(
    {
        "replaced",
        "bad_token",
        "token_expired",
        "wrong_room",
        "auth_required",
        "room_full",
        "too_many_rooms",
        "bad_version",
        "not_paired",
    }
)


class SessionError(ProtocolError):
    """An ``error`` frame from the server, or a failure to (re)connect."""


TICK_TAG_BYTE = bytes((TICK_TAG,))


def _error(frame: dict[str, Any]) -> SessionError:
    code = frame.get("code", "internal")
    return SessionError(code if code in ERROR_CODES else "internal", frame.get("message"), field=frame.get("field"))


class RoomMirror:
    """Local copy of the room: ``state`` (the state class of the room's kind) and the latest ``presence`` poses."""

    def __init__(self, room: str) -> None:
        self.kind = kind_for(room)
        self.state: Any = self.kind.new(room, DEFAULT_LIMITS)
        self.presence: dict[str, list[float]] = {}
        self.applied = 0

    @property
    def revision(self) -> int:
        """Return the revision of the mirrored room state."""
        return self.state.revision

    def load(self, welcome: dict[str, Any]) -> list[Delta]:
        """Take a welcome: a snapshot replaces the state, missed deltas are applied; returns those applied."""
        if welcome.get("state") is not None:
            self.state = self.kind.from_snapshot(welcome["state"])
        applied = [d for d in map(Delta.from_wire, welcome.get("deltas") or []) if self.apply(d)]
        self.presence = dict(welcome.get("presence") or {})
        return applied

    def apply(self, delta: Delta) -> bool:
        """Apply a delta; False if it was already applied (a duplicate), raise on a gap."""
        if delta.rev <= self.state.revision:
            return False
        self.state = apply(self.state, delta)
        self.applied += 1
        return True

    def apply_presence(self, frame: dict[str, Any]) -> None:
        """Merge a presence frame's poses into the mirror and drop the participants it says are gone."""
        self.presence.update(frame.get("poses", {}))
        for pid in frame.get("gone", []):
            self.presence.pop(pid, None)


class SessionClient:
    """A Python client of a room: joins, mirrors the room, resumes after drops, sends requests and presence."""

    def __init__(
        self,
        urls: str | Sequence[str],
        room: str,
        token: str | None = None,
        *,
        auto_resume: bool = True,
        heartbeat: float = 5.0,
        request_timeout: float = 10.0,
        retry_interval: float = 2.0,
        on_delta: Callable[[Delta], None] | None = None,
        on_presence: Callable[[dict[str, Any]], None] | None = None,
        binary_presence: bool = False,
        binary_frames: bool = False,
    ) -> None:
        self.urls = [urls] if isinstance(urls, str) else list(urls)
        self.room = room
        self.token = token
        self.auto_resume = auto_resume
        self.heartbeat = heartbeat
        self.request_timeout = request_timeout
        self.retry_interval = retry_interval
        self.on_delta = on_delta
        self.on_presence = on_presence
        self.binary_presence = binary_presence
        """Send poses as binary pose messages (PROTOCOL.md, *Binary pose*; JSON when a number does not fit)."""
        self.binary_frames = binary_frames
        """Join with ``binary_frames``: frames with presence arrive as binary tick frames (PROTOCOL.md)."""
        self.binary_received = 0
        """Binary tick frames received."""
        self.mirror = RoomMirror(room)
        self.participant: str | None = None
        self.session: str | None = None
        self.role: str | None = None
        self.errors: list[dict[str, Any]] = []
        self.shutdowns = 0
        self.resumes = 0
        self.url_index = 0
        self._ids = (f"{uuid.uuid4().hex[:6]}-{i}" for i in itertools.count(1))
        self._ws: ClientConnection | None = None
        self._pending: dict[str, tuple[dict[str, Any], asyncio.Future[dict[str, Any]]]] = {}
        self._acked: list[tuple[int, asyncio.Future[dict[str, Any]], dict[str, Any]]] = []
        self._welcome: asyncio.Future[dict[str, Any]] | None = None
        self._changed = asyncio.Condition()
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        self._reconnecting: asyncio.Task[None] | None = None
        self._fatal = False
        self._send_lock = asyncio.Lock()

    # ---- connection --------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Return the server URL in use (the client moves to the next one after failures)."""
        return self.urls[self.url_index % len(self.urls)]

    async def connect(self) -> dict[str, Any]:
        """Open the socket and join; returns the welcome frame."""
        return await self._open({"type": "join"})

    async def resume(self, url: str | None = None) -> dict[str, Any]:
        """Reconnect (optionally elsewhere) and resume; unacknowledged requests are re-sent."""
        if url is not None:
            self.urls.insert(0, url)
            self.url_index = 0
        await self._drop_socket()
        return await self._open({"type": "resume", "session": self.session, "revision": self.mirror.revision})

    async def _open(self, hello: dict[str, Any]) -> dict[str, Any]:
        try:
            ws = await connect(self.url, max_size=8 * 1024 * 1024, open_timeout=self.request_timeout)
        except ConnectionRefusedError as exc:
            raise SessionError("unreachable", f"{self.url}: connection refused (is the server running?)") from exc
        except TimeoutError as exc:
            raise SessionError("unreachable", f"{self.url}: no answer in {self.request_timeout} s") from exc
        except InvalidURI as exc:
            raise SessionError("bad_message", f"{self.url} is not a WebSocket URL: {exc}", field="url") from exc
        except (OSError, InvalidHandshake) as exc:
            raise SessionError("unreachable", f"{self.url}: cannot connect: {exc}") from exc
        self._ws = ws
        self._welcome = asyncio.get_running_loop().create_future()
        self._tasks = [asyncio.create_task(self._reader(ws)), asyncio.create_task(self._pinger(ws))]
        frame = {"v": PROTOCOL_VERSION, "id": next(self._ids), "room": self.room, **hello}
        if self.binary_frames:
            frame["binary_frames"] = True
        if self.token is not None:
            frame["token"] = self.token
        await self._send(ws, json.dumps(frame))
        welcome = await asyncio.wait_for(self._welcome, self.request_timeout)
        self.participant, self.session, self.role = (
            welcome["participant"],
            welcome["session"],
            welcome["role"],
        )
        if hello["type"] == "resume":
            self.resumes += 1
            for rid, (req, _fut) in list(self._pending.items()):
                logger.debug("re-sending unacknowledged request %s", rid)
                await self._send(ws, json.dumps(req))
        return welcome

    async def _drop_socket(self) -> None:
        for t in self._tasks:
            if t is not asyncio.current_task():
                t.cancel()
        self._tasks = []
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._ws.close(), 2.0)
            self._ws = None

    async def close(self) -> None:
        """Leave the room and close."""
        self._closing = True
        if self._ws is not None:
            with contextlib.suppress(ConnectionClosed):
                await self._send(self._ws, json.dumps({"v": PROTOCOL_VERSION, "type": "leave"}))
        if self._reconnecting is not None:
            self._reconnecting.cancel()
        await self._drop_socket()
        for _req, fut in self._pending.values():
            if not fut.done():
                fut.set_exception(SessionError("internal", "client closed"))

    async def abort(self) -> None:
        """Drop the socket without leaving (the session stays resumable)."""
        self._closing = True
        await self._drop_socket()

    # ---- sending -------------------------------------------------------------------------------
    async def _send(self, ws: ClientConnection, data: str | bytes) -> None:
        async with self._send_lock:  # one frame at a time on the socket
            await ws.send(data)

    async def request(self, kind: str, /, **fields: Any) -> dict[str, Any]:
        """Send a reliable request; return its ack once the mirror has applied it, or raise SessionError."""
        rid = fields.pop("id", None) or next(self._ids)
        frame = {"v": PROTOCOL_VERSION, "type": kind, "id": rid, **fields}
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[rid] = (frame, fut)
        text = json.dumps(frame)
        deadline = asyncio.get_running_loop().time() + self.request_timeout
        try:
            while True:
                if self._ws is not None:
                    with contextlib.suppress(ConnectionClosed):
                        await self._send(self._ws, text)
                left = deadline - asyncio.get_running_loop().time()
                if left <= 0:
                    raise TimeoutError(f"request {rid} ({kind}) was not answered in {self.request_timeout} s")
                try:
                    # re-sent with the same id until answered: the server applies it once
                    return await asyncio.wait_for(asyncio.shield(fut), min(left, self.retry_interval))
                except TimeoutError:
                    if fut.done():
                        return fut.result()
        finally:
            self._pending.pop(rid, None)

    async def send_presence(self, position: Sequence[float], rotation: Sequence[float] = (0, 0, 0, 1)) -> None:
        """Send this participant's pose (position, rotation quaternion); nothing while disconnected.  With
        ``binary_presence`` as a 29-byte binary pose message when its numbers fit, else as JSON."""
        if self._ws is None:
            return
        binary = encode_binary_pose(position, rotation) if self.binary_presence else None
        if binary is not None:
            with contextlib.suppress(ConnectionClosed):
                await self._send(self._ws, binary)
            return
        frame = {
            "v": PROTOCOL_VERSION,
            "type": "presence",
            "pose": {"p": list(position), "q": list(rotation)},
        }
        with contextlib.suppress(ConnectionClosed):
            await self._send(self._ws, json.dumps(frame))

    # ---- waiting -------------------------------------------------------------------------------
    async def wait_until(self, predicate: Callable[[Any], bool], timeout: float = 5.0) -> State:
        """Wait until ``predicate(state)`` holds for the mirrored state (TimeoutError after ``timeout`` s); returns
        it."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: predicate(self.mirror.state)), timeout)
        return self.mirror.state

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # ---- receiving -----------------------------------------------------------------------------
    async def _pinger(self, ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                await asyncio.sleep(self.heartbeat)
                await self._send(ws, json.dumps({"v": PROTOCOL_VERSION, "type": "ping"}))

    async def _reader(self, ws: ClientConnection) -> None:
        try:
            async for data in ws:
                if isinstance(data, bytes) and data[:1] == TICK_TAG_BYTE:
                    self.binary_received += 1
                    text, presence = decode_tick_frame(data)
                    if text is not None:
                        await self._on_frame(json.loads(text))
                    await self._on_frame(presence)
                else:
                    await self._on_frame(json.loads(data))
        except ConnectionClosed:
            pass
        # only a closed connection gets here (a cancelled reader does not start a reconnect)
        resumable = self.auto_resume and self.session is not None and not self._fatal
        if self._ws is ws and not self._closing and resumable:
            self._reconnecting = asyncio.create_task(self._reconnect())

    async def _reconnect(self) -> None:
        delay = 0.05
        await asyncio.sleep(random.uniform(0.02, 0.2))  # spread reconnects after a server restart
        for _attempt in range(40):
            if self._fatal:
                return
            try:
                await self.resume()
                return
            except (SessionError, TimeoutError, ConnectionClosed, OSError) as exc:
                logger.info("resume via %s failed: %s", self.url, exc)
                self.url_index += 1
                await asyncio.sleep(delay)
                delay = min(1.0, delay * 2)
        logger.warning("giving up resuming session %s", self.session)

    async def _on_frame(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "batch":
            for inner in frame.get("frames", []):
                await self._on_frame(inner)
            return
        if kind == "presence":
            self.mirror.apply_presence(frame)
            if self.on_presence is not None:
                self.on_presence(frame)
            return
        if kind == "delta":
            delta = Delta.from_wire(frame)
            if self.mirror.apply(delta) and self.on_delta is not None:
                self.on_delta(delta)
            self._ack_from_delta(delta)
            self._release_acks()
            await self._notify()
        elif kind == "welcome":
            for delta in self.mirror.load(frame):
                if self.on_delta is not None:
                    self.on_delta(delta)
                self._ack_from_delta(delta)
            if self._welcome is not None and not self._welcome.done():
                self._welcome.set_result(frame)
            self._release_acks()
            await self._notify()
        elif kind == "ack":
            entry = self._pending.pop(frame["ref"], None)
            if entry is not None:
                self._acked.append((frame["revision"], entry[1], frame))
                self._release_acks()
        elif kind == "error":
            self.errors.append(frame)
            if frame.get("code") in NO_RESUME:
                self._fatal = True
            ref = frame.get("ref")
            entry = self._pending.pop(ref, None) if ref else None
            if entry is not None and not entry[1].done():
                entry[1].set_exception(_error(frame))
            elif self._welcome is not None and not self._welcome.done():
                self._welcome.set_exception(_error(frame))
        elif kind == "shutdown":
            self.shutdowns += 1
        # pong, and frame types added later within version 1: ignored (PROTOCOL.md, "Evolution")

    def _ack_from_delta(self, delta: Delta) -> None:
        """A delta made by one of our requests acknowledges it, even if the ack itself was lost
        (e.g. the ordering process died between committing and replying)."""
        req = delta.data.get("req")
        if req is not None and delta.data.get("by") == self.participant:
            entry = self._pending.pop(req, None)
            if entry is not None and not entry[1].done():
                entry[1].set_result(
                    {"v": PROTOCOL_VERSION, "type": "ack", "ref": req, "revision": delta.rev, "duplicate": False}
                )

    def _release_acks(self) -> None:
        keep = []
        for rev, fut, frame in self._acked:
            if rev <= self.mirror.revision:
                if not fut.done():
                    fut.set_result(frame)
            else:
                keep.append((rev, fut, frame))
        self._acked = keep
