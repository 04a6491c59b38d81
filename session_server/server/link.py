"""ClientLink: one client connection's protocol logic, whatever carries its frames.

A transport adapter (``server.ws`` for any ASGI server, ``server.fastws`` for the built-in fast path)
feeds every received frame to :meth:`ClientLink.feed`, gives the link a sender (something with
``send``/``send_presence``/``send_tick``/``flush``/``queued_bytes``/``failed``) and a :class:`Socket` it can close,
and calls :meth:`ClientLink.ended` once when the connection is gone.

``feed`` is synchronous: size and rate checks, parsing, presence (the 30 Hz hot path) and pings are
handled at once; requests that need the room (join, object edits, chat...) queue in arrival order and
one task per burst works through them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from ..protocol import auth
from ..protocol import messages as m
from ..protocol.connection import Connection, Identity
from ..protocol.errors import CLOSE_NORMAL, ERROR_CODES, ProtocolError, ServerError
from ..protocol.inbound import BINARY_POSE, binary_steps, short_pose
from ..protocol.presence import PoseValue

if TYPE_CHECKING:
    from .hub import RoomHub
    from .node import SessionNode

logger = logging.getLogger(__name__)
POSE_BYTES = BINARY_POSE.size
"""Size of a binary pose message (what the rate and size checks count for one)."""
EARLY_MESSAGES = 64
"""Messages a client may send between a join and its welcome (they are handled after the welcome)."""


class Socket(Protocol):
    """What a link needs from its transport besides the sender."""

    async def close(self, code: int) -> None:
        """Start the closing handshake with ``code`` and wait (bounded) for it."""

    def abort(self) -> None:
        """Stop reading now (a peer that never answers a close must not keep its seat)."""


class Sender(Protocol):
    """Sends frames to one client: reliable frames in order, presence coalesced while blocked."""

    queued_bytes: int
    failed: str | None
    binary: bool
    """The client joined with ``binary_frames``: frames with presence go out as binary tick frames."""

    def send(self, frame: Any) -> None:
        """Queue a frame to the client."""

    def send_presence(self, tick: Any, frame: Any, t: float) -> None:
        """Send a presence frame (the latest one only while the client is slow)."""

    def send_tick(self, reliable: list[Any], presence: Any, t: float, whole: Any = None) -> None:
        """Send one tick's frames (reliable ones in order, then presence) as one frame when it can."""

    async def flush(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds until everything queued is sent."""

    def check(self, mono: float) -> None:
        """Housekeeping: fail a sender that has been blocked longer than its timeout."""


class ClientLink:
    """One client connection's logic, whatever carries it (fast path or ASGI): parse, join, route, close."""

    def __init__(self, node: SessionNode, sender: Sender, socket: Socket) -> None:
        self.node = node
        self.sender = sender
        self.socket = socket
        self.conn = Connection(node.limits, node.clock())
        self.participant = ""
        self.session = ""
        self.role = ""
        self.hub: RoomHub | None = None
        self.last_received = time.monotonic()
        self.closing = False
        self.left = False
        self._inbox: deque[m.Msg] = deque()
        self._early: list[m.Msg] = []
        """Messages received between a join and its welcome, handled (in order) after the welcome."""
        self._early_pose: PoseValue | None = None
        self._join_ref: str | None = None
        self._worker: asyncio.Task[None] | None = None
        self._close_task: asyncio.Task[None] | None = None

    # ---- hub callbacks -----------------------------------------------------------------------
    def welcomed(self, participant: str, role: str, session: str) -> None:
        """The join succeeded: record the participant, role and session."""
        self.participant, self.role, self.session = participant, role, session
        assert self.hub is not None
        self.conn.joined(Identity(self.hub.room_id, participant, role, session))
        if self._early_pose is not None:
            self.hub.update_presence(participant, self._early_pose)
            self._early_pose = None
        if self._early:
            self._inbox.extend(self._early)
            self._early = []
            self._start_worker()

    def fail(self, exc: ProtocolError, ref: str | None = None) -> None:
        """Send an error frame for ``exc`` (for request ``ref``), closing when the error closes connections."""
        self.sender.send(m.encode(m.server_frame("error", **exc.to_wire(ref))))
        if exc.close_code is not None:
            self.close(exc.code, send_frame=False)
        elif self.conn.phase == "joining" and ref is not None and ref == self._join_ref:
            self.conn.join_failed()
            self._refuse_early()

    def _refuse_early(self) -> None:
        """The join was refused: what was sent while it was under way is answered ``not_joined``."""
        early, self._early, self._early_pose = self._early, [], None
        for msg in early:
            if msg.id is not None:
                err = ProtocolError("not_joined", "the join this message waited for was refused", field="type")
                self.sender.send(m.encode(m.server_frame("error", **err.to_wire(msg.id))))

    def close(self, code: str, send_frame: bool = True) -> None:
        """Send an error frame for ``code`` (if it can) and close with the table's close code."""
        if self.closing:
            return
        self.closing = True
        self._close_task = asyncio.get_running_loop().create_task(self._close(code, send_frame))

    async def _close(self, code: str, send_frame: bool) -> None:
        spec = ERROR_CODES[code]
        if send_frame and code != "slow_consumer":
            self.sender.send(m.encode(m.server_frame("error", code=code, message=spec.description)))
        if code != "slow_consumer":
            await self.sender.flush(1.0)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.socket.close(spec.close_code or CLOSE_NORMAL), 2.0)
        self.socket.abort()

    def sender_failed(self, reason: str) -> None:
        """The sender gave up (``reason``, e.g. slow consumer): log it and close the connection."""
        logger.info(
            "room %s participant %s: disconnecting (%s)",
            self.hub.room_id if self.hub else "-",
            self.participant or "-",
            reason,
        )
        self.close(reason)

    def check_idle(self, mono: float) -> None:
        """Close the connection when nothing was received for the idle timeout at ``mono``."""
        if self.closing:
            return
        if mono - self.last_received > self.node.settings.idle_timeout_s:
            self.close("idle_timeout")
        else:
            self.sender.check(mono)

    async def shutdown(self, timeout: float) -> None:
        """Send a shutdown frame, flush for up to ``timeout`` seconds and close."""
        self.closing = True
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
            await asyncio.wait_for(self.socket.close(ERROR_CODES["shutdown"].close_code or 1012), timeout)

    async def ended(self) -> None:
        """The connection is gone: leave (after ``leave``) or drop (resumable)."""
        if self._worker is not None and not self._worker.done():
            self._worker.cancel()
        if self.hub is not None and not self.node.draining:
            with contextlib.suppress(Exception):
                await self.hub.gone(self, leave=self.left)

    # ---- receiving -----------------------------------------------------------------------------
    def feed(self, data: str | bytes, short: re.Match[bytes] | PoseValue | None = None) -> None:
        """One received frame; ``short``: its ``inbound.short_presence`` match or its pose (``inbound.binary_steps``,
        ``inbound.binary_pose``), if the caller has it."""
        arrived = self._arrived()
        if arrived is None:
            return
        now, stalled = arrived
        try:
            if short is not None and self.conn.takes_presence:
                self.conn.admit(len(data), now, stalled)
                pose: PoseValue | None = short_pose(short)
            else:
                pose = self.conn.receive_pose(data, now, stalled) if isinstance(data, bytes) else None
            if pose is not None:  # the 30 Hz hot path
                self._take_pose(pose)
                return
            msg = self.conn.receive(data, now, stalled)
        except ProtocolError as exc:
            self.fail(exc, _peek_id(data, self.node.limits.max_message_bytes))
            return
        kind = msg.type  # type: ignore[attr-defined]
        joining = self.conn.phase == "joining" and kind not in ("join", "resume")
        if kind == "presence":
            if joining:  # before the welcome: keep the latest pose for it
                self._early_pose = m.pose_list(msg.pose)  # type: ignore[attr-defined]
            elif self.hub is not None:
                self.hub.update_presence(self.participant, m.pose_list(msg.pose))  # type: ignore[attr-defined]
        elif kind == "ping":
            self.sender.send(m.encode(m.server_frame("pong", t=now)))
        elif joining:
            if len(self._early) >= EARLY_MESSAGES:
                err = ProtocolError("rate_limited", "too many messages before the welcome; message dropped")
                self.fail(err, msg.id)
                return
            self._early.append(msg)
        else:
            if kind in ("join", "resume"):
                self._join_ref = msg.id
            elif (
                kind != "leave"
                and not self._inbox
                and self.hub is not None
                and (self._worker is None or self._worker.done())  # ``_idle()``, a call fewer per request
            ):
                # nothing ahead of it: handed to the room at once when the backplane can take it (no task)
                try:
                    if self.hub.request_now(self, msg):
                        return
                except Exception:  # as in _handle: a bug is logged, the client is told "internal"
                    logger.exception("room %s: unexpected error handling %s", self.hub.room_id, kind)
                    self.fail(ServerError(), msg.id)
                    return
            self._inbox.append(msg)
            self._start_worker()

    def feed_pose(self, data: bytes, mono: float) -> None:
        """A valid binary pose message (29 bytes, the tag first) read at ``mono`` (``time.monotonic``): what
        ``feed(data, binary_pose(data))`` does, in fewer steps (the 30 Hz hot path)."""
        conn = self.conn
        phase = conn.phase
        if phase != "joined" and phase != "joining":  # presence is not taken now: refused as ``feed`` refuses it
            self.feed(data, data[1:])
            return
        self.last_received = mono
        node = self.node
        stalled = node.stall.check(mono)
        if self.closing:
            return
        try:
            conn.admit(POSE_BYTES, node.clock(), stalled)
        except ProtocolError as exc:
            self.fail(exc)  # a binary pose message has no request id
            return
        # the pose is kept as its 28 bytes of steps (``presence.PoseValue``): a binary tick frame writes them as is
        if phase == "joining":
            self._early_pose = data[1:]
        elif self.hub is not None:
            self.hub.update_presence(self.participant, data[1:])  # type: ignore[arg-type]

    def feed_poses(self, run: list[tuple[bytes, re.Match[bytes] | None]]) -> None:
        """Several presence messages read at once, in order, each a ``short_presence`` match or (None) a valid
        binary pose message: each is counted against the rate limit as ``feed`` would, and only the pose of
        the last one admitted is taken (no tick can run between them: the others are never seen)."""
        if not self.conn.takes_presence or len(run) == 1:
            for data, match in run:
                self.feed(data, match if match is not None else binary_steps(data))
            return
        arrived = self._arrived()
        if arrived is None:
            return
        now, stalled = arrived
        try:
            admitted = self.conn.admit_many(len(run), max(len(data) for data, _ in run), now, stalled)
        except ProtocolError as exc:
            self.fail(exc)
            return
        if admitted:
            data, match = run[admitted - 1]
            self._take_pose(short_pose(match) if match is not None else data[1:])
        if admitted < len(run):
            self._refuse(len(run) - admitted, now)

    def feed_binary_poses(self, count: int, payload: Callable[[int], bytes], mono: float) -> None:
        """``count`` valid binary pose messages read at once at ``mono`` (``time.monotonic``), the i-th one
        ``payload(i)``: what ``feed_poses`` does with them (so what ``feed_pose`` does with each in turn), without
        the run; only the payload of the pose that counts is asked for (the 30 Hz hot path of a busy server)."""
        conn = self.conn
        phase = conn.phase
        if count == 1 or (phase != "joined" and phase != "joining"):
            for i in range(count):
                self.feed_pose(payload(i), mono)
            return
        arrived = self._arrived(mono)
        if arrived is None:
            return
        now, stalled = arrived
        try:
            admitted = conn.admit_many(count, POSE_BYTES, now, stalled)
        except ProtocolError as exc:
            self.fail(exc)  # a binary pose message has no request id
            return
        if admitted:
            self._take_pose(payload(admitted - 1)[1:])
        if admitted < count:
            self._refuse(count - admitted, now)

    def _refuse(self, count: int, now: float) -> None:
        """Refuse ``count`` presence messages read at ``now`` for rate, one error each (until the strikes close)."""
        for _ in range(count):
            if self.closing:
                return
            self.fail(self.conn.refusal(now))

    def _arrived(self, mono: float | None = None) -> tuple[float, float] | None:
        """Note that something arrived now (read at ``mono``, ``time.monotonic``, when given): ``(now, stalled)``
        for the rate limits, or None once closing."""
        if mono is None:
            mono = time.monotonic()
        self.last_received = mono
        stalled = self.node.stall.check(mono)
        if self.closing:
            return None
        return self.node.clock(), stalled

    def _take_pose(self, pose: PoseValue) -> None:
        """This participant's latest pose (kept for the welcome while joining)."""
        if self.conn.phase == "joining":
            self._early_pose = pose
        elif self.hub is not None:
            self.hub.update_presence(self.participant, pose)

    def _idle(self) -> bool:
        """True when no worker is handling an earlier message."""
        return self._worker is None or self._worker.done()

    def _start_worker(self) -> None:
        if self._idle():
            self._worker = asyncio.get_running_loop().create_task(self._work())

    async def _work(self) -> None:
        while self._inbox and not self.closing:
            await self._handle(self._inbox.popleft())

    async def _handle(self, msg: m.Msg) -> None:
        kind = msg.type  # type: ignore[attr-defined]
        try:
            if kind in ("join", "resume"):
                await self._join(msg, self.node.clock())  # type: ignore[arg-type]
            elif kind == "leave":
                self.left = True
                self.closing = True
                await self.sender.flush(1.0)
                await self.socket.close(CLOSE_NORMAL)
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
        self.sender.binary = msg.binary_frames
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
