"""The fast path for ``/ws`` under uvicorn: the same ClientLink, without the ASGI layer.

Profiling the ASGI route at 200 clients showed most of the server's time outside our code: uvicorn
pauses and resumes reading around every received message (two epoll_ctl calls each), every send
goes through Starlette and ASGI message dicts, and each client needs a sender task with a timeout
per frame.  Here uvicorn still accepts the connection and parses HTTP, and its sans-I/O WebSocket
protocol class is extended: a handshake for ``/ws`` is answered directly and frames go straight to
:meth:`ClientLink.feed`; sends are synchronous writes into the transport's buffer, written once per
event-loop turn as one WebSocket frame (a ``batch`` when several are waiting: one frame per client
per tick), with frames broadcast to a room, and a tick's whole batch for a room or presence cell,
encoded once (:class:`~.sender.Outgoing`).  Every
other WebSocket path (for example ``/tryon/live``) goes through ASGI as before.

Receiving: once the handshake is done, complete unfragmented text and binary frames within the size
limit are read here (header, unmasking in C) and go straight to the link; every other frame (control
frames, fragments, anything oversized or malformed) goes to the ``websockets`` protocol as before, at
a frame boundary: a control frame alone, anything else together with all that follows, for good.
Profiling rooms of ten showed the ``websockets`` parser (a generator per frame) at about a third of
the server's CPU.  Presence messages in the usual form (binary pose messages, and JSON ones that
``short_presence`` reads) that arrive together in one read go to the link together
(``ClientLink.feed_poses``): each is counted against the rate limit, one pose is decoded and taken (a
server that falls behind reads several per client at once).  A read that starts with binary pose message
frames (one, or several back to back: the usual reads) skips the frame loop for them: the frames are recognised
by three bytes each, and only the one whose pose counts is unmasked (``ClientLink.feed_pose``,
``ClientLink.feed_binary_poses``); whatever follows them in the read goes through the frame loop.

Overload: when the presence tick is late (the process cannot read everything its clients send in
time), a client's connection stops being read after its frames at hand are handled, until the tick
has run (``SessionNode.tick_due``): the tick keeps its rate, and what clients send waits in their
sockets (TCP backpressure) instead of the tick waiting for every read.  Without this, a starved
process read on and ticked one to three times a second in rooms of ten.

Backpressure: the transport's buffer is the send queue.  Above its high-water mark presence is held
in one slot and merged (latest pose wins) until the buffer drains; reliable frames are appended, and
a client whose buffer passes ``send_queue_bytes``, or stays above the mark for ``send_timeout_s``, is
disconnected with ``slow_consumer``.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import TYPE_CHECKING, Any, ClassVar

from websockets.http11 import Request
from websockets.speedups import apply_mask

from ..protocol.inbound import BINARY_POSE, POSE_TAG, short_presence
from ..protocol.presence import PresenceTick, merge
from .link import ClientLink
from .sender import BATCH_BYTES, Outgoing, PresenceOut, batch_text, binary_tick, frame_texts, wire_frame
from .toobig import TooBigSansIO

if TYPE_CHECKING:
    from .node import SessionNode

HIGH_WATER = 64 * 1024
"""Transport buffer above which presence is coalesced instead of written."""
FAST_FRAME_CAP = 1 << 20
"""Largest frame read on the fast path when the connection has no message size limit."""
POSE_HEAD = 0x80 | BINARY_POSE.size
"""Second byte of a client's binary pose message frame: masked, 29 bytes."""
POSE_READ = 2 + 4 + BINARY_POSE.size
"""A read that is exactly one client binary pose message frame (header, mask, payload)."""


class Corker:
    """Collects the senders written to in this event-loop turn and flushes them all in one callback."""

    def __init__(self) -> None:
        self._dirty: list[TransportSender] = []

    def add(self, sender: TransportSender) -> None:
        """Queue a sender to be flushed at the end of this event-loop turn (one write per turn)."""
        if not self._dirty:
            asyncio.get_running_loop().call_soon(self._flush)
        self._dirty.append(sender)

    def _flush(self) -> None:
        dirty, self._dirty = self._dirty, []
        for sender in dirty:
            sender.flush_now()


