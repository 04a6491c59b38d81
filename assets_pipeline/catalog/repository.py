"""Catalog queries and commands used by publish.py, the CLI and api.py.

Every command runs in its own transaction; a version and its assets/variants are inserted together and
the product's ``current_version`` moves to it in that same commit, so readers see all of it or none.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, or_, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from ..errors import Conflict, NotFound, StorageError
from .models import Asset, AssetFormat, Category, Product, Variant, Version, parse_category
from .schema import make_engine, upgrade
from .tryon_attributes import tryon_check

logger = logging.getLogger(__name__)
__all__ = ["Catalog", "NewAsset", "NewVariant", "NewVersion", "find_asset", "find_usdz_for", "parse_category"]


@dataclass(frozen=True, slots=True)
class NewAsset:
    """A stored file to record in a new version: format, LOD, bytes, sha256, storage key, variant shown alone."""
    format: AssetFormat
    lod: int
    bytes: int
    sha256: str
    storage_key: str
    triangles: int | None = None
    variant: int | None = None


@dataclass(frozen=True, slots=True)
class NewVariant:
    """A variant to record in a new version: name, value, KHR_materials_variants index."""
    name: str
    value: str | None
    khr_index: int | None


@dataclass(frozen=True, slots=True)
class NewVersion:
    """What a new version records: source name and sha256, size in meters, files, variants, warnings, note."""
    source_name: str
    source_sha256: str
    dimensions_m: tuple[float, float, float]
    assets: Sequence[NewAsset]
    variants: Sequence[NewVariant] = ()
    warnings: Sequence[str] = ()
    note: str | None = None
    publish_key: str | None = None
    """Content address of the publish; a product's version with the same key is returned instead of a new one."""


