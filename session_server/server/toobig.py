"""The message size limit at the WebSocket layer: a ``too_big`` error frame, then the 1009 close.

uvicorn's WebSocket protocols refuse a frame longer than the limit (for ``/ws`` the runner sets the
protocol's ``max_message_bytes``, :mod:`.wslimits`) as soon as its header is read, before buffering
it, and close with 1009 and no word of why.  On ``/ws`` the classes here write the protocol's
``too_big`` error frame before that close, at every size, on the fast path (:mod:`.fastws` extends
:class:`TooBigSansIO`) and on the ASGI route, then read and drop what the peer still sends until it
closes (a lingering close: closing with unread data would reset the connection and could lose the
error frame on the way).  Other paths (``/tryon/live``) speak another protocol and keep the bare close.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from websockets.exceptions import PayloadTooBig
from websockets.frames import Opcode
from websockets.http11 import Request

from ..protocol import messages as m
from ..protocol.errors import LimitExceeded
from .sender import wire_frame
from .wslimits import RouteLimitedWebSocket, route_limited

LINGER_S = 2.0
"""How long a refused connection keeps reading (and dropping) what the peer still sends."""


def too_big_text(exc: PayloadTooBig, limit: int | None) -> str:
    """The ``too_big`` error frame for a refused WebSocket frame (its size as far as it is known)."""
    size = (exc.size or 0) + (exc.current_size or 0) if exc.message is None else None
    err = LimitExceeded("too_big", "message is larger than the size limit", limit=limit, actual=size)
    return m.encode(m.server_frame("error", **err.to_wire()))


class TooBigSansIO(RouteLimitedWebSocket):
    """uvicorn's sans-I/O protocol, telling a ``/ws`` peer ``too_big`` before closing a frame over the limit."""

    protocol_paths: ClassVar[frozenset[str]] = frozenset({"/ws"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lingering = False
        self.speaks_protocol = False

    def apply_route_limit(self, event: Request) -> None:
        """Set the route's size limit and note whether the route speaks the session protocol."""
        super().apply_route_limit(event)
        self.speaks_protocol = event.path.partition("?")[0] in self.protocol_paths

    def data_received(self, data: bytes) -> None:
        """Parse received bytes; a frame over the size limit is answered ``too_big`` and closed (1009)."""
        if self.lingering:  # the parser now discards everything until the peer closes
            self.conn.receive_data(data)
            return
        self.conn.receive_data(data)
        exc = self.conn.parser_exc
        if isinstance(exc, PayloadTooBig) and self.speaks_protocol:
            self.refuse_too_big(exc)
        elif exc is not None:
            self.handle_parser_exception()
        else:
            self.handle_events()

    def before_refusal(self) -> None:
        """Hook: write what is already queued for the peer (the fast path's sender) before the error."""

    def refuse_too_big(self, exc: PayloadTooBig) -> None:
        """Write the ``too_big`` error and the close frame, stop writing, and wait for the peer to close."""
        self.lingering = True
        self.before_refusal()
        close = b"".join(self.conn.data_to_send())  # the 1009 close frame the parser queued
        self.transport.write(wire_frame(too_big_text(exc, self.conn.max_message_size)) + close)
        self.close_sent = True
        self.stop_keepalive()
        self.queue.put_nowait({"type": "websocket.disconnect", "code": 1009, "reason": "too big"})
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.close_timer = self.loop.call_later(LINGER_S, self.transport.close)


def asgi_protocol(impl: str, limits: Mapping[str, int], default: int) -> type[Any]:
    """The protocol class serving the ASGI route for the ``ws_impl`` setting ``impl`` (not ``fast``), with the
    per-path message size ``limits`` (other paths: ``default``; the legacy implementation has uvicorn's one limit)."""
    if impl != "websockets":  # "auto" is the sans-I/O protocol too
        return route_limited(TooBigSansIO, limits, default)
    from uvicorn.protocols.websockets.websockets_impl import WebSocketProtocol  # deprecated; only when asked

    class TooBigLegacy(WebSocketProtocol):
        """uvicorn's ``websockets`` (legacy) protocol, telling a ``/ws`` peer ``too_big`` before the 1009 close."""

        def fail_connection(self, code: int = 1006, reason: str = "") -> None:
            """Fail the connection; for a frame over the size limit on ``/ws``, send the ``too_big`` error first."""
            exc = getattr(self, "transfer_data_exc", None)
            path = getattr(self, "scope", {}).get("path")
            if code == 1009 and isinstance(exc, PayloadTooBig) and self.state.name == "OPEN" and path == "/ws":
                text = too_big_text(exc, self.config.ws_max_size)
                self.write_frame_sync(True, Opcode.TEXT, text.encode())
            super().fail_connection(code, reason)

    return TooBigLegacy
