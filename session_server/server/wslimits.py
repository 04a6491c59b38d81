"""Per-route WebSocket message size limits under uvicorn.

uvicorn has one server-wide ``ws_max_size``, checked by the WebSocket protocol before any route sees a
message, so the smallest limit any route needs would cap every route (``/tryon/live`` takes camera JPEGs
of several hundred KB, ``/ws`` protocol messages of at most 32 KiB). The server is configured with the
largest limit and :class:`RouteLimitedWebSocket` lowers it per connection, from the request path, right
after the handshake: a message over its route's limit closes the connection with 1009 as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request


class RouteLimitedWebSocket(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol with a message size limit per request path."""

    limits: ClassVar[Mapping[str, int]] = {}
    default_limit: ClassVar[int | None] = None

    def apply_route_limit(self, event: Request) -> None:
        """Set this connection's message size limit from the request path (unlisted paths: the default)."""
        limit = self.limits.get(event.path.partition("?")[0], self.default_limit)
        if limit is not None:
            self.conn.max_message_size = limit

    def handle_connect(self, event: Request) -> None:
        """Apply the route's limit, then answer the handshake as uvicorn does."""
        self.apply_route_limit(event)
        super().handle_connect(event)


def route_limited(base: type[WebSocketsSansIOProtocol], limits: Mapping[str, int], default: int) -> type[Any]:
    """A subclass of ``base`` applying ``limits`` (path -> bytes), other paths ``default``."""
    return type(f"RouteLimited{base.__name__}", (base,), {"limits": dict(limits), "default_limit": default})