class TransportSender:
    """Sends for one fast-path client: no task, no await; frames queued in one loop turn leave as one
    WebSocket frame (one ``batch`` when there are several) in one write.  With ``binary`` (the client
    joined with ``binary_frames``) a turn that carries presence leaves as one binary tick frame instead."""

    def __init__(self, proto: FastWebSocket, corker: Corker, max_bytes: int, send_timeout: float) -> None:
        self.proto = proto
        self.corker = corker
        self.max_bytes = max_bytes
        self.send_timeout = send_timeout
        self.failed: str | None = None
        self.blocked_since: float | None = None
        self.coalesced = 0
        self.binary = False
        """Frames with presence go out as binary tick frames (PROTOCOL.md, *Binary tick frame*)."""
        self._out: list[str | Outgoing] = []
        self._section: PresenceOut | None = None
        """This turn's presence for a binary client (its frame's presence section)."""
        self._pending = 0
        self._scheduled = False
        self._presence: PresenceTick | None = None
        self._presence_t = 0.0

    @property
    def queued_bytes(self) -> int:
        """Return the bytes waiting to be sent (queued here and in the transport's buffer)."""
        transport = self.proto.transport
        return self._pending + (transport.get_write_buffer_size() if transport is not None else 0)

    def send(self, frame: str | Outgoing) -> None:
        """Queue a frame for this turn's write (nothing after a failure)."""
        if self.failed:
            return
        self._out.append(frame)
        self._pending += len(frame.text) if isinstance(frame, Outgoing) else len(frame)
        self._schedule()

    def send_tick(
        self,
        reliable: list[str | Outgoing],
        presence: tuple[PresenceTick, Outgoing] | None,
        t: float,
        whole: str | Outgoing | bytes | None = None,
    ) -> None:
        """One tick's frames for this client: ``reliable`` in order, then ``presence``; ``whole`` is the
        same as one frame, prebuilt once for every client that gets exactly this (its bytes are shared;
        bytes: a binary tick frame's wire bytes).  While the socket is blocked the presence goes to the
        coalescing slot instead."""
        if self.failed:
            return
        if self.blocked_since is None and self._presence is None:
            if whole is not None and not self._out and self._section is None:
                # nothing else waiting: written now, no trip through the corker
                if type(whole) is bytes:  # a binary tick frame (the usual tick)
                    self._write(whole)
                    return
                self._write(whole.wire if isinstance(whole, Outgoing) else wire_frame(whole))  # type: ignore[arg-type]
                return
            for frame in reliable:
                self.send(frame)
            if presence is not None:
                self._send_presence_now(presence[1])
            return
        for frame in reliable:
            self.send(frame)
        if presence is not None:
            self.send_presence(presence[0], presence[1], t)

    def send_presence(self, tick: PresenceTick, frame: str | Outgoing, t: float) -> None:
        """Send a presence frame, or keep only the latest one while the socket is blocked."""
        if self.failed:
            return
        if self.blocked_since is None and self._presence is None:
            self._send_presence_now(frame if isinstance(frame, Outgoing) or not self.binary else PresenceOut(tick, t))
            return
        self._presence = tick if self._presence is None else merge(self._presence, tick)
        self._presence_t = t
        self.coalesced += 1

    def _send_presence_now(self, frame: str | Outgoing) -> None:
        """This turn's presence: the binary presence section for a binary client (when the poses fit), else
        the JSON frame after the reliable ones."""
        if self.binary and isinstance(frame, PresenceOut) and frame.section is not None:
            if self._section is not None:  # a second tick in one turn: latest pose wins
                frame = PresenceOut(merge(self._section.tick, frame.tick), frame.t)
            self._section = frame
            self._pending += len(frame.section or b"")
            self._schedule()
        else:
            self.send(frame)

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            self.corker.add(self)

    def flush_now(self) -> None:
        """Write what this loop turn queued."""
        self._scheduled = False
        if self.failed or not (self._out or self._section is not None):
            return
        out, section = self._out, self._section
        self._out, self._section = [], None
        self._pending = 0
        if section is not None:  # a binary client: one binary tick frame (after any oversized batches)
            chunks = _chunks(out) if out else [[]]
            wires = [wire_frame(c[0] if len(c) == 1 else batch_text(c)) for c in chunks[:-1]]
            wires.append(wire_frame(binary_tick(chunks[-1], section)))
            self._write(b"".join(wires))
        elif len(out) == 1:
            only = out[0]
            self._write(only.wire if isinstance(only, Outgoing) else wire_frame(only))
        else:
            self._write(b"".join(wire_frame(c[0] if len(c) == 1 else batch_text(c)) for c in _chunks(out)))

    def _write(self, wire: bytes) -> None:
        """Write ``wire`` to the transport; a client whose buffer passes ``max_bytes`` is a slow consumer."""
        transport = self.proto.transport
        if transport.is_closing():
            self.failed = "gone"
            return
        before = transport.get_write_buffer_size()
        transport.write(wire)
        if before > 0 and transport.get_write_buffer_size() > self.max_bytes:  # a lone big welcome may pass
            self.fail("slow_consumer")

    def writable(self) -> None:
        """The buffer drained below the low-water mark: send the coalesced presence."""
        self.blocked_since = None
        if self._presence is not None and not self.failed:
            tick, self._presence = self._presence, None
            self._send_presence_now(PresenceOut(tick, self._presence_t))

    def check(self, mono: float) -> None:
        """Fail the sender as a slow consumer when the socket stayed blocked past the send timeout at ``mono``."""
        if self.blocked_since is not None and mono - self.blocked_since > self.send_timeout:
            self.fail("slow_consumer")

    def fail(self, reason: str) -> None:
        """Stop sending for ``reason`` (the queued frames are dropped); the connection is then closed."""
        if self.failed is None:
            self.failed = reason
            self._out.clear()
            self._section = None
            self._presence = None
            self.proto.sender_failed(reason)

    async def flush(self, timeout: float) -> None:
        """Wait until everything sent so far has left the transport's buffer (or timeout)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.failed and self.queued_bytes > 0 and loop.time() < deadline:
            await asyncio.sleep(0.01)


def _chunks(frames: list[str | Outgoing]) -> list[list[str]]:
    """The texts of ``frames`` in order, in groups of about BATCH_BYTES (each group one ``batch``)."""
    groups: list[list[str]] = [[]]
    size = 0
    for frame in frames:
        for text in frame_texts(frame):
            if size > 0 and size + len(text) > BATCH_BYTES:
                groups.append([])
                size = 0
            groups[-1].append(text)
            size += len(text)
    return groups


class FastWebSocket(TooBigSansIO):
    """uvicorn's sans-I/O WebSocket protocol, serving ``path`` natively; see the module docstring."""

    node: ClassVar[SessionNode]
    corker: ClassVar[Corker]
    path: ClassVar[str] = "/ws"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.link: ClientLink | None = None
        self.sender: TransportSender | None = None
        self._rbuf = b""
        self._slow = False  # every frame through websockets' parser from now on
        self._lost: asyncio.Future[None] = self.loop.create_future()
        self._tick_paused = False
        self.pose_fits = False
        """A binary pose message is within this connection's size limit (set with the limit, at the handshake)."""

    # ---- handshake ---------------------------------------------------------------------------
    def handle_connect(self, event: Request) -> None:
        """Accept a WebSocket upgrade on the fast path (other paths go through ASGI); each path gets its limit."""
        if event.path.partition("?")[0] != self.path:
            super().handle_connect(event)
            return
        self.apply_route_limit(event)
        self.request = event
        self.handshake_initiated = True
        self.handshake_complete = True
        node = self.node
        response = self.conn.accept(event)
        if response.status_code == 101 and node.draining:
            response = self.conn.reject(503, "server is shutting down; reconnect elsewhere\n")
        self.conn.send_response(response)
        self.transport.write(b"".join(self.conn.data_to_send()))
        if response.status_code != 101:
            self.close_sent = True
            self.transport.close()
            return
        self.pose_fits = (self.conn.max_message_size or FAST_FRAME_CAP) >= BINARY_POSE.size
        self.transport.set_write_buffer_limits(high=HIGH_WATER)
        self.start_keepalive()
        settings = node.settings
        self.sender = TransportSender(self, self.corker, settings.send_queue_bytes, settings.send_timeout_s)
        self.link = ClientLink(node, self.sender, self)
        node.links.add(self.link)

    # ---- receiving -----------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        """Read complete data frames here, the rest through ``websockets`` (see the module docstring)."""
        link = self.link
        if link is None or self._slow or self.conn.reader.buffer:  # websockets is inside a frame
            super().data_received(data)
            return
        if (
            len(data) == POSE_READ
            and data[0] == 0x82
            and data[1] == POSE_HEAD
            and not self._rbuf
            and not self.close_sent
            and data[6] ^ data[2] == POSE_TAG
            and self.pose_fits
        ):
            # the usual read: one whole binary pose message, alone (what the loop below makes of it, shorter)
            mono = time.monotonic()
            link.feed_pose(apply_mask(data[6:], data[2:6]), mono)
            if not self._tick_paused and mono > self.node.tick_due and not self.transport.is_closing():
                self._tick_paused = True
                self.transport.pause_reading()
                self.node.defer_reading(self)
            return
        buf = self._rbuf + data if self._rbuf else data
        self._rbuf = b""
        size = len(buf)
        if (
            size >= POSE_READ
            and buf[0] == 0x82
            and buf[1] == POSE_HEAD
            and buf[6] ^ buf[2] == POSE_TAG
            and self.pose_fits
            and not self.close_sent
        ):
            # binary pose message frames back to back, maybe more after them (a server that falls behind reads
            # several per client at once): what the frame loop makes of them, shorter
            mono = time.monotonic()
            end = POSE_READ
            while (
                end + POSE_READ <= size
                and buf[end] == 0x82
                and buf[end + 1] == POSE_HEAD
                and buf[end + 6] ^ buf[end + 2] == POSE_TAG
            ):
                end += POSE_READ
            if end == POSE_READ:
                link.feed_pose(apply_mask(buf[6:POSE_READ], buf[2:6]), mono)
            else:
                # only the pose that counts is unmasked: frame i's payload after its 2 header bytes and 4 of mask
                link.feed_binary_poses(
                    end // POSE_READ,
                    lambda i: apply_mask(buf[(at := i * POSE_READ) + 6 : at + POSE_READ], buf[at + 2 : at + 6]),
                    mono,
                )
            if end == size:
                self._pause_if_late(mono)
                return
            self._read_frames(buf, end)  # what follows: a partial frame, or other frames
            return
        self._read_frames(buf, 0)

    def _pause_if_late(self, mono: float) -> None:
        """The presence tick is late at ``mono``: let it run before reading more from this client."""
        if not self._tick_paused and mono > self.node.tick_due and not self.transport.is_closing():
            self._tick_paused = True
            self.transport.pause_reading()
            self.node.defer_reading(self)

    def _read_frames(self, buf: bytes, pos: int) -> None:
        """The frame loop: the frames of ``buf`` from ``pos`` on, to the link or to ``websockets``; a partial
        frame at the end waits for the next read."""
        size = len(buf)
        limit = self.conn.max_message_size or FAST_FRAME_CAP
        # consecutive presence messages in the usual form (valid as they stand) are handed over together when
        # the next frame is not one: only the last one admitted counts (no tick can run between them)
        run: list[tuple[bytes, re.Match[bytes] | None]] = []
        while pos + 2 <= size and self.link is not None:
            if self.close_sent:  # closing: the close handshake is websockets' business
                if run:
                    self._deliver_poses(run)
                    run = []
                self._slow = True
                super().data_received(buf[pos:])
                return
            b0, b1 = buf[pos], buf[pos + 1]
            length, head = b1 & 0x7F, pos + 2
            if length == 126:
                if pos + 4 > size:
                    break
                length, head = int.from_bytes(buf[pos + 2 : pos + 4], "big"), pos + 4
            elif length == 127:
                if pos + 10 > size:
                    break
                length, head = int.from_bytes(buf[pos + 2 : pos + 10], "big"), pos + 10
            end = head + 4 + length
            opcode = b0 & 0x0F
            if (b0 & 0xF0) != 0x80 or not b1 & 0x80 or opcode not in (1, 2) or length > limit:
                if run:
                    self._deliver_poses(run)
                    run = []
                if (b0 & 0xF0) == 0x80 and b1 & 0x80 and opcode >= 8 and length <= 125:
                    if end > size:
                        break
                    super().data_received(buf[pos:end])  # a ping, pong or close, alone
                    pos = end
                    continue
                self._slow = True  # a fragment, or anything unusual: websockets from here on
                super().data_received(buf[pos:])
                return
            if end > size:
                break
            payload = apply_mask(buf[head + 4 : end], buf[head : head + 4])
            pos = end
            if opcode == 2 and length == BINARY_POSE.size and payload[0] == POSE_TAG:
                run.append((payload, None))  # a binary pose message (decoded only if it is the one that counts)
                continue
            short = short_presence(payload)
            if short is not None:
                run.append((payload, short))
                continue
            if run:
                self._deliver_poses(run)
                run = []
            self._deliver(opcode == 1, payload)
        if run:
            self._deliver_poses(run)
        if pos < size:
            self._rbuf = buf[pos:]
        self._pause_if_late(time.monotonic())

    def resume_after_tick(self) -> None:
        """The tick ran: read from this client again (see ``SessionNode.tick_due``)."""
        self._tick_paused = False
        if not self.transport.is_closing():
            self.transport.resume_reading()

    def send_receive_event_to_app(self) -> None:
        """Hand a complete message to the client link (not to the ASGI app) on the fast path."""
        if self.link is None:
            super().send_receive_event_to_app()
            return
        data = self.frames[0] if len(self.frames) == 1 else b"".join(self.frames)
        self.frames = []
        self._deliver(self.curr_msg_data_type == "text", data if isinstance(data, bytes) else bytes(data))

    def _deliver_poses(self, run: list[tuple[bytes, re.Match[bytes] | None]]) -> None:
        """Presence messages read together (``short_presence`` matches, or None for a binary pose message), in
        order, to the link: one alone as ``ClientLink.feed`` (a binary one: ``feed_pose``) takes it, several through
        ``ClientLink.feed_poses``."""
        link = self.link
        if self.close_sent or link is None:
            return
        if len(run) == 1:
            data, match = run[0]
            if match is None:
                link.feed_pose(data, time.monotonic())
            else:
                link.feed(data, match)
        else:
            link.feed_poses(run)

    def _deliver(self, text: bool, data: bytes) -> None:
        """One complete message from the client (not a presence message in the usual form) to the link (a
        text message must be UTF-8)."""
        if self.close_sent or self.link is None:
            return
        if text:
            if not data.isascii():  # ASCII is UTF-8 (checked without decoding)
                try:
                    data.decode()
                except UnicodeDecodeError:  # RFC 6455: a text frame must be UTF-8; fail the connection (1007)
                    self.conn.send_close(1007, "text frame is not valid UTF-8")
                    self.handle_parser_exception()
                    return
            if data[:1] == bytes((POSE_TAG,)):  # a binary pose message only counts in a binary frame
                self.link.feed(data.decode())
                return
        self.link.feed(data)

    def connection_lost(self, exc: Exception | None) -> None:
        """Tell the client link that the connection is gone."""
        super().connection_lost(exc)
        if not self._lost.done():
            self._lost.set_result(None)
        link = self.link
        if link is not None:
            self.link = None
            if self.sender is not None and self.sender.failed is None:
                self.sender.failed = "gone"
            self.node.links.discard(link)
            task = self.loop.create_task(link.ended())
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    # ---- flow control --------------------------------------------------------------------------
    def pause_writing(self) -> None:
        """Note when the socket's buffer filled (the sender coalesces presence from then on)."""
        super().pause_writing()
        if self.sender is not None and self.sender.blocked_since is None:
            self.sender.blocked_since = time.monotonic()

    def resume_writing(self) -> None:
        """Let the sender write again once the socket's buffer drained."""
        super().resume_writing()
        if self.sender is not None:
            self.sender.writable()

    def before_refusal(self) -> None:
        """A frame over the size limit: write what is queued for the client, then send nothing more."""
        sender, link = self.sender, self.link
        if sender is not None and sender.failed is None:
            sender.flush_now()
            sender.failed = "too_big"
        if link is not None:
            link.closing = True

    # ---- what ClientLink needs (the Socket protocol) -------------------------------------------
    def sender_failed(self, reason: str) -> None:
        """Tell the client link its sender failed (``reason``), which closes the connection."""
        link = self.link
        if link is not None:
            link.sender_failed(reason)

    async def close(self, code: int) -> None:
        """Flush what is queued and send a close frame with ``code``."""
        if not self.close_sent and not self.transport.is_closing():
            if self.sender is not None:
                self.sender.flush_now()
            self.conn.send_close(code)
            self.transport.write(b"".join(self.conn.data_to_send()))
            self.close_sent = True
            self.close_timer = self.loop.call_later(self.close_timeout, self.transport.abort)
        await asyncio.shield(self._lost)

    def abort(self) -> None:
        """Drop the connection at once."""
        if not self._lost.done():
            self.transport.abort()


def fast_websocket_class(
    node: SessionNode, limits: dict[str, int] | None = None, default_limit: int | None = None
) -> type[FastWebSocket]:
    """A protocol class bound to this process's SessionNode (uvicorn's ``ws`` setting takes a class), with
    per-path message size ``limits`` (bytes; other paths: ``default_limit``, None: uvicorn's ``ws_max_size``)."""
    attrs = {"node": node, "corker": Corker(), "limits": dict(limits or {}), "default_limit": default_limit}
    return type("SessionFastWebSocket", (FastWebSocket,), attrs)
