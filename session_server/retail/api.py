"""HTTP API of the smart fitting rooms (mounted by the session server's ``create_app``).

Authentication: ``Authorization: Device <key>`` (mirrors, readers, staff tablets; keys from
``python -m session_server devices add``) or ``Authorization: Bearer <room token>`` (from
``/api/devices/token`` or a pairing). Errors: HTTP status + ``{"error", "code", "field", "message"}``;
a refused call changes nothing. See the "Smart fitting rooms" section of the README for the flows.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..protocol import auth
from ..protocol.errors import AuthError, ProtocolError
from .errors import RetailError
from .identity import Device, check_name
from .rooms import fitting_room_id, staff_room_id

logger = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)
MAX_JSON_BYTES = 256 * 1024


def error_response(exc: RetailError) -> JSONResponse:
    """The JSON answer of a refused call."""
    return JSONResponse(exc.body(), status_code=exc.status)


class RetailRoute(APIRoute):
    """Maps RetailError, session errors and request validation to the JSON error body."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        """Return the route's handler with retail errors turned into JSON error responses."""
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except RetailError as exc:
                return error_response(exc)
            except AuthError as exc:
                code = exc.code if exc.code in ("bad_token", "token_expired", "wrong_room") else "bad_token"
                return error_response(RetailError(code, exc.detail(), field=exc.field or "authorization"))
            except ProtocolError as exc:
                logger.warning("%s %s refused: %s", request.method, request.scope.get("route").path, exc.code)
                return error_response(RetailError("conflict", exc.detail(), field=exc.field))
            except RequestValidationError as exc:
                first = exc.errors()[0] if exc.errors() else {}
                field = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
                return error_response(RetailError("bad_request", str(first.get("msg", "invalid request")),
                                                  field=field))

        return route


router = APIRouter(tags=["fitting rooms"], route_class=RetailRoute)


def service(request: Request) -> Any:
    """The RetailService of the app."""
    return request.app.state.retail


async def read_limited(request: Request, limit: int, field: str) -> bytes:
    """The request body, read no further than ``limit`` bytes (a longer one is refused as it streams in)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RetailError("too_large", f"{field} of {int(declared)} bytes exceeds {limit}", field=field)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RetailError("too_large", f"{field} is larger than {limit} bytes", field=field)
        chunks.append(chunk)
    return b"".join(chunks)


async def body(request: Request, model: type[M], limit: int = MAX_JSON_BYTES) -> M:
    """Parse the JSON body into ``model``; one clear error naming the field otherwise."""
    raw = await read_limited(request, limit, "body")
    try:
        data = json.loads(raw or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise RetailError("bad_request", "body must be JSON", field="body") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "body"
        raise RetailError("bad_request", first["msg"], field=field) from None


def _authorization(request: Request) -> tuple[str, str]:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if not value.strip():
        raise RetailError("auth_required", "send 'Authorization: Device <key>' or 'Bearer <token>'",
                          field="authorization")
    return scheme.lower(), value.strip()


async def device_of(request: Request, kinds: tuple[str, ...]) -> Device:
    """The device whose key authorises this call, of one of ``kinds``."""
    scheme, value = _authorization(request)
    if scheme != "device":
        raise RetailError("auth_required", "this call needs 'Authorization: Device <key>'", field="authorization")
    svc = service(request)
    device: Device = await svc.authenticate(value)
    if device.kind not in kinds:
        raise RetailError("forbidden", f"a {device.kind} device may not do this (needs {' or '.join(kinds)})",
                          field="authorization")
    return device


def claims_of(request: Request, roles: tuple[str, ...]) -> auth.Claims:
    """The verified room token of this call, with one of ``roles``."""
    scheme, value = _authorization(request)
    if scheme != "bearer":
        raise RetailError("auth_required", "this call needs 'Authorization: Bearer <room token>'",
                          field="authorization")
    claims = auth.verify(value, service(request).key, time.time())
    if claims.role not in roles:
        raise RetailError("forbidden", f"role {claims.role} may not do this (needs {' or '.join(roles)})",
                          field="authorization")
    return claims


async def room_caller(request: Request, store: str, room: str, roles: tuple[str, ...]) -> tuple[str, str]:
    """(role, participant) of a call on a fitting room: a room token for it, or the mirror's device key."""
    check_name(store, "store")
    check_name(room, "room")
    scheme, _ = _authorization(request)
    if scheme == "device":
        device = await device_of(request, ("mirror", "staff"))
        if device.store != store:
            raise RetailError("wrong_store", f"device {device.id} belongs to store {device.store}", field="store")
        if device.kind == "mirror" and device.room != room:
            raise RetailError("wrong_room", f"device {device.id} belongs to room {device.room}", field="room")
        role = device.kind
        if role not in roles:
            raise RetailError("forbidden", f"a {role} may not do this", field="authorization")
        return role, participant_of(device)
    claims = claims_of(request, roles)
    if claims.role == "staff":
        if claims.room != staff_room_id(store) and claims.room != fitting_room_id(store, room):
            raise RetailError("wrong_store", "the token belongs to another store", field="authorization")
    elif claims.room != fitting_room_id(store, room):
        raise RetailError("wrong_room", "the token names another room", field="authorization")
    return claims.role, claims.participant


