"""Catalog products for looks: try-on attributes and shoe models from the asset catalog (:mod:`assets_pipeline`).

The catalog and store are the ones the asset settings passed in name (read by the entry point, the CLI or
the live router, from ``PHYGITAL_ASSETS_*``), opened on the first lookup. A shoe product's current GLB is
fetched from the store once into the cache folder (``<cache_dir>/models/<sha256>.glb``); its views are then
rendered and cached by :mod:`tryon.shoes.cache`, so both happen once per published version, not per process
or frame.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

from assets_pipeline.catalog.models import AssetFormat
from assets_pipeline.catalog.models import Product as CatalogProduct
from assets_pipeline.errors import AssetError, NotFound
from assets_pipeline.service import AssetService
from assets_pipeline.settings import AssetSettings
from tryon.errors import InvalidLook

logger = logging.getLogger(__name__)


class ProductCatalog:
    """Looks up SKUs in the asset catalog; use as a context manager or call :meth:`close`.

    ``cache_dir`` (``TryOnSettings.cache_dir``) holds fetched shoe models; None: shoe SKUs cannot be tried on.
    """

    def __init__(self, settings: AssetSettings, cache_dir: Path | None) -> None:
        self.settings = settings
        self.cache_dir = cache_dir.resolve() if cache_dir is not None else None
        self._service: AssetService | None = None

    def _open(self) -> AssetService:
        if self._service is None:
            try:
                self._service = AssetService.open(self.settings)
            except AssetError as exc:
                raise InvalidLook(f"the product catalog cannot be opened ({exc})", field="sku") from None
        return self._service

    def product(self, sku: str) -> dict[str, Any]:
        """Look-entry fields of a SKU: its name and try-on attributes, and ``model`` (a local GLB) for a shoe
        with a published version. Raises :class:`InvalidLook` when the SKU cannot be tried on."""
        service = self._open()
        try:
            product = service.catalog.get(sku)
        except NotFound:
            raise InvalidLook(f"{sku!r} is not in the product catalog", field="sku") from None
        except AssetError as exc:
            raise InvalidLook(f"{sku!r}: catalog error ({exc})", field="sku") from None
        if not product.tryon:
            raise InvalidLook(
                f"{sku!r} has no try-on attributes (set them with: python -m assets_pipeline tryon {sku} --kind ...)",
                field="sku",
            )
        fields: dict[str, Any] = {"sku": product.sku, "name": product.name, **product.tryon}
        if fields.get("kind") == "shoes" and product.current_version is not None:
            fields["model"] = str(self._model(service, product))
        return fields

    def _model(self, service: AssetService, product: CatalogProduct) -> Path:
        """The current version's full-detail GLB as a local file, fetched from the store on first use."""
        from tryon import media

        if self.cache_dir is None:
            raise InvalidLook(f"{product.sku!r}: its 3D model needs a cache folder (PHYGITAL_TRYON_CACHE_DIR)",
                              field="sku")  # fmt: skip
        version = next(v for v in product.versions if v.number == product.current_version)
        glbs = sorted((a for a in version.assets if a.format == AssetFormat.glb), key=lambda a: a.lod)
        if not glbs:
            raise InvalidLook(f"{product.sku!r} version {version.number} has no GLB", field="sku")
        path = self.cache_dir / "models" / f"{glbs[0].sha256}.glb"
        if not path.is_file():
            try:
                data = service.store.get(glbs[0].storage_key)
            except AssetError as exc:
                raise InvalidLook(f"{product.sku!r}: its 3D model cannot be fetched ({exc})", field="sku") from None
            if hashlib.sha256(data).hexdigest() != glbs[0].sha256:
                raise InvalidLook(f"{product.sku!r}: the stored model does not match its sha256", field="sku")
            media.write_file(path, data)
            logger.info("fetched the model of %s version %d into %s", product.sku, version.number, path)
        return path

    def close(self) -> None:
        """Close the catalog service if a lookup opened it."""
        if self._service is not None:
            self._service.close()
            self._service = None

    def __enter__(self) -> ProductCatalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
