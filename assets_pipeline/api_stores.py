"""HTTP API of the catalog's retail layer: stores, fitting rooms, stock, tags and recommendations.

    GET    /stores                                  stores with rooms and stock totals
    POST   /stores                                  create (or with ``update``: update) a store
    GET    /stores/{store}                          one store
    DELETE /stores/{store}                          remove it with its rooms, stock, store tags, history
    PUT    /stores/{store}/rooms/{room}             add a fitting room
    DELETE /stores/{store}/rooms/{room}             remove a fitting room
    GET    /stores/{store}/stock                    stock rows (sku filter, paging)
    PUT    /stores/{store}/stock                    set one row: sku, size, colour, quantity[, price, currency]
    POST   /stores/{store}/stock/import             body: a stock CSV (``replace`` zeroes what it omits)
    GET    /stores/{store}/recommendations/{sku}    variants, co-tried, matches (size, colour, limit)
    POST   /stores/import                           body: a stores CSV
    GET    /tags?code=...                           what a code stands for (404 if unknown)
    PUT    /tags                                    map a code: code, sku, size, colour[, store]
    DELETE /tags?code=...                           forget a code
    POST   /tags/import                             body: a tags CSV

Reads follow the catalog's rule (open unless ``PHYGITAL_ASSETS_API_READ_TOKEN_REQUIRED``); changes need a token
with role ``manager``. A refused CSV answers 422 ``invalid_csv`` with ``lines``: one ``{line, field, message}``
per bad line; nothing is written.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from .api import _AssetRoute, _claims, _reader, _service
from .errors import InvalidAsset, LimitExceeded, NotFound
from .tokens import require_role

if TYPE_CHECKING:  # the catalog (SQLAlchemy) loads with the first call, not when the routes are declared
    from .catalog.retail import Retail

router = APIRouter(tags=["stores"], route_class=_AssetRoute)


def _retail_reader(request: Request) -> Retail:
    from .catalog.retail import Retail

    return Retail(_reader(request).catalog)


def _retail_manager(request: Request) -> Retail:
    from .catalog.retail import Retail

    service = _service(request)
    require_role(_claims(request, service), "manager")
    return Retail(service.catalog)


class StoreBody(BaseModel):
    """A store to create: id, name, time zone, fitting rooms."""

    id: str = Field(max_length=32)
    name: str | None = Field(default=None, max_length=200)
    timezone: str = Field(default="UTC", max_length=64)
    rooms: list[str] = Field(default_factory=list, max_length=500)
    update: bool = False
    """Update the store if it exists (name, time zone; rooms are added)."""


class StockBody(BaseModel):
    """One stock row: SKU, size, colour, quantity and an optional price (text like 19.99) and currency."""

    sku: str = Field(max_length=64)
    size: str = Field(max_length=64)
    colour: str = Field(max_length=64)
    quantity: int
    price: str | None = Field(default=None, max_length=32)
    currency: str | None = Field(default=None, max_length=8)


class TagBody(BaseModel):
    """A code on a garment and what it stands for; ``store`` for codes of one store's pieces."""

    code: str = Field(max_length=1024)
    sku: str = Field(max_length=64)
    size: str = Field(max_length=64)
    colour: str = Field(max_length=64)
    store: str | None = Field(default=None, max_length=32)


@router.get("/stores", summary="Stores with their fitting rooms and stock totals")
def list_stores(request: Request) -> list[dict[str, Any]]:
    """Every store."""
    return [asdict(s) for s in _retail_reader(request).list_stores()]


@router.post("/stores", status_code=201, summary="Create a store (needs a manager token)")
def create_store(request: Request, body: StoreBody) -> dict[str, Any]:
    """Create (or update) a store and its fitting rooms."""
    return asdict(_retail_manager(request).add_store(body.id, body.name, body.timezone, rooms=body.rooms,
                                                     exist_ok=body.update))


@router.get("/stores/{store}", summary="A store")
def get_store(request: Request, store: str) -> dict[str, Any]:
    """One store with its rooms and stock totals."""
    return asdict(_retail_reader(request).get_store(store))


@router.delete("/stores/{store}", status_code=204, summary="Remove a store (needs a manager token)")
def delete_store(request: Request, store: str) -> Response:
    """Remove a store with its rooms, stock, store-bound tags and co-tried history."""
    _retail_manager(request).remove_store(store)
    return Response(status_code=204)


@router.put("/stores/{store}/rooms/{room}", status_code=201, summary="Add a fitting room (needs a manager token)")
def add_room(request: Request, store: str, room: str) -> dict[str, Any]:
    """Add a fitting room; answers the store."""
    retail = _retail_manager(request)
    retail.add_fitting_room(store, room)
    return asdict(retail.get_store(store))


@router.delete("/stores/{store}/rooms/{room}", status_code=204, summary="Remove a fitting room (manager token)")
def delete_room(request: Request, store: str, room: str) -> Response:
    """Remove a fitting room."""
    _retail_manager(request).remove_fitting_room(store, room)
    return Response(status_code=204)