def participant_of(device: Device) -> str:
    """The participant id a device joins rooms as."""
    return f"{device.kind}-{device.id.removeprefix('dev_')}"


# ---- device keys -> room tokens -------------------------------------------------------------------

@router.post("/api/devices/token")
async def device_token(request: Request) -> dict[str, Any]:
    """Exchange a mirror's or staff tablet's device key for a short-lived room token."""
    svc = service(request)
    device = await device_of(request, ("mirror", "staff", "reader"))
    if device.kind == "reader":
        raise RetailError("forbidden", "readers post their reads with their device key; they get no room token",
                          field="authorization")
    room = fitting_room_id(device.store, device.room) if device.kind == "mirror" else staff_room_id(device.store)
    expires = time.time() + svc.settings.retail.device_token_ttl_s
    participant = participant_of(device)
    token = auth.sign(auth.Claims(room, participant, device.kind, expires), svc.key)
    return {"token": token, "room": room, "role": device.kind, "participant": participant, "expires": expires,
            "store": device.store, "fitting_room": device.room, "ws": "/ws"}


# ---- pairing --------------------------------------------------------------------------------------

@router.post("/api/rooms/{store}/{room}/pairing")
async def new_pairing(request: Request, store: str, room: str) -> dict[str, Any]:
    """A one-time pairing code for the mirror's QR (older unused codes of the room stop working)."""
    svc = service(request)
    await room_caller(request, store, room, ("mirror",))
    code, expires = await svc.db.run(svc.pairing.issue, store, room)
    return {"code": code, "url": svc.pairing_url(code), "expires": expires, "ttl_s": svc.settings.retail.pairing_ttl_s}


class PairBody(BaseModel):
    """Body of ``POST /api/pairing``."""

    code: str


@router.post("/api/pairing")
async def pair(request: Request) -> dict[str, Any]:
    """Exchange a pairing code (in the body, so it never appears in access logs) for a phone token."""
    return await service(request).pair_phone((await body(request, PairBody)).code)


@router.post("/api/pairing/{code}")
async def pair_by_path(request: Request, code: str) -> dict[str, Any]:
    """Same as ``POST /api/pairing``; the access log shows the path with the code redacted."""
    return await service(request).pair_phone(code)


# ---- reader reads and camera frames ---------------------------------------------------------------

class Read(BaseModel):
    """One tag read."""

    model_config = ConfigDict(extra="ignore")
    tag: str = Field(min_length=1, max_length=256, pattern=r"^[\x21-\x7e]+$")
    rssi: float | None = None


class ReadsBody(BaseModel):
    """Body of ``POST /api/readers/reads``; ``store``/``room``, when the reader sends them, must be its own."""

    reads: list[Read]
    store: str | None = Field(None, max_length=40)
    room: str | None = Field(None, max_length=40)


@router.post("/api/readers/reads")
async def reader_reads(request: Request) -> dict[str, Any]:
    """Tag reads of an RFID/barcode reader (its device key): debounced, resolved, put in its room."""
    svc = service(request)
    device = await device_of(request, ("reader",))
    parsed = await body(request, ReadsBody)
    if len(parsed.reads) > svc.r.max_reads_per_post:
        raise RetailError("too_many", f"{len(parsed.reads)} reads in one post; at most {svc.r.max_reads_per_post}",
                          field="reads")
    if parsed.store is not None and parsed.store != device.store:
        raise RetailError("wrong_store", f"reader {device.id} belongs to store {device.store}, not {parsed.store}",
                          field="store")
    if parsed.room is not None and parsed.room != device.room:
        raise RetailError("wrong_room", f"reader {device.id} belongs to fitting room {device.room}, not "
                          f"{parsed.room}", field="room")
    results = await svc.reads(device, [r.tag for r in parsed.reads])
    return {"room": fitting_room_id(device.store, device.room or ""), "results": results}


