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
from typing import Any, TypeVar

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

from ..protocol import auth
from ..protocol.errors import AuthError, ProtocolError
from .devices import Device, check_name
from .errors import RetailError
from .rooms import fitting_room_id, split_fitting_room, staff_room_id

logger = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)
MAX_JSON_BYTES = 256 * 1024


def error_response(exc: RetailError) -> JSONResponse:
    """The JSON answer of a refused call."""
    return JSONResponse(exc.body(), status_code=exc.status)


class RetailRoute(APIRoute):
    """Maps RetailError, session errors and request validation to the JSON error body."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
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


async def body(request: Request, model: type[M], limit: int = MAX_JSON_BYTES) -> M:
    """Parse the JSON body into ``model``; one clear error naming the field otherwise."""
    raw = await request.body()
    if len(raw) > limit:
        raise RetailError("too_large", f"body of {len(raw)} bytes exceeds {limit}", field="body")
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
    device: Device = await svc.db.run(svc.devices.authenticate, value)
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


__all__ = ["router", "split_fitting_room"]
