"""Per-client bounded send queue.

Reliable frames (welcome, deltas, acks, errors) queue in order, bounded in bytes; whatever is waiting
when the socket is free goes out as one ``batch`` frame (one frame per client per tick under load,
single frames with no added delay when idle).  Presence has a
single slot: a new tick merges into an unsent one (latest pose wins), so presence never queues.
A client whose reliable queue passes the bound, or whose single send blocks for ``send_timeout``,
is told ``slow_consumer`` (best effort) and disconnected; it never slows anyone else because each
client has its own task.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from ..protocol.frames import encode_presence, tick_frame
from ..protocol.messages import PROTOCOL_VERSION, encode, server_frame
from ..protocol.presence import PresenceTick, merge, poses_as_numbers

logger = logging.getLogger(__name__)
BATCH_BYTES = 256 * 1024


class Outgoing:
    """A server frame encoded once for all its recipients: the JSON text and, on first use, the
    WebSocket frame bytes (server frames are unmasked and uncompressed, so every client gets the
    same bytes).  A ``batch`` made by :func:`batch_of` keeps its frames' texts in ``frames``, so that
    it can be merged with other frames into one batch without nesting."""

    __slots__ = ("_text", "_wire", "frames")

    def __init__(self, text: str | None, frames: list[str] | None = None) -> None:
        self._text = text
        self.frames = frames
        self._wire: bytes | None = None

    @property
    def text(self) -> str:
        """Return the frame's JSON text (built on first use by frames that build it lazily)."""
        if self._text is None:
            self._text = self._build_text()
        return self._text

    def _build_text(self) -> str:
        raise AssertionError("an Outgoing without text")  # pragma: no cover - only subclasses build lazily

    @property
    def wire(self) -> bytes:
        """Return the frame's WebSocket wire bytes (encoded once, shared by every recipient)."""
        if self._wire is None:
            self._wire = wire_frame(self.text)
        return self._wire


class PresenceOut(Outgoing):
    """One tick's presence for its recipients, each encoding built on first use and shared by all: the JSON
    ``presence`` frame (``text``) and the binary tick frame's presence section (``section``; None when a
    pose does not fit, then binary clients get the JSON frame)."""

    __slots__ = ("_section", "t", "tick")

    def __init__(self, tick: PresenceTick, t: float) -> None:
        super().__init__(None)
        self.tick = tick
        self.t = t
        self._section: bytes | bool | None = False

    def _build_text(self) -> str:
        return presence_text(self.tick, self.t)

    @property
    def section(self) -> bytes | None:
        """Return the binary presence section (``frames.encode_presence``), or None when a pose does not fit."""
        if self._section is False:
            self._section = encode_presence(self.tick, self.t)
        return self._section  # type: ignore[return-value]


def wire_frame(data: str | bytes) -> bytes:
    """One unmasked, final WebSocket frame (RFC 6455 section 5.2): a text frame carrying ``data`` (str) or a
    binary frame (bytes)."""
    if isinstance(data, str):
        data, op = data.encode(), 0x81
    else:
        op = 0x82
    n = len(data)
    if n < 126:
        return bytes((op, n)) + data
    if n < 65536:
        return bytes((op, 0x7E)) + n.to_bytes(2, "big") + data
    return bytes((op, 0x7F)) + n.to_bytes(8, "big") + data


def binary_tick(texts: list[str], presence: PresenceOut) -> bytes:
    """The binary tick frame (``frames.tick_frame``) of JSON frames ``texts`` (one, a ``batch`` of several,
    or none) and a presence whose ``section`` is not None."""
    json_text = None if not texts else texts[0] if len(texts) == 1 else batch_text(texts)
    return tick_frame(json_text, presence.section)  # type: ignore[arg-type]


def presence_of(frame: str | Outgoing) -> str | PresenceOut:
    """What a sender keeps of a presence frame: a ``PresenceOut`` as it is (both encodings at hand), else
    its JSON text."""
    return frame if isinstance(frame, (str, PresenceOut)) else frame.text


def batch_text(texts: list[str]) -> str:
    """The ``batch`` frame carrying ``texts`` (encoded frames), in order."""
    return f'{{"v":{PROTOCOL_VERSION},"type":"batch","frames":[{",".join(texts)}]}}'


def frame_texts(frame: str | Outgoing) -> list[str]:
    """The frames a queued frame stands for (a batch: its frames; otherwise the frame itself)."""
    if isinstance(frame, str):
        return [frame]
    return frame.frames if frame.frames is not None else [frame.text]


def batch_of(frames: list[str | Outgoing]) -> str | Outgoing:
    """Everything in ``frames`` as one frame: the frame itself when there is one, else one ``batch``
    (batches inside are flattened: a batch never holds a batch)."""
    if len(frames) == 1:
        return frames[0]
    texts = [t for f in frames for t in frame_texts(f)]
    return Outgoing(batch_text(texts), texts)


