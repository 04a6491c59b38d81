"""Live try-on over WebSocket for the mirror and phones: ``router`` is mounted by the session server.

Protocol on ``/tryon/live``:

- client -> server, binary: one JPEG frame. Frames are numbered by arrival, from 1 (``seq``).
- client -> server, text: ``{"type": "look", "products": [...]}`` switches the look (a look JSON; entries
  naming only a ``sku`` are looked up in the product catalog of the ``PHYGITAL_ASSETS_*`` settings).
- server -> client, for each rendered frame: a text message
  ``{"type": "frame", "seq", "latency_ms", "faces", "shoes", "dropped", "timings", "notes"}``
  immediately followed by a binary message with the rendered JPEG. ``latency_ms`` runs from the
  frame's arrival to the moment its result is sent.
- client -> server, text: ``{"type": "room", "token": "<room token>"}`` binds the connection to a room
  whose current look is rendered from then on (only where the server installs a look binder: the session
  server binds a mirror to its fitting room; the look follows the room's ``look`` and, while the room
  has no active look, frames come back unchanged). Answer: ``{"type": "room", "room": ...}``.
- server -> client on bad input: ``{"type": "error", "code", "message"}``; the connection stays open.
  Codes: ``bad_frame`` (not a decodable image), ``too_large``, ``bad_look``, ``bad_message``,
  ``bad_room`` (the room binding was refused), ``internal`` (details are logged, not sent).

Newest frame wins: one slot holds the latest unprocessed frame; a frame arriving while another is
being rendered replaces the waiting one (counted in ``dropped``), so a fast client never builds a
queue and always gets its most recent picture back. Frames are never stored or logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, Any, Protocol

from fastapi import APIRouter, Depends, WebSocket, WebSocketDisconnect

from assets_pipeline.settings import AssetSettings
from tryon.errors import InvalidInput, TryOnError
from tryon.settings import TryOnSettings

if TYPE_CHECKING:  # looks and the pipeline (numpy, OpenCV, models) load with the first connection
    from tryon.look import Look
    from tryon.pipeline import TryOn

logger = logging.getLogger(__name__)

router = APIRouter()

LIVE_PATH = "/tryon/live"
FRAME_SLACK_BYTES = 64 * 1024
"""The WebSocket layer lets frames this much over ``live_max_frame_bytes`` through, so that they get the
endpoint's ``too_large`` answer (connection kept); only bigger ones close the connection with 1009."""
DEFAULT_LOOK = '[{"kind": "lipstick", "shade": "#A3162B", "finish": "matte", "intensity": 0.85}]'


@lru_cache(maxsize=1)
def get_settings() -> TryOnSettings:
    """Settings dependency; override with ``app.dependency_overrides[get_settings]``."""
    return TryOnSettings()


@lru_cache(maxsize=1)
def get_asset_settings() -> AssetSettings:
    """Asset settings (the product catalog of SKU entries); override with ``app.dependency_overrides``."""
    return AssetSettings()


def max_message_bytes(settings: TryOnSettings | None = None) -> int:
    """Largest WebSocket message the server should let through to ``/tryon/live`` (frame limit + slack)."""
    return (settings or get_settings()).live_max_frame_bytes + FRAME_SLACK_BYTES


class LookFeed(Protocol):
    """The look of a room a live connection is bound to."""

    room: str

    async def products(self) -> list[dict[str, Any]] | None:
        """The room's look entries now (catalog SKU entries allowed); None: no active look."""
        ...


LookBinder = Callable[[dict[str, Any]], Awaitable[LookFeed]]
"""Binds a connection to a room from its ``{"type": "room", ...}`` message; raises InvalidInput."""


def get_look_binder() -> LookBinder | None:
    """No rooms by default; the session server overrides this with ``app.dependency_overrides``."""
    return None