@router.get("/stores/{store}/stock", summary="Stock rows of a store")
def get_stock(request: Request, store: str,
              sku: Annotated[str | None, Query(max_length=64)] = None,
              limit: Annotated[int, Query(ge=1, le=1000)] = 200,
              offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
    """A page of stock rows (by SKU, colour, size) and the total."""
    rows, total = _retail_reader(request).store_stock(store, sku=sku, limit=limit, offset=offset)
    return {"items": [asdict(r) for r in rows], "total": total, "limit": limit, "offset": offset}


@router.put("/stores/{store}/stock", summary="Set one stock row (needs a manager token)")
def put_stock(request: Request, store: str, body: StockBody) -> dict[str, Any]:
    """Set the quantity (and price) of one SKU, size and colour in a store."""
    from .catalog.retail_csv import parse_price

    row = _retail_manager(request).set_stock(store, body.sku, body.size, body.colour, body.quantity,
                                              price_cents=parse_price(body.price or ""), currency=body.currency)
    return asdict(row)


@router.get("/stores/{store}/recommendations/{sku}", summary="What goes with an item in this store")
def get_recommendations(request: Request, store: str, sku: str,
                        size: Annotated[str | None, Query(max_length=64)] = None,
                        colour: Annotated[str | None, Query(max_length=64)] = None,
                        limit: Annotated[int, Query(ge=1, le=50)] = 5) -> dict[str, Any]:
    """Other sizes/colours here, often tried together, outfit matches; each with its reason."""
    return _retail_reader(request).recommend(store, sku, size, colour, limit=limit).to_dict()


async def _csv_body(request: Request, filename: str) -> Path:
    """The request body in a temporary file (the caller deletes it), within the CSV size limit."""
    from .catalog.retail_csv import MAX_CSV_BYTES

    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_CSV_BYTES:
        raise LimitExceeded("CSV size", int(declared), MAX_CSV_BYTES, path=filename)
    fd, tmp = tempfile.mkstemp(prefix="phygital-csv-", suffix=".csv")
    try:
        received = 0
        with os.fdopen(fd, "wb") as fh:
            async for chunk in request.stream():
                received += len(chunk)
                if received > MAX_CSV_BYTES:
                    raise LimitExceeded("CSV size", received, MAX_CSV_BYTES, path=filename)
                fh.write(chunk)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return Path(tmp)


async def _import(request: Request, filename: str, run: Any) -> dict[str, Any]:
    path = await _csv_body(request, filename)
    try:
        try:
            report = await run_in_threadpool(run, path)
        except InvalidAsset as exc:
            if exc.path == str(path):
                exc.path = Path(filename).name
                exc.args = (str(exc),)
            raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    return {**asdict(report), "path": Path(filename).name}


FileName = Annotated[str, Query(max_length=200, description="name of the uploaded file, shown in errors")]


@router.post("/stores/import", summary="Import stores from a CSV body (needs a manager token)")
async def import_stores(request: Request, filename: FileName = "stores.csv") -> dict[str, Any]:
    """Create or update stores and rooms from the CSV in the body; all or nothing."""
    retail = _retail_manager(request)
    return await _import(request, filename, retail.import_stores_csv)


@router.post("/stores/{store}/stock/import", summary="Import stock from a CSV body (needs a manager token)")
async def import_stock(request: Request, store: str, filename: FileName = "stock.csv",
                       replace: Annotated[bool, Query(description="set what the file omits to 0")] = False
                       ) -> dict[str, Any]:
    """Import a stock CSV for a store; all or nothing, one error per bad line."""
    retail = _retail_manager(request)
    return await _import(request, filename, lambda p: retail.import_stock_csv(p, store, replace=replace))


@router.post("/tags/import", summary="Import codes from a CSV body (needs a manager token)")
async def import_tags(request: Request, filename: FileName = "tags.csv",
                      store: Annotated[str | None, Query(max_length=32)] = None) -> dict[str, Any]:
    """Import a code -> SKU/size/colour CSV; all or nothing."""
    retail = _retail_manager(request)
    return await _import(request, filename, lambda p: retail.import_tags_csv(p, store))


@router.get("/tags", summary="What a code stands for")
def get_tag(request: Request, code: Annotated[str, Query(max_length=1024)]) -> dict[str, Any]:
    """The SKU, size and colour of a code (EPC, GTIN/EAN/UPC, QR text); 404 not_found if unknown."""
    match = _retail_reader(request).resolve_tag(code)
    if match is None:
        raise NotFound("unknown code", field="code")
    return asdict(match)


@router.put("/tags", summary="Map a code to a SKU, size and colour (needs a manager token)")
def put_tag(request: Request, body: TagBody) -> dict[str, Any]:
    """Add a code (idempotent; 409 if it already means something else)."""
    return asdict(_retail_manager(request).add_tag(body.code, body.sku, body.size, body.colour, store=body.store))


@router.delete("/tags", status_code=204, summary="Forget a code (needs a manager token)")
def delete_tag(request: Request, code: Annotated[str, Query(max_length=1024)]) -> Response:
    """Remove a code."""
    _retail_manager(request).remove_tag(code)
    return Response(status_code=204)
