"""RetailService: the fitting-room services of one server process, shared by the HTTP routes.

Flows (each refused call changes nothing):

* reads: reader key -> rate limit -> debounce -> tag -> catalog -> ``item.read`` on the room ->
  recommendations (``recs.set``), analytics ``item_tried`` (counted once per item and visit);
* frames: mirror -> decode in memory -> QR/1-D codes (``tryon.codes``) -> the same path as reads;
* sweep: items with no read for ``leave_after_s`` -> ``item.leave``;
* requests: validate against the room and the store's stock -> database -> fitting room + staff room;
  staff actions: database (one transaction, state checked) -> rooms;
* pairing, consent, wishlists, analytics: see the modules of the same names.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import secrets
import time
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ..protocol import auth
from ..protocol.limits import TokenBucket
from .cache import MISSING, TTLCache
from .catalog import StoreCatalog
from .debounce import ReadDebouncer
from .errors import RetailError
from .identity import Device
from .rooms import RoomGateway, fitting_room_id, split_fitting_room, staff_room_id

if TYPE_CHECKING:  # settings imports retail.settings: a run-time import here would be a cycle
    from ..settings import SessionSettings
    from .analytics import Analytics
    from .db import RetailDB
    from .devices import DeviceRegistry
    from .pairing import PairingCodes
    from .requests import RequestBook, StaffRequest
    from .wishlist import Wishlists

logger = logging.getLogger(__name__)
PAIRING_PATH = re.compile(r"(/api/pairing/)[^/?\s\"]+")
TAG = re.compile(r"^[\x21-\x7e]{1,256}$")  # printable ASCII without spaces: EPC, GTIN, a QR URL
MAX_BUCKETS = 10_000
REVOCATION_CHECK_S = 1.0
"""How often the device table is asked whether a key was revoked (checked keys are then dropped)."""
AUTH_CACHE_S = 5.0
"""A revocation takes effect within this even when the revocation check cannot run (keys are then looked up
again on every call)."""
DEVICE_CACHE_S = 300.0
"""A checked key is looked up again after this, revoked or not."""
TAG_CACHE_S = 30.0
RECS_CACHE_S = 60.0
STALE_S = 120.0
"""A catalog answer older than its cache time but younger than this is used once more while a fresh one is
looked up in the background: a read never waits for the database for a code seen in the last minutes."""
FLUSH_EVENTS_S = 5.0
SWEEP_BATCH = 100
"""Items that left, removed from their rooms at once by the sweeper."""


def database_url(settings: SessionSettings) -> str:
    """The retail tables' database: the session setting, else the catalog's database."""
    if settings.retail.database_url:
        return settings.retail.database_url
    from assets_pipeline.settings import AssetSettings

    return AssetSettings().catalog_database_url()


def _load_stores() -> None:
    """Import the modules of the retail tables (SQLAlchemy); blocking: run it in a worker thread."""
    from . import analytics, devices, pairing, requests, wishlist  # noqa: F401


def item_id(code: str) -> str:
    """The room's item id of a tag or code: the same code is always the same item."""
    return "i-" + hashlib.sha256(code.encode()).hexdigest()[:12]


class RedactPairingCodes(logging.Filter):
    """Access-log filter: a pairing code in a request path is shown as ``***``."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's path argument; never drops a record."""
        if isinstance(record.args, tuple) and any(isinstance(a, str) and "/api/pairing/" in a for a in record.args):
            record.args = tuple(PAIRING_PATH.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args)
        return True