@router.post("/api/rooms/{store}/{room}/frame")
async def mirror_frame(request: Request, store: str, room: str) -> dict[str, Any]:
    """A camera frame of the mirror (JPEG/PNG body): codes found in memory, read into the room."""
    svc = service(request)
    await room_caller(request, store, room, ("mirror",))
    data = await read_limited(request, svc.r.max_frame_bytes, "frame")
    return dict(await svc.frame(store, room, data))


# ---- rooms ------------------------------------------------------------------------------------------

@router.get("/api/rooms/{store}/{room}")
async def room_state(request: Request, store: str, room: str) -> dict[str, Any]:
    """The fitting room's state (the same object a WebSocket snapshot carries)."""
    svc = service(request)
    await room_caller(request, store, room, ("mirror", "phone", "staff"))
    return {"room": fitting_room_id(store, room), "state": await svc.room_state(fitting_room_id(store, room))}


@router.post("/api/rooms/{store}/{room}/visit/end")
async def end_visit(request: Request, store: str, room: str) -> dict[str, Any]:
    """End the visit on the mirror: the room is cleared and the phone unpaired."""
    svc = service(request)
    await room_caller(request, store, room, ("mirror", "staff"))
    result = await svc.rooms.command(fitting_room_id(store, room), {"type": "visit.end"})
    return {"room": fitting_room_id(store, room), "ended": result.get("visit")}


@router.get("/api/stores/{store}/rooms")
async def store_rooms(request: Request, store: str) -> dict[str, Any]:
    """Summaries of the store's fitting rooms (items, open requests, phone, mirror, visit)."""
    svc = service(request)
    await staff_of(request, store)
    state = await svc.room_state(staff_room_id(store))
    return {"store": store, "rooms": state.get("rooms") or {}}


# ---- requests ---------------------------------------------------------------------------------------

class RequestBody(BaseModel):
    """Body of ``POST /api/rooms/{store}/{room}/requests``."""

    kind: Literal["size", "colour", "assistant"]
    item: str | None = Field(None, max_length=64)
    size: str | None = Field(None, min_length=1, max_length=32)
    colour: str | None = Field(None, min_length=1, max_length=64)


@router.post("/api/rooms/{store}/{room}/requests", status_code=201)
async def new_request(request: Request, store: str, room: str) -> dict[str, Any]:
    """"Bring me size M", "this in another colour", "call an assistant" (mirror or phone)."""
    svc = service(request)
    await room_caller(request, store, room, ("mirror", "phone"))
    b = await body(request, RequestBody)
    req = await svc.create_request(store, room, b.kind, b.item, b.size, b.colour)
    return req.as_dict()


async def staff_of(request: Request, store: str) -> str:
    """The staff participant of a call for ``store`` (staff device key or staff token)."""
    check_name(store, "store")
    scheme, _ = _authorization(request)
    if scheme == "device":
        device = await device_of(request, ("staff",))
        if device.store != store:
            raise RetailError("wrong_store", f"device {device.id} belongs to store {device.store}", field="store")
        return participant_of(device)
    claims = claims_of(request, ("staff",))
    if claims.room != staff_room_id(store):
        raise RetailError("wrong_store", "the token belongs to another store", field="authorization")
    return claims.participant


async def staff_store(request: Request) -> tuple[str, str]:
    """(store, staff participant) of a staff call that names no store."""
    scheme, _ = _authorization(request)
    if scheme == "device":
        device = await device_of(request, ("staff",))
        return device.store, participant_of(device)
    claims = claims_of(request, ("staff",))
    if not claims.room.startswith("staff."):
        raise RetailError("forbidden", "needs a staff token", field="authorization")
    return claims.room.removeprefix("staff."), claims.participant


@router.get("/api/stores/{store}/requests")
async def list_requests(request: Request, store: str, state: str | None = None,
                        room: str | None = None) -> dict[str, Any]:
    """The store's requests (``state=open,accepted`` for the queue), oldest first; from the database."""
    svc = service(request)
    await staff_of(request, store)
    states = tuple(s for s in (state or "").split(",") if s) or None
    known = ("open", "accepted", "delivered", "unavailable", "cancelled")
    for s in states or ():
        if s not in known:
            raise RetailError("bad_request", f"state {s!r} is not one of {', '.join(known)}", field="state")
    if room is not None:
        check_name(room, "room")
    found = await svc.run(svc.requests.list, store, room, states)
    return {"store": store, "requests": [r.as_dict() for r in found]}