class Catalog:
    """The product catalog in one SQL database (SQLite file or PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, url: str) -> Catalog:
        """Connect and run the migrations up to the newest revision."""
        engine = make_engine(url)
        upgrade(engine)
        return cls(engine)

    def close(self) -> None:
        """Close the database connections."""
        self.engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """Yield a session in one transaction (committed at the end); database errors become StorageError."""
        try:
            with self._sessions.begin() as s:
                yield s
        except OperationalError as exc:
            raise StorageError(f"catalog database error: {str(exc.orig).strip().splitlines()[0]}",
                               field="PHYGITAL_ASSETS_CATALOG_URL") from None

    # --- reads ------------------------------------------------------------------------------------------------

    def _product(self, s: Session, sku: str) -> Product:
        product = s.scalar(select(Product).where(Product.sku == sku).options(
            selectinload(Product.versions).selectinload(Version.assets),
            selectinload(Product.versions).selectinload(Version.variants)))
        if product is None:
            raise NotFound(f"no product with SKU {sku!r}", field="sku")
        return product

    def get(self, sku: str) -> Product:
        """Return the product with this SKU and its versions; NotFound when there is none."""
        with self.session() as s:
            return self._product(s, sku)

    def find(self, sku: str) -> Product | None:
        """Return the product with this SKU, or None."""
        try:
            return self.get(sku)
        except NotFound:
            return None

    def search(self, query: str | None = None, category: Category | None = None, *, limit: int = 50,
               offset: int = 0) -> tuple[list[Product], int]:
        """Products whose SKU or name contains ``query`` (case-insensitive), newest SKU order; and the total."""
        cond = []
        if query:
            like = f"%{query.lower()}%"
            cond.append(or_(func.lower(Product.sku).like(like), func.lower(Product.name).like(like)))
        if category is not None:
            cond.append(Product.category == category)
        with self.session() as s:
            total = s.scalar(select(func.count()).select_from(Product).where(*cond)) or 0
            rows = s.scalars(select(Product).where(*cond).order_by(Product.sku).limit(limit).offset(offset)).all()
            return list(rows), total

    def version(self, sku: str, number: int | None = None) -> Version:
        """A version of a product (default: the current one)."""
        with self.session() as s:
            product = self._product(s, sku)
            want = product.current_version if number is None else number
            for v in product.versions:
                if v.number == want:
                    return v
            if want is None:
                raise NotFound(f"product {sku!r} has no published version", field="sku")
            raise NotFound(f"product {sku!r} has no version {want}", field="version")

    def referenced_keys(self) -> set[str]:
        """Return the storage keys that some version still refers to."""
        with self.session() as s:
            return set(s.scalars(select(Asset.storage_key).distinct()).all())

    # --- commands ---------------------------------------------------------------------------------------------

    def check_product(self, sku: str, category: Category) -> None:
        """Refuse early when ``sku`` exists with another category."""
        product = self.find(sku)
        if product is not None and product.category != category:
            raise Conflict(f"SKU {sku!r} already exists as {product.category.value}, not {category.value}",
                           field="category")

    def add_version(self, sku: str, name: str | None, category: Category, new: NewVersion) -> Version:
        """Create the product if needed and add the next version, made current, in one transaction."""
        for attempt in range(3):
            try:
                return self._add_version(sku, name, category, new)
            except IntegrityError:  # another publisher took the same number or created the SKU first
                if attempt == 2:
                    raise Conflict(f"SKU {sku!r} is being published concurrently; try again", field="sku") from None
        raise AssertionError("unreachable")

    def _add_version(self, sku: str, name: str | None, category: Category, new: NewVersion) -> Version:
        with self.session() as s:
            product = s.scalar(select(Product).where(Product.sku == sku))
            if product is None:
                product = Product(sku=sku, name=name or sku, category=category)
                s.add(product)
                s.flush()
            elif product.category != category:
                raise Conflict(f"SKU {sku!r} already exists as {product.category.value}, not {category.value}",
                               field="category")
            elif name:
                product.name = name
            if new.publish_key is not None:
                same = s.scalar(select(Version).where(Version.product_id == product.id,
                                                      Version.publish_key == new.publish_key))
                if same is not None:  # the same publish committed before (a job run twice): no second version
                    s.refresh(same, ["assets", "variants"])
                    return same
            number = (s.scalar(select(func.max(Version.number)).where(Version.product_id == product.id)) or 0) + 1
            w, h, d = new.dimensions_m
            version = Version(product_id=product.id, number=number, source_name=new.source_name,
                              source_sha256=new.source_sha256, width_m=w, height_m=h, depth_m=d,
                              warnings=list(new.warnings), note=new.note, publish_key=new.publish_key)
            version.assets = [Asset(format=a.format, lod=a.lod, bytes=a.bytes, sha256=a.sha256,
                                    storage_key=a.storage_key, triangles=a.triangles, variant=a.variant)
                              for a in new.assets]
            version.variants = [Variant(position=i, name=v.name, value=v.value, khr_index=v.khr_index)
                                for i, v in enumerate(new.variants)]
            s.add(version)
            product.current_version = number
            product.width_m, product.height_m, product.depth_m = w, h, d
            s.flush()
            s.refresh(version, ["assets", "variants"])
            return version

    def version_with_key(self, sku: str, publish_key: str) -> Version | None:
        """The version of ``sku`` published with this content address, if any."""
        with self.session() as s:
            return s.scalar(select(Version).join(Product).where(Product.sku == sku,
                                                                Version.publish_key == publish_key))

    def set_tryon(self, sku: str, attrs: Mapping[str, Any], name: str | None = None) -> Product:
        """Merge ``attrs`` into the product's try-on attributes, checked by the registered try-on check
        (:mod:`.tryon_attributes`); returns the product.

        A SKU the catalog does not know becomes a product without a 3D model (makeup has none), of the category
        the check names; an existing product keeps its versions and must be of that category.
        """
        check = tryon_check()
        try:
            with self.session() as s:
                product = s.scalar(select(Product).where(Product.sku == sku))
                checked = check({**((product.tryon or {}) if product is not None else {}), **attrs})
                merged, category = checked.attrs, checked.category
                if product is None:
                    product = Product(sku=sku, name=name or sku, category=category)
                    s.add(product)
                elif product.category != category:
                    raise Conflict(f"SKU {sku!r} is a {product.category.value} product; kind {merged.get('kind')!r} "
                                   f"needs a {category.value} product", field="tryon.kind")
                elif name:
                    product.name = name
                product.tryon = merged
        except IntegrityError:  # another writer created the SKU first
            raise Conflict(f"SKU {sku!r} is being written concurrently; try again", field="sku") from None
        return self.get(sku)

    def rollback(self, sku: str, number: int) -> Version:
        """Make an earlier (or any existing) version current again; versions themselves never change."""
        with self.session() as s:
            product = self._product(s, sku)
            target = next((v for v in product.versions if v.number == number), None)
            if target is None:
                raise NotFound(f"product {sku!r} has no version {number}", field="version")
            product.current_version = number
            product.width_m, product.height_m, product.depth_m = target.width_m, target.height_m, target.depth_m
            return target

    def delete(self, sku: str) -> set[str]:
        """Remove a product and its versions; return the storage keys no other version uses any more."""
        with self.session() as s:
            product = self._product(s, sku)
            keys = {a.storage_key for v in product.versions for a in v.assets}
            s.delete(product)
            s.flush()
            if not keys:
                return set()
            return keys - set(s.scalars(select(Asset.storage_key).where(Asset.storage_key.in_(keys))).all())


def find_asset(catalog: Catalog, sha256: str) -> Asset | None:
    """Any catalog asset with these bytes (objects are shared between versions and products)."""
    with catalog.session() as s:
        return s.scalars(select(Asset).where(Asset.sha256 == sha256).limit(1)).first()


def find_usdz_for(catalog: Catalog, glb_sha256: str, variant: int | None = None) -> Asset | None:
    """The USDZ published beside a GLB with these bytes (same version and LOD; showing ``variant`` alone, or
    every variant when None), so a re-publish reuses it."""
    from sqlalchemy.orm import aliased

    glb = aliased(Asset)
    with catalog.session() as s:
        return s.scalars(select(Asset).join(glb, (glb.version_id == Asset.version_id) & (glb.lod == Asset.lod))
                         .where(glb.sha256 == glb_sha256, glb.format == AssetFormat.glb,
                                Asset.format == AssetFormat.usdz,
                                Asset.variant.is_(None) if variant is None else Asset.variant == variant)
                         .limit(1)).first()
