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

from ..protocol.messages import PROTOCOL_VERSION, encode, server_frame
from ..protocol.presence import PresenceTick, merge

logger = logging.getLogger(__name__)
BATCH_BYTES = 256 * 1024


class Outgoing:
    """A server frame encoded once for all its recipients: the JSON text and, on first use, the
    WebSocket frame bytes (server frames are unmasked and uncompressed, so every client gets the
    same bytes).  A ``batch`` made by :func:`batch_of` keeps its frames' texts in ``frames``, so that
    it can be merged with other frames into one batch without nesting."""

    __slots__ = ("_wire", "frames", "text")

    def __init__(self, text: str, frames: list[str] | None = None) -> None:
        self.text = text
        self.frames = frames
        self._wire: bytes | None = None

    @property
    def wire(self) -> bytes:
        """Return the frame's WebSocket wire bytes (encoded once, shared by every recipient)."""
        if self._wire is None:
            self._wire = wire_frame(self.text)
        return self._wire


def wire_frame(text: str) -> bytes:
    """One unmasked, final WebSocket text frame (RFC 6455 section 5.2) carrying ``text``."""
    data = text.encode()
    n = len(data)
    if n < 126:
        return bytes((0x81, n)) + data
    if n < 65536:
        return b"\x81\x7e" + n.to_bytes(2, "big") + data
    return b"\x81\x7f" + n.to_bytes(8, "big") + data


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
    text = encode(server_frame("presence", t=t, poses=tick.poses, gone=list(tick.gone)))
    return text.replace(".0,", ",").replace(".0]", "]")  # ids have no "," or "]", numbers no ".0" inside


def text_of(frame: str | Outgoing) -> str:
    """Return the text of a frame (a str or an Outgoing)."""
    return frame if isinstance(frame, str) else frame.text


class Sender:
    """The send queue for adapters whose sends are awaitable (any ASGI server)."""

    def __init__(
        self,
        send: Callable[[str], Awaitable[None]],
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
        self._presence_text: str | None = None
        self._presence_t = 0.0
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
            self._presence, self._presence_text = tick, text_of(frame)
        else:
            self._presence = merge(self._presence, tick)
            self._presence_text = None
            self.coalesced += 1
        self._presence_t = t
        self._wake.set()

    def _next_frame(self) -> str:
        """Everything waiting, as one frame: queued reliable frames in order, then the presence slot.
        Under light load that is a single frame; under load a ``batch`` (fewer, larger frames)."""
        parts: list[str] = []
        size = 0
        while self._queue and size < BATCH_BYTES:
            text = self._queue.popleft()
            self.queued_bytes -= len(text)
            parts.append(text)
            size += len(text)
        if self._presence is not None and size < BATCH_BYTES:
            parts.append(self._presence_text or presence_text(self._presence, self._presence_t))
            self._presence, self._presence_text = None, None
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