@router.post("/api/requests/{request_id}/{action}")
async def request_action(request: Request, request_id: str, action: str) -> dict[str, Any]:
    """Staff action on a request: ``accept``, ``deliver`` or ``unavailable``."""
    svc = service(request)
    if action not in ("accept", "deliver", "unavailable"):
        raise RetailError("bad_request", "action must be accept, deliver or unavailable", field="action")
    store, staff = await staff_store(request)
    req = await svc.act_on_request(request_id, action, store, staff)
    return req.as_dict()


# ---- consent, wishlist ------------------------------------------------------------------------------

class ConsentBody(BaseModel):
    """Body of ``POST /api/rooms/{store}/{room}/consent``."""

    wishlist: bool


@router.post("/api/rooms/{store}/{room}/consent")
async def consent(request: Request, store: str, room: str) -> dict[str, Any]:
    """The shopper's choice, on the paired phone: keep a wishlist after the visit (a key is returned once)."""
    svc = service(request)
    _, participant = await room_caller(request, store, room, ("phone",))
    b = await body(request, ConsentBody)
    await svc.check_paired(store, room, participant)
    if not b.wishlist:
        return {"wishlist": False, "kept": "nothing of the visit is kept after it ends"}
    shopper, key = await svc.run(svc.wishlists.consent)
    return {"wishlist": True, "shopper": shopper, "key": key,
            "use": "send 'Authorization: Shopper <key>' to /api/wishlist; DELETE /api/wishlist deletes everything"}


async def shopper_of(request: Request) -> str:
    """The shopper of a wishlist call (``Authorization: Shopper <key>``)."""
    scheme, value = _authorization(request)
    if scheme == "bearer":
        raise RetailError("consent_required", "agree to keep a wishlist first (POST .../consent); without it "
                          "nothing of the visit is kept", field="authorization")
    if scheme != "shopper":
        raise RetailError("auth_required", "send 'Authorization: Shopper <key>'", field="authorization")
    svc = service(request)
    return str(await svc.run(svc.wishlists.authenticate, value))


class WishBody(BaseModel):
    """Body of ``POST /api/wishlist``: an item, or a look (several SKUs)."""

    sku: str = Field(min_length=1, max_length=64)
    size: str | None = Field(None, max_length=32)
    colour: str | None = Field(None, max_length=64)
    look: list[str] | None = Field(None, max_length=20)
    store: str | None = Field(None, max_length=40)


@router.get("/api/wishlist")
async def get_wishlist(request: Request) -> dict[str, Any]:
    """Everything kept about the shopper."""
    svc = service(request)
    shopper = await shopper_of(request)
    return dict(await svc.run(svc.wishlists.show, shopper))


@router.post("/api/wishlist", status_code=201)
async def add_wish(request: Request) -> dict[str, Any]:
    """Save an item or a look to the wishlist."""
    svc = service(request)
    shopper = await shopper_of(request)
    b = await body(request, WishBody)
    for sku in [b.sku, *(b.look or [])]:
        await svc.run(svc.catalog.check_sku, sku)
    entry = await svc.run(svc.wishlists.add, shopper, b.sku, b.size, b.colour, b.look)
    if b.store:
        check_name(b.store, "store")
        svc.note_event(b.store, "look_saved", b.sku)
    return dict(entry)


@router.delete("/api/wishlist")
async def forget_shopper(request: Request) -> dict[str, Any]:
    """Delete everything about the shopper: entries, consent, key."""
    svc = service(request)
    shopper = await shopper_of(request)
    return {"deleted": await svc.run(svc.wishlists.forget, shopper)}


@router.delete("/api/wishlist/{entry}")
async def remove_wish(request: Request, entry: int) -> dict[str, Any]:
    """Delete one wishlist entry."""
    svc = service(request)
    shopper = await shopper_of(request)
    await svc.run(svc.wishlists.remove, shopper, entry)
    return {"deleted": entry}


# ---- analytics --------------------------------------------------------------------------------------

@router.get("/api/stores/{store}/analytics")
async def analytics(request: Request, store: str, days: int = 7) -> dict[str, Any]:
    """Anonymous counts of the last ``days`` days (no shopper, phone, device or visit identifiers)."""
    svc = service(request)
    await staff_of(request, store)
    if not 1 <= days <= 366:
        raise RetailError("bad_request", "days must be 1-366", field="days")
    return await svc.analytics_summary(store, days)
