"""The retail layer of the catalog: stores, fitting rooms, stock, tags, co-tried history, recommendations.

``Retail(catalog)`` works on the catalog's database (same engine, same transactions style: every command is one
transaction). Used by the ``phygital-assets stores`` CLI, the HTTP routes in ``api_stores.py`` and the fitting
rooms of the session server.

Recommendations (:meth:`Retail.recommend`) are deterministic: for one store and one item they are

1. ``variants``: the other sizes and colours of the same SKU this store keeps, with their stock (0: sold out);
   same colour first (sizes in garment order), then the same size in other colours, then the rest;
2. ``cotried``: SKUs tried in the same visit as this one in this store at least ``min_cotried`` times (the
   history is a count per pair of SKUs, nothing else), most often first, only those in stock here;
3. ``matches``: rule-based outfit matches among the SKUs in stock here: a piece worn in another place (outfit
   slot from the ``type``: top, bottom, full (a dress: not with a top or bottom), outer; else the category:
   shoes, accessory, makeup) sharing at least one style tag; score = 2 per shared tag + 1 if a colour in stock
   goes with the item's colour (same colour, or either one a neutral); highest score first.

The colour shown for a co-tried or matching piece is the in-stock colour that goes best with the item's (same
colour, then neutral, then the most pieces); its size is the shopper's when the same category has it in stock.

Ties are broken by SKU, colour and size, so the same data always gives the same answer.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import Conflict, InvalidAsset, NotFound
from . import tag_codes
from .models import Category, Product
from .repository import Catalog
from .retail_models import CoTried, FittingRoom, Stock, Store, Tag
from .retail_rules import (
    check_attributes,
    check_room_id,
    check_store_id,
    check_timezone,
    completes,
    goes_with,
    norm_colour,
    norm_size,
    size_key,
    slot,
)

_SPARE = 10
"""Candidates looked up beyond ``limit``, in case some sold out since the assortment was cached."""
MAX_COTRIED_SKUS = 50
"""A visit with more distinct SKUs than this records only the first ones (bounded work per visit)."""


@dataclass(frozen=True, slots=True)
class StoreInfo:
    """A store, its fitting rooms and how much stock it holds."""

    id: str
    name: str
    timezone: str
    rooms: list[str]
    skus: int = 0
    pieces: int = 0


@dataclass(frozen=True, slots=True)
class StockRow:
    """Stock of one SKU in one size and colour in one store (prices in cents of ``currency``)."""

    store: str
    sku: str
    size: str
    colour: str
    quantity: int
    price_cents: int | None = None
    currency: str | None = None


@dataclass(frozen=True, slots=True)
class TagMatch:
    """What a code on a garment stands for; ``store`` is set for codes that belong to one store's pieces."""

    code: str
    kind: str
    sku: str
    size: str
    colour: str
    store: str | None
    name: str
    category: str
    via: str | None = None
    """The table key that matched when it is not the code itself (the GTIN inside an EPC or a Digital Link)."""


@dataclass(frozen=True, slots=True)
class Suggestion:
    """One recommended piece and why: ``kind`` is size, colour, variant, cotried or match."""

    kind: str
    sku: str
    name: str
    category: str
    size: str | None
    colour: str | None
    quantity: int
    reason: str
    score: int = 0


@dataclass(frozen=True, slots=True)
class Recommendations:
    """Recommendations for one item in one store (see the module docstring for the rules)."""

    store: str
    sku: str
    size: str | None
    colour: str | None
    variants: list[Suggestion] = field(default_factory=list)
    cotried: list[Suggestion] = field(default_factory=list)
    matches: list[Suggestion] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the ``recs`` payload of a fitting room)."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What a CSV import changed (nothing, if it raised)."""

    path: str
    lines: int
    created: int = 0
    updated: int = 0
    removed: int = 0
    products_created: int = 0
    tags: int = 0