def presence_text(tick: PresenceTick, t: float) -> str:
    """The ``presence`` frame of one tick (the only place it is built).

    Whole numbers are written without ``.0`` (``[1.2,1.6,0,0,0,0,1]``): the same numbers, a quarter
    fewer bytes for typical poses (a presence frame is most of what the server sends)."""
    text = encode(server_frame("presence", t=t, poses=poses_as_numbers(tick.poses), gone=list(tick.gone)))
    return text.replace(".0,", ",").replace(".0]", "]")  # ids have no "," or "]", numbers no ".0" inside


def text_of(frame: str | Outgoing) -> str:
    """Return the text of a frame (a str or an Outgoing)."""
    return frame if isinstance(frame, str) else frame.text


class Sender:
    """The send queue for adapters whose sends are awaitable (any ASGI server).  With ``binary`` (the
    client joined with ``binary_frames``) a frame that carries presence goes out as a binary tick frame."""

    def __init__(
        self,
        send: Callable[[str | bytes], Awaitable[None]],
        on_fail: Callable[[str], None],
        max_bytes: int,
        send_timeout: float,
    ) -> None:
        self._send = send
        self._on_fail = on_fail
        self.max_bytes = max_bytes
        self.send_timeout = send_timeout
        self._queue: deque[str] = deque()
        self.queued_bytes = 0
        self._presence: PresenceTick | None = None
        self._presence_frame: str | PresenceOut | None = None
        self._presence_t = 0.0
        self.binary = False
        """Frames with presence go out as binary tick frames (PROTOCOL.md, *Binary tick frame*)."""
        self._wake = asyncio.Event()
        self.failed: str | None = None
        self.coalesced = 0
        self.sent_frames = 0
        self.batched = 0

    def send(self, frame: str | Outgoing) -> None:
        """Queue a frame for the sending task (nothing after a failure)."""
        if self.failed:
            return
        for text in frame_texts(frame):
            self.queued_bytes += len(text)
            if self.queued_bytes > self.max_bytes and self._queue:  # a lone big frame (a welcome) may pass
                self._fail("slow_consumer")
                return
            self._queue.append(text)
        self._wake.set()

    def send_tick(
        self,
        reliable: list[str | Outgoing],
        presence: tuple[PresenceTick, Outgoing] | None,
        t: float,
        whole: str | Outgoing | None = None,
    ) -> None:
        """One tick's frames for this client: ``reliable`` in order, then ``presence`` (``whole``, the
        same as one prebuilt frame, is for senders that write it as is; this one batches by itself)."""
        for frame in reliable:
            self.send(frame)
        if presence is not None:
            self.send_presence(presence[0], presence[1], t)

    def send_presence(self, tick: PresenceTick, frame: str | Outgoing, t: float) -> None:
        """Queue a presence frame; an unsent one is replaced by the newer one."""
        if self.failed:
            return
        if self._presence is None:
            self._presence, self._presence_frame = tick, presence_of(frame)
        else:
            self._presence = merge(self._presence, tick)
            self._presence_frame = None
            self.coalesced += 1
        self._presence_t = t
        self._wake.set()

    def _next_frame(self) -> str | bytes:
        """Everything waiting, as one frame: queued reliable frames in order, then the presence slot.
        Under light load that is a single frame; under load a ``batch`` (fewer, larger frames); for a
        ``binary`` client with presence waiting, one binary tick frame."""
        parts: list[str] = []
        size = 0
        while self._queue and size < BATCH_BYTES:
            text = self._queue.popleft()
            self.queued_bytes -= len(text)
            parts.append(text)
            size += len(text)
        if self._presence is not None and size < BATCH_BYTES:
            pres = self._presence_frame
            if pres is None or (self.binary and isinstance(pres, str)):
                pres = PresenceOut(self._presence, self._presence_t)
            self._presence, self._presence_frame = None, None
            if self.binary and isinstance(pres, PresenceOut) and pres.section is not None:
                self.batched += len(parts) + 1 if parts else 0
                return binary_tick(parts, pres)
            parts.append(text_of(pres))
        if len(parts) == 1:
            return parts[0]
        self.batched += len(parts)
        return batch_text(parts)

    def check(self, mono: float) -> None:
        """Nothing to do: :meth:`run` times each send itself."""

    def _fail(self, reason: str) -> None:
        if self.failed is None:
            self.failed = reason
            self._queue.clear()
            self._presence = None
            self._wake.set()
            self._on_fail(reason)

    async def run(self) -> None:
        """Drain until failed or cancelled."""
        while not self.failed:
            await self._wake.wait()
            self._wake.clear()
            while not self.failed and (self._queue or self._presence is not None):
                text = self._next_frame()
                try:
                    # asyncio.timeout, not wait_for: no extra task per frame (measured: ~15 % of the send path)
                    async with asyncio.timeout(self.send_timeout):
                        await self._send(text)
                except TimeoutError:
                    self._fail("slow_consumer")
                    return
                except Exception as exc:  # peer gone (WebSocketDisconnect, OSError); receive side cleans up
                    logger.debug("send failed: %r", exc)
                    self.failed = "gone"
                    return
                self.sent_frames += 1

    async def flush(self, timeout: float) -> None:
        """Wait until everything queued has been handed to the socket (or timeout)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while (self._queue or self._presence is not None) and not self.failed:
            if asyncio.get_running_loop().time() > deadline:
                return
            await asyncio.sleep(0.01)