class RetailService:
    """Devices, pairing, reads, requests, wishlists and analytics of one process, over one database."""

    def __init__(
        self, settings: SessionSettings, db: RetailDB | None, node: Any, catalog: StoreCatalog | None = None
    ) -> None:
        self.settings = settings
        self.r = settings.retail
        self._db = db
        self.node = node
        self.key = settings.token_secret.get_secret_value().encode()
        self.catalog = catalog or StoreCatalog()
        self.rooms = RoomGateway(node)
        self.debounce = ReadDebouncer(self.r.debounce_s, self.r.leave_after_s)
        self._buckets: dict[str, TokenBucket] = {}
        self._adopted: set[str] = set()  # rooms whose items this process tracks
        self._visits: dict[str, tuple[float | None, list[str]]] = {}  # room -> (visit start, skus tried)
        self._auth_cache = TTLCache(DEVICE_CACHE_S)
        self._auth_gen = 0  # bumped when the cache is dropped: a look-up begun before must not refill it
        self._auth_checked = float("-inf")  # when the last revocation check began (monotonic)
        self._revocations: tuple[int, int, float | None] | None = None
        self._first_key: asyncio.Task[None] | None = None  # database modules loaded, revocation check started
        self._tag_cache = TTLCache(TAG_CACHE_S, 50_000)
        self._recs_cache = TTLCache(RECS_CACHE_S, 20_000)
        self._refreshing: set[Any] = set()
        self._events: list[tuple[str, str, str | None, float | None, float]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[None]] = set()

    @classmethod
    def open(cls, settings: SessionSettings, node: Any) -> RetailService:
        """The service over the database the settings name (connected on first use)."""
        return cls(settings, None, node)

    @property
    def db(self) -> RetailDB:
        """The retail tables' database: the one given, else the settings' one, made on first use (SQLAlchemy
        loads then: a server whose fitting rooms are not used never loads it)."""
        if self._db is None:
            from .db import RetailDB

            self._db = RetailDB(database_url(self.settings))
        return self._db

    @cached_property
    def devices(self) -> DeviceRegistry:
        """Device keys (see ``db``)."""
        from .devices import DeviceRegistry

        return DeviceRegistry(self.db)

    @cached_property
    def pairing(self) -> PairingCodes:
        """Pairing codes (see ``db``)."""
        from .pairing import PairingCodes

        return PairingCodes(self.db, self.r.pairing_ttl_s)

    @cached_property
    def requests(self) -> RequestBook:
        """Staff requests (see ``db``)."""
        from .requests import RequestBook

        return RequestBook(self.db)

    @cached_property
    def wishlists(self) -> Wishlists:
        """Shoppers' wishlists (see ``db``)."""
        from .wishlist import Wishlists

        return Wishlists(self.db, self.r.max_wishlist_entries)

    @cached_property
    def analytics(self) -> Analytics:
        """Anonymous counts (see ``db``)."""
        from .analytics import Analytics

        return Analytics(self.db)

    async def start(self) -> None:
        """Start the sweeper and the analytics writer, and listen to the rooms' deltas. The database opens
        with its first call (usually a device's), and the revocation check starts with the first device key
        checked: a server whose fitting rooms are not used never opens it."""
        self._tasks = [asyncio.create_task(self._sweeper(), name="retail-sweeper"),
                       asyncio.create_task(self._flusher(), name="retail-analytics")]
        if hasattr(self.node, "add_listener"):
            self.node.add_listener(self._on_delta)

    async def close(self) -> None:
        """Stop background work and release the database and the catalog."""
        for task in [*self._tasks, *self._background]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._background, return_exceptions=True)
        self._tasks = []
        await self.flush_events()
        if self._db is not None:
            self._db.close()
        await asyncio.to_thread(self.catalog.close)

    def run(self, fn: Any, *args: Any) -> Any:
        """Run blocking database/catalog work in a worker thread (awaitable)."""
        return asyncio.to_thread(fn, *args)

    def _spawn(self, coro: Any) -> None:
        """Run follow-up work (recommendations, analytics) without holding up the caller."""
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def note_event(self, store: str, kind: str, sku: str | None = None, value: float | None = None) -> None:
        """Queue an anonymous analytics event; written with others about once a second."""
        self._events.append((store, kind, sku, value, time.time()))

    async def flush_events(self) -> None:
        """Write the queued analytics events in one transaction."""
        rows, self._events = self._events, []
        if rows:
            try:
                await self.run(self.analytics.record_many, rows)
            except Exception:
                logger.exception("%d analytics events were not written", len(rows))

    async def _flusher(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_EVENTS_S)
            await self.flush_events()

    async def analytics_summary(self, store: str, days: int) -> dict[str, Any]:
        """The store's anonymous counts (queued events included)."""
        await self.flush_events()
        return dict(await self.run(self.analytics.summary, store, days))

    async def authenticate(self, key: str) -> Device:
        """The device of a key. A key checked before is answered from memory while the revocation check
        (every ``REVOCATION_CHECK_S``) has seen no new revocation; a revocation takes effect within about a
        second, and within ``AUTH_CACHE_S`` at worst (when the check fails, every call looks the key up)."""
        if self._first_key is None:  # until the check has run, every call looks its key up
            self._first_key = asyncio.create_task(self._open_stores(), name="retail-open")
            self._tasks.append(self._first_key)
        await self._first_key
        ck = hashlib.sha256(key.encode()).digest()
        now = time.monotonic()
        if now - self._auth_checked < AUTH_CACHE_S:
            hit = self._auth_cache.get(ck, now)
            if hit is not MISSING:
                return hit  # type: ignore[no-any-return]
        gen = self._auth_gen
        device: Device = await self.run(self.devices.authenticate, key)
        if gen == self._auth_gen:
            self._auth_cache.put(ck, device, now)
        return device

    async def _open_stores(self) -> None:
        """With the first device key: load the database modules in a worker thread (the event loop keeps
        serving the rooms meanwhile), then start the revocation check."""
        await self.run(_load_stores)
        self._tasks.append(asyncio.create_task(self._revocation_watch(), name="retail-revocations"))

    async def check_revocations(self) -> None:
        """Drop the checked keys if a device was revoked (or added) since the last check."""
        began = time.monotonic()
        seen = await self.run(self.devices.revocations)
        if seen != self._revocations:
            self._auth_cache.clear()
            self._auth_gen += 1
            self._revocations = seen
        self._auth_checked = began

    async def _revocation_watch(self) -> None:
        while True:
            try:
                await self.check_revocations()
            except Exception as exc:  # the keys are looked up on every call until it works again
                logger.warning("device revocation check failed: %s", exc)
            await asyncio.sleep(REVOCATION_CHECK_S)

    async def _cached(self, cache: TTLCache, key: Any, load: Any, *args: Any) -> Any:
        """``load(*args)`` in a worker thread, through ``cache``: fresh answers as they are, answers up to
        ``STALE_S`` old as they are too while one refresh runs in the background, older ones awaited."""
        now = time.monotonic()
        hit = cache.get_aged(key, now, STALE_S)
        if hit is not MISSING:
            value, age = hit
            if age >= cache.ttl_s and key not in self._refreshing:
                self._refreshing.add(key)
                self._spawn(self._refresh(cache, key, load, *args))
            return value
        value = await self.run(load, *args)
        cache.put(key, value, now)
        return value

    async def _refresh(self, cache: TTLCache, key: Any, load: Any, *args: Any) -> None:
        try:
            began = time.monotonic()
            cache.put(key, await self.run(load, *args), began)
        except Exception as exc:  # the next call looks it up itself and gets the error
            cache.pop(key)
            if not isinstance(exc, RetailError):
                logger.warning("refreshing a cached catalog answer failed: %s", exc)
        finally:
            self._refreshing.discard(key)

    async def resolve(self, store: str, code: str) -> dict[str, Any] | None:
        """What a code stands for in ``store`` (cached ``TAG_CACHE_S``, see ``_cached``)."""
        return await self._cached(self._tag_cache, ("tag", store, code), self.catalog.resolve, store, code)  # type: ignore[no-any-return]

    async def recommend(self, store: str, sku: str, size: str | None, colour: str | None) -> dict[str, Any]:
        """Recommendations for an item (cached ``RECS_CACHE_S``, see ``_cached``)."""
        return await self._cached(self._recs_cache, ("recs", store, sku, size, colour), self.catalog.recommend,  # type: ignore[no-any-return]
                                  store, sku, size, colour)

    def _bucket(self, key: str, rate: float, burst: int) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= MAX_BUCKETS:
                self._buckets.clear()
            bucket = self._buckets[key] = TokenBucket(rate, burst, time.monotonic())
        return bucket

    # ---- pairing --------------------------------------------------------------------------------

    def pairing_url(self, code: str) -> str:
        """What the mirror's QR holds: the phone page with the code in the fragment (never sent to servers)."""
        base = self.r.public_url or f"http://{self.settings.host}:{self.settings.port}"
        return f"{base.rstrip('/')}{self.r.phone_path}#code={code}"

    async def pair_phone(self, code: str) -> dict[str, Any]:
        """Redeem a pairing code: pair a new phone participant with the room and give it a token."""
        found = await self.run(self.pairing.redeem, code)
        room_id = fitting_room_id(found.store, found.room)
        participant = "phone-" + secrets.token_hex(5)
        try:
            await self.rooms.command(room_id, {"type": "phone.pair", "participant": participant})
        except RetailError:
            await self.run(self.pairing.release, code)
            raise
        expires = time.time() + self.r.phone_token_ttl_s
        token = auth.sign(auth.Claims(room_id, participant, "phone", expires), self.key)
        return {"token": token, "room": room_id, "role": "phone", "participant": participant, "expires": expires,
                "store": found.store, "fitting_room": found.room, "ws": "/ws"}

    # ---- reads and frames -----------------------------------------------------------------------

    async def reads(self, device: Device, tags: list[str], source: str = "rfid") -> list[dict[str, Any]]:
        """Tag reads of a reader (or codes seen by a mirror): one result per distinct code."""
        assert device.room is not None
        now = time.monotonic()
        bucket = self._bucket(f"reads:{device.id}", self.r.reads_per_second, self.r.reads_burst)
        if not bucket.take(now, float(len(tags))):
            raise RetailError("rate_limited", f"device {device.id} sends more than {self.r.reads_per_second:g} "
                              "reads a second; reads were dropped", field="reads")
        room_id = fitting_room_id(device.store, device.room)
        if room_id not in self._adopted:
            await self._adopt(room_id, now)
        results = []
        for code in dict.fromkeys(tags):
            try:
                send = self.debounce.note(room_id, code, now)
            except OverflowError:
                raise RetailError("rate_limited", "too many items are being tracked on this server",
                                  field="reads") from None
            if not send:
                results.append({"tag": code, "item": item_id(code), "status": "debounced"})
                continue
            try:
                results.append(await self._read_one(device.store, device.room, code, source))
            except RetailError as exc:
                self.debounce.unsent(room_id, code)
                if exc.code in ("wrong_store",):
                    results.append({"tag": code, "status": "refused", **exc.body()})
                    continue
                raise
        return results

    async def _adopt(self, room_id: str, now: float) -> None:
        """First reads of a room on this process: its tagged items (added by another process, or before a
        restart) are tracked from now, so they leave if no read confirms them."""
        try:
            state = await self.room_state(room_id)
        except RetailError:
            return  # tried again with the next reads
        for item in (state.get("items") or {}).values():
            tag = item.get("tag")
            if isinstance(tag, str):
                with contextlib.suppress(OverflowError):
                    self.debounce.note(room_id, tag, now)
        if len(self._adopted) >= MAX_BUCKETS:
            self._adopted.clear()
        self._adopted.add(room_id)

    async def _read_one(self, store: str, room: str, code: str, source: str) -> dict[str, Any]:
        payload = await self.resolve(store, code)
        room_id = fitting_room_id(store, room)
        iid = item_id(code)
        cmd: dict[str, Any] = {"type": "item.read", "item": iid, "tag": code, "source": source,
                               "known": payload is not None}
        for field in ("sku", "size", "colour", "name", "price", "currency", "model_url", "image_url"):
            cmd[field] = None if payload is None else payload.get(field)
        result = await self.rooms.command(room_id, cmd)
        added = bool(result.get("added"))
        if added and payload is not None:
            self._spawn(self._after_add(store, room_id, iid, payload, result))
        return {"tag": code, "item": iid, "status": "added" if added else "present", "known": payload is not None,
                "sku": cmd["sku"], "size": cmd["size"], "colour": cmd["colour"], "name": cmd["name"]}

    async def _after_add(self, store: str, room_id: str, iid: str, payload: dict[str, Any],
                         result: dict[str, Any]) -> None:
        """Recommendations for a new item, analytics; failures are logged, never shown to the reader."""
        try:
            self.note_event(store, "item_tried", payload["sku"])
            recs = await self.recommend(store, payload["sku"], payload["size"], payload["colour"])
            await self.rooms.command(room_id, {"type": "recs.set", "item": iid, "recs": recs})
        except (RetailError, OSError) as exc:
            logger.warning("room %s: recommendations for a new item failed: %s", room_id, exc)
        except Exception:
            logger.exception("room %s: recommendations for a new item failed", room_id)

    async def frame(self, store: str, room: str, data: bytes) -> dict[str, Any]:
        """Codes in one camera frame (decoded in memory, never kept), read into the room."""
        from .recognition import decode_frame

        bucket = self._bucket(f"frames:{store}.{room}", self.r.frames_per_second,
                              max(1, int(self.r.frames_per_second)))
        if not bucket.take(time.monotonic()):
            raise RetailError("rate_limited", f"more than {self.r.frames_per_second:g} frames a second; frame dropped",
                              field="frame")
        codes = await self.run(decode_frame, data, self.r.max_frame_bytes, self.r.max_frame_pixels)
        del data
        device = Device(f"mirror:{store}.{room}", store, room, "mirror", None, 0.0, None)
        by_source: dict[str, list[str]] = {}
        for code in codes:
            by_source.setdefault("qr" if code["kind"] == "qr" else "barcode", []).append(code["text"])
        results: list[dict[str, Any]] = []
        for source, texts in by_source.items():
            results += await self.reads(device, [t for t in texts if TAG.match(t)], source)
        return {"codes": codes, "results": results}

    async def _sweeper(self) -> None:
        while True:
            await asyncio.sleep(self.r.sweep_interval_s)
            await self.sweep(time.monotonic())

    async def sweep(self, now: float) -> int:
        """Remove the items with no read for ``leave_after_s`` from their rooms, ``SWEEP_BATCH`` at a time
        (each is a round trip to its room: one after the other, 100 of them took longer than a sweep
        interval); returns how many left."""
        gone = self.debounce.expired(now)
        for i in range(0, len(gone), SWEEP_BATCH):
            await asyncio.gather(*(self._leave(room_id, code) for room_id, code in gone[i:i + SWEEP_BATCH]))
        return len(gone)

    async def _leave(self, room_id: str, code: str) -> None:
        try:  # by tag: whichever process added it, under whatever id
            await self.rooms.command(room_id, {"type": "item.leave", "tag": code})
        except RetailError as exc:
            if exc.cause != "unknown_item":  # already removed on the mirror or the visit ended
                logger.warning("room %s: an item that left could not be removed: %s", room_id, exc.code)
        except Exception:
            logger.exception("room %s: leave failed", room_id)

    # ---- rooms, listener ------------------------------------------------------------------------

    async def room_state(self, room_id: str) -> dict[str, Any]:
        """The room's current state (snapshot form), from the node that orders the room's changes."""
        try:
            result = await self.rooms.command(room_id, {"type": "state"})
        except RetailError as exc:
            if exc.cause not in ("unknown_type", "bad_message"):
                raise
            hub = await self.node.get_hub(room_id)  # a session core without the state command: the local copy
            snap = hub.mirror.snapshot()
            return snap if isinstance(snap, dict) else {}
        state = result.get("state")
        return state if isinstance(state, dict) else {}

    def _on_delta(self, room_id: str, delta: dict[str, Any]) -> None:
        """Listener of every delta of this node's rooms: visit lengths, co-tried pairs and try-ons for the
        analytics, requests closed by a visit's end or by a staff member over the WebSocket into the database.
        The node calls it on the process that orders the room, once per delta in the cluster."""
        op, data = delta.get("op"), delta.get("data") or {}
        if room_id.startswith("staff."):
            if op == "request.updated":
                self._spawn(self._sync_request(room_id.removeprefix("staff."), data))
            return
        where = split_fitting_room(room_id)
        if where is None:
            return
        if op == "visit.started":
            visit = data.get("visit") or {}
            self._visits[room_id] = (visit.get("started"), [])
        elif op == "item.added" and isinstance(data.get("sku"), str):
            self._visits.setdefault(room_id, (None, []))[1].append(data["sku"])
        elif op == "visit.cleared":
            track = self._visits.pop(room_id, (None, []))
            self.debounce.forget_room(room_id)
            self._spawn(self._visit_ended(where[0], where[1], data, track))
        elif op == "look.set" and data.get("active"):
            skus = [str(x) for x in data.get("skus") or []]
            for sku in skus:
                self.note_event(where[0], "tryon", sku)

    async def _visit_ended(self, store: str, room: str, data: dict[str, Any],
                           track: tuple[float | None, list[str]]) -> None:
        """A visit ended (mirror, timeout): its open requests are cancelled; length and co-tried pairs counted."""
        started = data.get("started", track[0])
        ended = data.get("at") or time.time()
        if isinstance(started, (int, float)):  # counted at once: a summary asked for right after the visit has it
            self.note_event(store, "visit", None, max(0.0, float(ended) - started))
        try:
            await self.run(self.requests.cancel_open, store, room)
            skus = [s for s in data.get("skus") or track[1] if isinstance(s, str)]
            await self.run(self.catalog.record_cotried, store, skus)
        except Exception:
            logger.exception("the end of a visit in %s/%s was not recorded", store, room)

    async def _sync_request(self, store: str, data: dict[str, Any]) -> None:
        """A request changed in the staff room (a staff tablet's WebSocket action): store the new state."""
        action = {"accepted": "accept", "delivered": "deliver", "unavailable": "unavailable",
                  "cancelled": "cancel"}.get(str(data.get("state")))
        rid = data.get("request")
        if action is None or not isinstance(rid, str):
            return
        try:
            await self.run(self.requests.act, rid, action, store, str(data.get("by_staff") or "staff"))
        except RetailError as exc:
            if exc.code not in ("conflict", "unknown_request"):  # already stored by the HTTP path
                logger.warning("request %s: state from the staff room not stored: %s", rid, exc)
        except Exception:
            logger.exception("request %s: state from the staff room not stored", rid)

    # ---- requests -------------------------------------------------------------------------------

    async def create_request(self, store: str, room: str, kind: str, item: str | None, size: str | None,
                             colour: str | None) -> StaffRequest:
        """Validate against the room and the stock, store, then tell the fitting room and the staff room."""
        room_id = fitting_room_id(store, room)
        sku = None
        if kind in ("size", "colour"):
            if not item:
                raise RetailError("bad_request", f"a {kind} request names the item", field="item")
            state = await self.room_state(room_id)
            found = (state.get("items") or {}).get(item)
            if found is None:
                raise RetailError("unknown_item", f"item {item} is not in the room", field="item")
            if not found.get("known") or not found.get("sku"):
                raise RetailError("unknown_sku", "the item is not in the catalog; ask an assistant instead",
                                  field="item")
            sku = found["sku"]
            if kind == "size" and not size:
                raise RetailError("bad_request", "a size request names the size", field="size")
            if kind == "colour" and not colour:
                raise RetailError("bad_request", "a colour request names the colour", field="colour")
            variant = await self.run(self.catalog.variant, store, sku, size or found.get("size") or "",
                                     colour or found.get("colour") or "")
            size, colour = variant["size"], variant["colour"]
        elif item is not None:
            state = await self.room_state(room_id)
            if item not in (state.get("items") or {}):
                raise RetailError("unknown_item", f"item {item} is not in the room", field="item")
        req = await self.run(self.requests.create, store, room, kind, item, sku, size, colour)
        try:  # the fitting room forwards it to the store's staff room
            await self.rooms.command(room_id, {"type": "request.create", "request": req.id, "kind": kind,
                                               "item": item, "size": size, "colour": colour})
        except RetailError:
            await self.run(self.requests.remove, req.id)
            raise
        self.note_event(store, "request_made", sku)
        return req

    async def act_on_request(self, request_id: str, action: str, store: str, staff: str) -> StaffRequest:
        """A staff action: stored first (state checked in one transaction), then shown in both rooms (the
        fitting room forwards it to the staff room; when the fitting room no longer has the request, e.g.
        after a restart without Redis, the staff room is told directly)."""
        req = await self.run(self.requests.act, request_id, action, store, staff)
        cmd = {"type": "request.update", "request": req.id, "state": req.state, "by_staff": req.by_staff}
        try:
            await self.rooms.command(fitting_room_id(req.store, req.room), cmd)
        except RetailError as exc:
            logger.info("fitting room %s does not show request %s (%s); telling the staff room", req.room, req.id,
                        exc.cause or exc.code)
            try:
                add = {"type": "request.add", "request": req.id, "room": req.room, "kind": req.kind,
                       "item": req.item, "sku": req.sku, "size": req.size, "colour": req.colour}
                await self.rooms.command(staff_room_id(req.store), add)  # no-op when the staff room has it
                await self.rooms.command(staff_room_id(req.store), cmd)
            except RetailError as exc2:  # stored already; the staff page loads requests from the API
                logger.warning("staff room of %s was not told of request %s: %s", req.store, req.id, exc2.code)
        return req

    # ---- consent and wishlists ------------------------------------------------------------------

    async def check_paired(self, store: str, room: str, participant: str) -> None:
        """RetailError unless ``participant`` is the phone paired with the room now."""
        state = await self.room_state(fitting_room_id(store, room))
        phone = state.get("phone") or {}
        if phone.get("participant") != participant:
            raise RetailError("no_visit", "this phone is no longer paired with the room; scan the mirror's code",
                              field="authorization")