def _row(s: Stock) -> StockRow:
    return StockRow(s.store_id, s.sku, s.size, s.colour, s.quantity, s.price_cents, s.currency)


def _check_quantity(quantity: int) -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 0 <= quantity <= 1_000_000:
        raise InvalidAsset(f"{quantity!r} is not a whole number from 0 to 1,000,000", field="quantity")
    return quantity


def check_currency(currency: str | None) -> str | None:
    """An ISO 4217 code (three letters, upper-cased), or None."""
    if currency is None:
        return None
    text = currency.strip().upper()
    if len(text) != 3 or not text.isalpha() or not text.isascii():
        raise InvalidAsset(f"{currency!r} is not a currency code such as EUR", field="currency")
    return text


def _changes_assortment(method: Any) -> Any:
    """Forget the cached assortments once the decorated command has committed (or failed)."""
    import functools

    @functools.wraps(method)
    def wrapper(self: Retail, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        finally:
            self._changed()

    return wrapper


class Retail:
    """Stores, fitting rooms, stock, tags and recommendations on a catalog's database."""

    def __init__(self, catalog: Catalog, *, assortment_ttl_s: float = 10.0) -> None:
        self.catalog = catalog
        self.assortment_ttl_s = assortment_ttl_s
        """How long :meth:`recommend` reuses a store's list of in-stock products and colours (0: never). Changes
        made through this object are seen at once; changes made by another process after at most this long."""
        self._lock = threading.Lock()
        self._assortments: dict[str, tuple[float, dict[str, frozenset[str]], dict[str, _Piece]]] = {}

    # --- stores and fitting rooms -----------------------------------------------------------------------------

    def _store(self, s: Session, store: str) -> Store:
        row = s.get(Store, store)
        if row is None:
            raise NotFound(f"no store {store!r}", field="store")
        return row

    def add_store(self, store: str, name: str | None = None, timezone: str = "UTC", *, rooms: Iterable[str] = (),
                  exist_ok: bool = False) -> StoreInfo:
        """Create a store (with fitting rooms); ``exist_ok`` updates the name/timezone and adds missing rooms."""
        check_store_id(store)
        tz = check_timezone(timezone)
        room_ids = [check_room_id(r) for r in rooms]
        try:
            with self.catalog.session() as s:
                row = s.get(Store, store)
                if row is not None and not exist_ok:
                    raise Conflict(f"store {store!r} already exists", field="store")
                if row is None:
                    s.add(Store(id=store, name=name or store, timezone=tz))
                    s.flush()
                else:
                    row.name, row.timezone = name or row.name, tz
                have = set(s.scalars(select(FittingRoom.room).where(FittingRoom.store_id == store)).all())
                for room in dict.fromkeys(room_ids):
                    if room not in have:
                        s.add(FittingRoom(store_id=store, room=room))
        except IntegrityError:
            raise Conflict(f"store {store!r} is being written concurrently; try again", field="store") from None
        return self.get_store(store)

    @_changes_assortment
    def remove_store(self, store: str) -> None:
        """Delete a store with its rooms, stock, store-bound tags and history."""
        with self.catalog.session() as s:
            row = self._store(s, store)
            for table in (FittingRoom, Stock, Tag, CoTried):
                s.execute(delete(table).where(table.store_id == store))
            s.delete(row)

    def get_store(self, store: str) -> StoreInfo:
        """A store with its rooms and stock totals (NotFound if unknown)."""
        with self.catalog.session() as s:
            row = self._store(s, store)
            return self._info(s, row)

    def find_store(self, store: str) -> StoreInfo | None:
        """A store, or None."""
        try:
            return self.get_store(store)
        except NotFound:
            return None

    def list_stores(self) -> list[StoreInfo]:
        """Every store, by id."""
        with self.catalog.session() as s:
            return [self._info(s, row) for row in s.scalars(select(Store).order_by(Store.id)).all()]

    def _info(self, s: Session, row: Store) -> StoreInfo:
        rooms = sorted(s.scalars(select(FittingRoom.room).where(FittingRoom.store_id == row.id)).all(),
                       key=size_key)
        totals = select(func.count(func.distinct(Stock.sku)), func.coalesce(func.sum(Stock.quantity), 0))
        skus, pieces = s.execute(totals.where(Stock.store_id == row.id)).one()
        return StoreInfo(row.id, row.name, row.timezone, list(rooms), int(skus), int(pieces))

    def add_fitting_room(self, store: str, room: str, name: str | None = None) -> None:
        """Add fitting room ``room`` to a store (Conflict if it exists)."""
        check_room_id(room)
        try:
            with self.catalog.session() as s:
                self._store(s, store)
                if s.get(FittingRoom, (store, room)) is not None:
                    raise Conflict(f"store {store!r} already has fitting room {room!r}", field="room")
                s.add(FittingRoom(store_id=store, room=room, name=name))
        except IntegrityError:
            raise Conflict(f"fitting room {room!r} is being written concurrently; try again", field="room") from None

    def remove_fitting_room(self, store: str, room: str) -> None:
        """Remove a fitting room (NotFound if the store does not have it)."""
        with self.catalog.session() as s:
            row = s.get(FittingRoom, (store, room))
            if row is None:
                raise NotFound(f"store {store!r} has no fitting room {room!r}", field="room")
            s.delete(row)

    def has_fitting_room(self, store: str, room: str) -> bool:
        """Whether the store has this fitting room."""
        with self.catalog.session() as s:
            return s.get(FittingRoom, (store, room)) is not None

    # --- products ---------------------------------------------------------------------------------------------

    @_changes_assortment
    def set_attributes(self, sku: str, attrs: Mapping[str, Any], *, name: str | None = None,
                       category: Category | None = None) -> dict[str, Any]:
        """Merge retail attributes (type, colour, style) into a product; create it when ``category`` is given."""
        checked = check_attributes(attrs)
        try:
            with self.catalog.session() as s:
                product = _ensure_product(s, sku, name, category)
                product.attributes = {**(product.attributes or {}), **checked}
                return dict(product.attributes)
        except IntegrityError:
            raise Conflict(f"SKU {sku!r} is being written concurrently; try again", field="sku") from None

    # --- stock ------------------------------------------------------------------------------------------------

    @_changes_assortment
    def set_stock(self, store: str, sku: str, size: str, colour: str, quantity: int, *,
                  price_cents: int | None = None, currency: str | None = None) -> StockRow:
        """Set the stock of one SKU, size and colour in a store (the product must exist)."""
        size, colour, quantity = norm_size(size), norm_colour(colour), _check_quantity(quantity)
        currency = check_currency(currency)
        if price_cents is not None and (isinstance(price_cents, bool) or not 0 <= price_cents <= 10**9):
            raise InvalidAsset(f"{price_cents!r} is not a price in cents", field="price")
        try:
            with self.catalog.session() as s:
                self._store(s, store)
                _product(s, sku)
                row = s.get(Stock, (store, sku, size, colour))
                if row is None:
                    row = Stock(store_id=store, sku=sku, size=size, colour=colour, quantity=quantity)
                    s.add(row)
                row.quantity = quantity
                if price_cents is not None:
                    row.price_cents, row.currency = price_cents, currency
                s.flush()
                return _row(row)
        except IntegrityError:
            raise Conflict("stock is being written concurrently; try again", field="sku") from None

    def stock_for(self, store: str, sku: str) -> list[StockRow]:
        """Every size and colour of ``sku`` this store keeps (by colour, then size order); [] if none."""
        with self.catalog.session() as s:
            rows = s.scalars(select(Stock).where(Stock.store_id == store, Stock.sku == sku)).all()
            return sorted((_row(r) for r in rows), key=lambda r: (r.colour, size_key(r.size)))

    def stock_of(self, store: str, sku: str, size: str, colour: str) -> StockRow | None:
        """The stock row of one variant in a store, or None if the store does not keep it (or it cannot exist)."""
        try:
            key = (store, sku, norm_size(size), norm_colour(colour))
        except InvalidAsset:
            return None
        with self.catalog.session() as s:
            row = s.get(Stock, key)
            return None if row is None else _row(row)

    def store_stock(self, store: str, *, sku: str | None = None, limit: int = 200,
                    offset: int = 0) -> tuple[list[StockRow], int]:
        """A page of a store's stock (by SKU, colour, size) and the total number of rows."""
        with self.catalog.session() as s:
            self._store(s, store)
            cond = [Stock.store_id == store] + ([Stock.sku == sku] if sku else [])
            total = s.scalar(select(func.count()).select_from(Stock).where(*cond)) or 0
            rows = s.scalars(select(Stock).where(*cond).order_by(Stock.sku, Stock.colour, Stock.size)
                             .limit(limit).offset(offset)).all()
            return [_row(r) for r in rows], int(total)

    # --- tags -------------------------------------------------------------------------------------------------

    def add_tag(self, code: str, sku: str, size: str, colour: str, *, store: str | None = None) -> TagMatch:
        """Map a code to a SKU, size and colour (idempotent; Conflict if it already means something else)."""
        kind, norm = tag_codes.normalize(code)
        size, colour = norm_size(size), norm_colour(colour)
        try:
            with self.catalog.session() as s:
                if store is not None:
                    self._store(s, store)
                product = _product(s, sku)
                row = s.get(Tag, norm)
                if row is None:
                    s.add(Tag(code=norm, kind=kind, sku=sku, size=size, colour=colour, store_id=store))
                elif (row.sku, row.size, row.colour, row.store_id) != (sku, size, colour, store):
                    raise Conflict(f"code {norm!r} already means {row.sku} {row.size} {row.colour}"
                                   f"{' in store ' + row.store_id if row.store_id else ''}; remove it first",
                                   field="code")
                return TagMatch(norm, kind, sku, size, colour, store, product.name, product.category.value)
        except IntegrityError:
            raise Conflict(f"code {norm!r} is being written concurrently; try again", field="code") from None

    def remove_tag(self, code: str) -> None:
        """Forget a code (NotFound if unknown)."""
        _, norm = tag_codes.normalize(code)
        with self.catalog.session() as s:
            row = s.get(Tag, norm)
            if row is None:
                raise NotFound(f"no tag {norm!r}", field="code")
            s.delete(row)

    def resolve_tag(self, code: str) -> TagMatch | None:
        """What a code read by a reader or a camera stands for, or None if unknown (never raises for bad codes)."""
        keys = tag_codes.lookup_keys(code)
        if not keys:
            return None
        with self.catalog.session() as s:
            rows = {t.code: t for t in s.scalars(select(Tag).where(Tag.code.in_(keys))).all()}
            for key in keys:
                tag = rows.get(key)
                if tag is not None:
                    product = s.scalar(select(Product).where(Product.sku == tag.sku))
                    assert product is not None  # foreign key
                    return TagMatch(keys[0], _kind_of(keys[0]), tag.sku, tag.size, tag.colour, tag.store_id,
                                    product.name, product.category.value, via=None if key == keys[0] else key)
        return None

    def resolve_in_store(self, code: str, store: str) -> tuple[TagMatch, StockRow | None] | None:
        """``resolve_tag(code)`` and ``stock_of(store, ...)`` of the variant it stands for, in one query (a
        fitting room's reader resolves every new garment: one round trip instead of three); None if unknown."""
        keys = tag_codes.lookup_keys(code)
        if not keys:
            return None
        query = (select(Tag.code, Tag.sku, Tag.size, Tag.colour, Tag.store_id, Product.name, Product.category,
                        Stock.quantity, Stock.price_cents, Stock.currency)
                 .join(Product, Product.sku == Tag.sku)
                 .outerjoin(Stock, and_(Stock.store_id == store, Stock.sku == Tag.sku, Stock.size == Tag.size,
                                        Stock.colour == Tag.colour))
                 .where(Tag.code.in_(keys)))
        with self.catalog.session() as s:
            rows = {r.code: r for r in s.execute(query).all()}
        for key in keys:
            r = rows.get(key)
            if r is not None:
                match = TagMatch(keys[0], _kind_of(keys[0]), r.sku, r.size, r.colour, r.store_id, r.name,
                                 r.category.value, via=None if key == keys[0] else key)
                stock = None if r.quantity is None else StockRow(store, r.sku, r.size, r.colour, r.quantity,
                                                                 r.price_cents, r.currency)
                return match, stock
        return None

    def tags_for(self, sku: str) -> list[TagMatch]:
        """Every code that maps to ``sku`` (by code)."""
        with self.catalog.session() as s:
            product = _product(s, sku)
            rows = s.scalars(select(Tag).where(Tag.sku == sku).order_by(Tag.code)).all()
            return [TagMatch(t.code, t.kind, t.sku, t.size, t.colour, t.store_id, product.name,
                             product.category.value) for t in rows]

    # --- history and recommendations --------------------------------------------------------------------------

    def record_cotried(self, store: str, skus: Iterable[str]) -> int:
        """Count every pair of distinct known SKUs of one visit as tried together; returns the pairs counted."""
        wanted = sorted(dict.fromkeys(skus))[:MAX_COTRIED_SKUS]
        for attempt in range(3):
            try:
                with self.catalog.session() as s:
                    self._store(s, store)
                    known = sorted(s.scalars(select(Product.sku).where(Product.sku.in_(wanted))).all())
                    pairs = list(itertools.combinations(known, 2))
                    for a, b in pairs:
                        done = s.execute(update(CoTried).where(CoTried.store_id == store, CoTried.sku_a == a,
                                                               CoTried.sku_b == b)
                                         .values(count=CoTried.count + 1))
                        if done.rowcount == 0:  # type: ignore[attr-defined]
                            s.add(CoTried(store_id=store, sku_a=a, sku_b=b, count=1))
                            s.flush()
                    return len(pairs)
            except IntegrityError:  # another visit inserted the same new pair first
                if attempt == 2:
                    raise Conflict("co-tried history is being written concurrently; try again",
                                   field="store") from None
        raise AssertionError("unreachable")

    def recommend(self, store: str, sku: str, size: str | None = None, colour: str | None = None, *,
                  limit: int = 5, min_cotried: int = 2) -> Recommendations:
        """Other sizes/colours here, often tried together, outfit matches; deterministic, each with a reason."""
        size = norm_size(size) if size else None
        colour = norm_colour(colour) if colour else None
        limit = max(0, min(limit, 50))
        with self.catalog.session() as s:
            self._store(s, store)
            product = _product(s, sku)
            attrs = product.attributes or {}
            colour_here = colour or attrs.get("colour")
            own = s.scalars(select(Stock).where(Stock.store_id == store, Stock.sku == sku)).all()
            variants = _variants(product, own, size, colour)
            pairs = s.execute(select(CoTried.sku_a, CoTried.sku_b, CoTried.count)
                              .where(CoTried.store_id == store, or_(CoTried.sku_a == sku, CoTried.sku_b == sku),
                                     CoTried.count >= min_cotried)).all()
            colours, products = self._assortment(s, store)
            often = sorted(((b if a == sku else a, n) for a, b, n in pairs), key=lambda p: (-p[1], p[0]))
            often = [(other, n) for other, n in often if other in products and other != sku][:limit + _SPARE]
            item = _Piece.of(product.sku, product.name, product.category, product.attributes)
            scored = []
            taken = {other for other, _ in often}
            for other in sorted(products):
                if other in taken or other == sku:
                    continue
                match = _rule_match(item, products[other], colour_here, colours.get(other, frozenset()))
                if match is not None:
                    scored.append((-match[0], other, match))
            scored.sort()
            scored = scored[:limit + _SPARE]
            chosen = [other for other, _ in often] + [other for _, other, _ in scored]
            rows: dict[str, list[Stock]] = {}
            if chosen:
                for r in s.scalars(select(Stock).where(Stock.store_id == store, Stock.sku.in_(chosen),
                                                       Stock.quantity > 0)).all():
                    rows.setdefault(r.sku, []).append(r)
            # the assortment may be a few seconds old: what sold out since is left out here
            often = [(other, n) for other, n in often if other in rows][:limit]
            scored = [entry for entry in scored if entry[1] in rows][:limit]
            cotried = []
            for other, n in often:
                p = products[other]
                pick_size, pick_colour, qty = _pick(rows.get(other, []), size, colour_here,
                                                    p.category == product.category)
                times = "once" if n == 1 else f"{n} times"
                cotried.append(Suggestion("cotried", other, p.name, p.category.value, pick_size, pick_colour, qty,
                                          f"tried together with this {times} in this store", n))
            matches = []
            for neg_score, other, (_, shared, _) in scored:
                p = products[other]
                pick_size, pick_colour, qty = _pick(rows.get(other, []), size, colour_here,
                                                    p.category == product.category)
                reason = f"same style: {', '.join(shared)}"
                why = goes_with(colour_here, pick_colour)
                if why is not None and pick_colour is not None:
                    reason += f"; {pick_colour} with {colour_here} ({why})"
                matches.append(Suggestion("match", other, p.name, p.category.value, pick_size, pick_colour, qty,
                                          reason, -neg_score))
            return Recommendations(store, sku, size, colour, variants, cotried, matches)

    def _assortment(self, s: Session, store: str) -> tuple[dict[str, frozenset[str]], dict[str, _Piece]]:
        """In-stock colours per SKU and the products in stock in a store, cached for ``assortment_ttl_s``."""
        now = time.monotonic()
        with self._lock:
            cached = self._assortments.get(store)
        if cached is not None and now - cached[0] < self.assortment_ttl_s:
            return cached[1], cached[2]
        here = (Stock.store_id == store) & (Stock.quantity > 0)
        found: dict[str, set[str]] = {}
        for other, c in s.execute(select(Stock.sku, Stock.colour).where(here).distinct()).all():
            found.setdefault(other, set()).add(c)
        colours = {k: frozenset(v) for k, v in found.items()}
        products = {row[0]: _Piece.of(*row) for row in s.execute(
            select(Product.sku, Product.name, Product.category, Product.attributes)
            .where(Product.sku.in_(select(Stock.sku).where(here).distinct()))).all()}
        if self.assortment_ttl_s > 0:
            with self._lock:
                self._assortments[store] = (now, colours, products)
        return colours, products

    def _changed(self) -> None:
        """Forget the cached assortments after a change made through this object."""
        with self._lock:
            self._assortments.clear()

    # --- CSV imports ------------------------------------------------------------------------------------------

    @_changes_assortment
    def import_stock_csv(self, path: str | Path, store: str | None = None, *, replace: bool = False) -> ImportReport:
        """Import stock lines (see ``retail_csv``); all or nothing; CsvRejected lists every bad line."""
        from .retail_csv import import_stock

        return import_stock(self, Path(path), store, replace=replace)

    def import_tags_csv(self, path: str | Path, store: str | None = None) -> ImportReport:
        """Import a code -> SKU/size/colour table (see ``retail_csv``); all or nothing."""
        from .retail_csv import import_tags

        return import_tags(self, Path(path), store)

    def import_stores_csv(self, path: str | Path) -> ImportReport:
        """Import stores and their fitting rooms (see ``retail_csv``); all or nothing."""
        from .retail_csv import import_stores

        return import_stores(self, Path(path))


def _kind_of(code: str) -> str:
    try:
        return tag_codes.normalize(code)[0]
    except InvalidAsset:
        return "text"


def _product(s: Session, sku: str) -> Product:
    product = s.scalar(select(Product).where(Product.sku == sku))
    if product is None:
        raise NotFound(f"no product with SKU {sku!r}", field="sku")
    return product


def _ensure_product(s: Session, sku: str, name: str | None, category: Category | None) -> Product:
    """The product, created without a 3D model when ``category`` is given; its name updated when given."""
    product = s.scalar(select(Product).where(Product.sku == sku))
    if product is None:
        if category is None:
            raise NotFound(f"no product with SKU {sku!r} (give its name and category to create it)", field="sku")
        from ..publish import check_sku

        check_sku(sku)
        product = Product(sku=sku, name=name or sku, category=category)
        s.add(product)
        s.flush()
    elif category is not None and product.category != category:
        raise Conflict(f"SKU {sku!r} already exists as {product.category.value}, not {category.value}",
                       field="category")
    elif name:
        product.name = name
    return product


def _variants(product: Product, own: Sequence[Stock], size: str | None, colour: str | None) -> list[Suggestion]:
    def order(r: Stock) -> tuple[int, str, tuple[int, float, str]]:
        group = 0 if colour is not None and r.colour == colour else 1 if size is not None and r.size == size else 2
        return (group, r.colour, size_key(r.size))

    out = []
    for r in sorted(own, key=order):
        if r.size == size and r.colour == colour:
            continue
        kind = "size" if r.colour == colour else "colour" if r.size == size else "variant"
        stock = f"{r.quantity} in stock here" if r.quantity > 0 else "out of stock here"
        out.append(Suggestion(kind, product.sku, product.name, product.category.value, r.size, r.colour, r.quantity,
                              f"size {r.size} in {r.colour}: {stock}"))
    return out


@dataclass(frozen=True, slots=True)
class _Piece:
    """What the rules read of a product: its style tags and outfit slot, worked out once."""

    sku: str
    name: str
    category: Category
    style: frozenset[str]
    slot: str

    @classmethod
    def of(cls, sku: str, name: str, category: Category, attributes: dict[str, Any] | None) -> _Piece:
        """From a product's columns."""
        attrs = attributes or {}
        return cls(sku, name, category, frozenset(attrs.get("style", ())), slot(category.value, attrs.get("type")))


def _rule_match(item: _Piece, other: _Piece, colour: str | None,
                other_colours: frozenset[str]) -> tuple[int, list[str], bool] | None:
    """(score, shared style tags, colour bonus) when ``other`` completes ``item``'s outfit, else None."""
    common = item.style & other.style
    if not common:
        return None
    if not completes(item.slot, other.slot):
        return None  # worn in the same place: a substitute, not a match
    shared = sorted(common)
    bonus = any(goes_with(colour, c) is not None for c in other_colours)
    return 2 * len(shared) + int(bonus), shared, bonus


def _pick(rows: Sequence[Stock], size: str | None, colour: str | None,
          same_category: bool) -> tuple[str | None, str | None, int]:
    """The size and colour to suggest among in-stock rows: a colour that goes with the item, the shopper's size."""
    if not rows:
        return None, None, 0
    rank = {"same colour": 0, "neutral": 1}
    by_colour: dict[str, list[Stock]] = {}
    for r in rows:
        by_colour.setdefault(r.colour, []).append(r)
    best = min(by_colour, key=lambda c: (rank.get(goes_with(colour, c) or "", 2),
                                         -sum(r.quantity for r in by_colour[c]), c))
    chosen = by_colour[best]
    qty = sum(r.quantity for r in chosen)
    if same_category and size is not None and any(r.size == size for r in chosen):
        return size, best, next(r.quantity for r in chosen if r.size == size)
    return None, best, qty