def default_look(settings: TryOnSettings, asset_settings: AssetSettings) -> Look:
    """The look of ``PHYGITAL_TRYON_LIVE_DEFAULT_LOOK`` (SKUs resolved in the catalog), else a red lipstick."""
    if settings.live_default_look is not None:
        from tryon.catalog import ProductCatalog
        from tryon.media import read_look

        with ProductCatalog(asset_settings, settings.cache_dir) as catalog:
            return read_look(settings.live_default_look, catalog)
    from tryon.look import parse_look

    return parse_look(DEFAULT_LOOK, "default look")


@dataclass
class _Pending:
    data: bytes
    seq: int
    received: float


class LiveSession:
    """State of one connection: the newest waiting frame, the look, and the try-on pipeline."""

    def __init__(self, ws: WebSocket, settings: TryOnSettings, asset_settings: AssetSettings,
                 binder: LookBinder | None = None) -> None:
        self.ws = ws
        self.settings = settings
        self.asset_settings = asset_settings
        self.look: Look | None = default_look(settings, asset_settings)
        self.binder = binder
        self.feed: LookFeed | None = None
        self.feed_products: list[dict[str, Any]] | None = None
        self.tryon: TryOn | None = None
        self.pending: _Pending | None = None
        self.ready = asyncio.Event()
        self.seq = 0
        self.dropped = 0
        self.send_lock = asyncio.Lock()
        self.start = time.monotonic()

    async def send_json(self, payload: dict[str, Any]) -> None:
        """Send one JSON message to the client (one send at a time)."""
        async with self.send_lock:
            await self.ws.send_text(json.dumps(payload))

    async def error(self, code: str, message: str) -> None:
        """Send an error message ``{"type": "error", code, message}`` to the client."""
        await self.send_json({"type": "error", "code": code, "message": message})

    async def receive_loop(self) -> None:
        """Read looks and JPEG frames until the client leaves; only the newest frame waits to be rendered."""
        while True:
            msg = await self.ws.receive()
            if msg["type"] == "websocket.disconnect":
                return
            if msg.get("bytes") is not None:
                await self._on_frame(msg["bytes"])
            elif msg.get("text") is not None:
                await self._on_text(msg["text"])

    async def _on_frame(self, data: bytes) -> None:
        self.seq += 1
        if len(data) > self.settings.live_max_frame_bytes:
            await self.error(
                "too_large", f"frame {self.seq}: {len(data)} bytes exceeds {self.settings.live_max_frame_bytes}"
            )
            return
        if self.pending is not None:
            self.dropped += 1
        self.pending = _Pending(data, self.seq, time.monotonic())
        self.ready.set()

    async def _on_text(self, text: str) -> None:
        try:
            msg = json.loads(text)
        except json.JSONDecodeError:
            await self.error("bad_message", "text messages must be JSON")
            return
        if isinstance(msg, dict) and msg.get("type") == "room":
            await self._bind(msg)
            return
        if not isinstance(msg, dict) or msg.get("type") != "look":
            await self.error("bad_message", 'unknown message; expected {"type": "look", "products": [...]}')
            return
        try:
            look = await asyncio.to_thread(self._parse_look, msg.get("products"))  # may query the catalog
        except InvalidInput as exc:
            await self.error("bad_look", str(exc))
            return
        self.look = look  # the pipeline is rebuilt with it on the next frame
        await self.send_json({"type": "look", "products": len(look.products)})

    async def _bind(self, msg: dict[str, Any]) -> None:
        if self.binder is None:
            await self.error("bad_room", "this server has no rooms to bind to")
            return
        try:
            self.feed = await self.binder(msg)
        except InvalidInput as exc:
            await self.error("bad_room", str(exc))
            return
        self.feed_products = None
        await self._follow_feed()
        await self.send_json({"type": "room", "room": self.feed.room,
                              "products": 0 if self.look is None else len(self.look.products)})

    async def _follow_feed(self) -> None:
        """Take the bound room's look when it changed (None: frames pass through unchanged)."""
        if self.feed is None:
            return
        products = await self.feed.products()
        if products == self.feed_products:
            return
        self.feed_products = products
        if products is None:
            self.look = None
            return
        try:
            self.look = await asyncio.to_thread(self._parse_look, products)
        except InvalidInput as exc:
            self.look = None
            await self.error("bad_look", f"the room's look: {exc}")

    def _parse_look(self, products: object) -> Look:
        """The look; SKU entries are looked up in the product catalog (opened only for them)."""
        from tryon.catalog import ProductCatalog
        from tryon.look import parse_look

        with ProductCatalog(self.asset_settings, self.settings.cache_dir) as catalog:
            return parse_look(json.dumps(products), "look", catalog)

    async def render_loop(self) -> None:
        """Render the newest pending frame whenever one arrives and send the JPEG back with its timings."""
        while True:
            await self.ready.wait()
            self.ready.clear()
            job, self.pending = self.pending, None
            if job is None:
                continue
            try:
                await self._follow_feed()
            except Exception:
                logger.exception("the bound room's look could not be read")
            try:
                meta, jpeg = await asyncio.to_thread(self._render, job)
            except InvalidInput as exc:
                await self.error("bad_frame", f"frame {job.seq}: {exc.problem}")
                continue
            except Exception:
                logger.exception("live frame %d failed", job.seq)
                await self.error("internal", f"frame {job.seq} could not be processed")
                continue
            meta["latency_ms"] = round((time.monotonic() - job.received) * 1e3, 2)
            meta["dropped"] = self.dropped
            async with self.send_lock:
                await self.ws.send_text(json.dumps(meta))
                await self.ws.send_bytes(jpeg)

    def _render(self, job: _Pending) -> tuple[dict[str, Any], bytes]:
        from tryon import media
        from tryon.factory import create_tryon

        frame = media.decode_image(job.data, "frame")
        if self.look is None:  # bound room without an active look: the picture as it is
            passthrough = {"type": "frame", "seq": job.seq, "faces": 0, "shoes": 0, "timings": {},
                           "notes": ["no active look in the room"]}
            return passthrough, media.encode_jpeg(frame, self.settings.jpeg_quality)
        if self.tryon is None or self.tryon.look is not self.look:
            tracker = None
            if self.tryon is not None:
                self.tryon.provider.close()
                tracker = self.tryon.tracker  # the same faces: a new look does not fade them in again
            self.tryon = create_tryon(self.look, self.settings, "video")
            if tracker is not None:
                self.tryon.tracker = tracker
        result = self.tryon.process(frame, job.received - self.start)
        t = result.timings
        meta = {
            "type": "frame",
            "seq": job.seq,
            "faces": len(result.faces),
            "shoes": len(result.shoes_placed),
            "timings": {k: round(getattr(t, k), 2) for k in ("landmarks", "masks", "render", "pose", "shoes")},
            "notes": list(result.notes),
        }
        return meta, media.encode_jpeg(result.frame, self.settings.jpeg_quality)

    def close(self) -> None:
        """Release the try-on pipeline's landmark models."""
        if self.tryon is not None:
            self.tryon.provider.close()
            self.tryon = None


@router.websocket(LIVE_PATH)
async def live(
    ws: WebSocket,
    settings: Annotated[TryOnSettings, Depends(get_settings)],
    asset_settings: Annotated[AssetSettings, Depends(get_asset_settings)],
    binder: Annotated[LookBinder | None, Depends(get_look_binder)],
) -> None:
    """One live try-on connection: frames in, rendered frames out (see the module docstring)."""
    await ws.accept()
    try:
        session = LiveSession(ws, settings, asset_settings, binder)
    except TryOnError as exc:
        logger.error("live try-on cannot start: %s", exc)
        await ws.close(code=1011)
        return
    renderer = asyncio.create_task(session.render_loop())
    try:
        await session.receive_loop()
    except WebSocketDisconnect:
        pass
    finally:
        renderer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await renderer
        await asyncio.to_thread(session.close)
