"""HTTP API of the product catalog (FastAPI APIRouter, mounted by ``session_server`` or run alone).

    GET  /products                      search (q), category filter, paging (limit, offset)
    GET  /products/{sku}                a product and its versions
    GET  /products/{sku}/manifest       per LOD and variant: GLB and USDZ URLs, bytes, sha256, dimensions
    GET  /assets/{sha256}               download (local store: ETag, Cache-Control, Range; S3: redirect to a
                                        presigned URL)
    POST /products/{sku}/upload         publish a model (request body = the file); needs an artist token
    /stores, /tags ...                  stores, fitting rooms, stock, tags, recommendations (``api_stores.py``;
                                        changes need a manager token)

Errors are answered as HTTP status + ``{"code", "message", "field"}``. Reads are open unless
``PHYGITAL_ASSETS_API_READ_TOKEN_REQUIRED`` is set.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, field_validator

from .categories import (
    CONTENT_TYPES,
    LOD_TEXTURES_HELP,
    TEXTURE_MAX_SIZE_HELP,
    TEXTURE_MAX_SIZE_MIN,
    AssetFormat,
    Category,
    parse_category,
)
from .errors import AssetError, CsvRejected, Forbidden, LimitExceeded, NotFound, Unauthorized, UnsupportedFormat
from .report import round_size
from .settings import AssetSettings
from .store import CACHE_IMMUTABLE
from .tokens import TokenClaims, require_role, verify

if TYPE_CHECKING:  # the catalog (SQLAlchemy) loads with the first call, not when the routes are declared
    from .catalog.models import Product, Version
    from .service import AssetService

logger = logging.getLogger(__name__)
MODEL_SUFFIXES = (".glb", ".gltf", ".obj", ".stl", ".ply")
STATUS = {"not_found": 404, "conflict": 409, "unauthorized": 401, "forbidden": 403, "limit_exceeded": 413,
          "unsupported_format": 415, "invalid_asset": 422, "unsafe_uri": 422, "missing_encoder": 501,
          "storage_error": 503, "invalid_csv": 422}


def error_response(exc: AssetError) -> JSONResponse:
    """Return the JSON error response ``{code, message, field}`` for an AssetError, with its HTTP status (internal
    details hidden)."""
    status = STATUS.get(exc.code, 400 if exc.user_error else 500)
    if status >= 500 and exc.code not in STATUS:
        logger.error("internal failure: %s", exc)
        body = {"code": exc.code, "message": "internal error", "field": None}
    else:
        body = {"code": exc.code, "message": str(exc), "field": exc.field}
        if isinstance(exc, CsvRejected):
            body["lines"] = [e.to_dict() for e in exc.lines]
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


class _AssetRoute(APIRoute):
    """Maps AssetError (and request validation) to the JSON error body, wherever the router is mounted."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except AssetError as exc:
                return error_response(exc)
            except RequestValidationError as exc:
                first = exc.errors()[0] if exc.errors() else {}
                field = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
                return JSONResponse({"code": "invalid_request", "message": str(first.get("msg", "invalid request")),
                                     "field": field}, status_code=422)

        return route


router = APIRouter(tags=["catalog"], route_class=_AssetRoute)
_lock = threading.Lock()


def _service(request: Request) -> AssetService:
    """The app's service; opened from the environment on first use when the router is mounted elsewhere."""
    service = getattr(request.app.state, "assets_service", None)
    if service is None:
        with _lock:
            service = getattr(request.app.state, "assets_service", None)
            if service is None:
                from .service import AssetService

                service = AssetService.open(AssetSettings())
                request.app.state.assets_service = service
    return service


def _claims(request: Request, service: AssetService) -> TokenClaims:
    secret = service.settings.api_token_secret
    if secret is None:
        raise Forbidden("API tokens are not configured (PHYGITAL_ASSETS_API_TOKEN_SECRET)", field="authorization")
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("missing API token (Authorization: Bearer ...)", field="authorization")
    return verify(token.strip(), secret.get_secret_value().encode(), time.time())


def _reader(request: Request) -> AssetService:
    service = _service(request)
    if service.settings.api_read_token_required:
        _claims(request, service)
    return service


# --- response bodies -------------------------------------------------------------------------------------------


class Dimensions(BaseModel):
    """A model's size in meters: width (x), height (y), depth (z)."""
    width: float
    height: float
    depth: float

    @field_validator("width", "height", "depth")
    @classmethod
    def _to_tenth_mm(cls, value: float) -> float:
        return round_size(value)  # versions stored before sizes were rounded still read 0.92, not 0.9200000000000003


class ProductSummary(BaseModel):
    """One product in a listing: SKU, name, category, current version."""
    sku: str
    name: str
    category: str
    current_version: int | None
    dimensions_m: Dimensions | None
    tryon: dict[str, Any] | None = None
    """Try-on attributes (kind, shade, finish, intensity; shoes: style, toe_axis, up_axis), if any."""


class VersionSummary(BaseModel):
    """One published version of a product: number, date, source file name, size in meters."""
    number: int
    created_at: str
    source_name: str
    dimensions_m: Dimensions
    assets: int
    bytes: int
    variants: list[str]
    warnings: list[str]
    note: str | None


class ProductDetail(ProductSummary):
    """A product with all its versions."""
    versions: list[VersionSummary]


class ProductPage(BaseModel):
    """One page of products: the items, the total matching and the page's limit and offset."""
    items: list[ProductSummary]
    total: int
    limit: int
    offset: int


class ObjectRef(BaseModel):
    """A stored file of a version: its download URL, size, sha256 and content type."""
    url: str
    bytes: int
    sha256: str
    content_type: str


class ManifestVariant(BaseModel):
    """A product variant: its name, value (e.g. a colour) and KHR_materials_variants index."""
    name: str
    value: str | None
    khr_index: int | None


class ManifestItem(BaseModel):
    """One level of detail (or variant) of a version: its GLB, USDZ and thumbnail files."""
    lod: int
    variant: str | None
    khr_index: int | None
    """Select this KHR_materials_variants index in the GLB to show the variant."""
    triangles: int | None
    glb: ObjectRef
    usdz: ObjectRef | None
    """The USDZ showing this variant alone (AR Quick Look shows no variant sets); without a KHR variant, the one
    holding every variant in its ``materialVariant`` variant set."""
    dimensions_m: Dimensions


class Manifest(BaseModel):
    """What an AR app needs to show a version: its files per LOD, variants, size in meters."""
    sku: str
    name: str
    category: str
    version: int
    dimensions_m: Dimensions
    thumbnail: ObjectRef | None
    variants: list[ManifestVariant]
    items: list[ManifestItem]
    url_expires_in: int | None


class PublishedBody(BaseModel):
    """The answer to an upload: the new version, its size, and bytes uploaded and reused."""
    sku: str
    version: int
    dimensions_m: Dimensions
    bytes_uploaded: int
    bytes_reused: int
    warnings: list[str]


def _dims(w: float | None, h: float | None, d: float | None) -> Dimensions | None:
    return None if w is None or h is None or d is None else Dimensions(width=w, height=h, depth=d)


def _summary(p: Product) -> ProductSummary:
    return ProductSummary(sku=p.sku, name=p.name, category=p.category.value, current_version=p.current_version,
                          dimensions_m=_dims(p.width_m, p.height_m, p.depth_m), tryon=p.tryon)


def _version(v: Version) -> VersionSummary:
    return VersionSummary(number=v.number, created_at=v.created_at.isoformat(), source_name=v.source_name,
                          dimensions_m=Dimensions(width=v.width_m, height=v.height_m, depth=v.depth_m),
                          assets=len(v.assets), bytes=sum(a.bytes for a in v.assets),
                          variants=[x.name for x in v.variants], warnings=list(v.warnings or []), note=v.note)


# --- routes ----------------------------------------------------------------------------------------------------


@router.get("/products", response_model=ProductPage, summary="Search products")
def list_products(
    request: Request,
    q: Annotated[str | None, Query(max_length=100, description="text in the SKU or name")] = None,
    category: Annotated[Category | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ProductPage:
    """GET /products: a page of products, filtered by text in the SKU or name and by category."""
    service = _reader(request)
    rows, total = service.catalog.search(q, category, limit=limit, offset=offset)
    return ProductPage(items=[_summary(p) for p in rows], total=total, limit=limit, offset=offset)


@router.get("/products/{sku}", response_model=ProductDetail, summary="A product and its versions")
def get_product(request: Request, sku: str) -> ProductDetail:
    """GET /products/{sku}: the product with its versions (404 when unknown)."""
    product = _reader(request).catalog.get(sku)
    return ProductDetail(**_summary(product).model_dump(), versions=[_version(v) for v in product.versions])


@router.get("/products/{sku}/manifest", response_model=Manifest, summary="What an AR app needs to show a product")
def get_manifest(request: Request, sku: str,
                 version: Annotated[int | None, Query(ge=1, description="default: the current version")] = None
                 ) -> Manifest:
    """GET /products/{sku}/manifest: the files of a version (default: current) with their URLs."""
    service = _reader(request)
    product = service.catalog.get(sku)
    v = service.catalog.version(sku, version)
    seconds = service.settings.presign_seconds
    presigned = False

    def ref(fmt: AssetFormat, lod: int, variant: int | None = None) -> ObjectRef | None:
        nonlocal presigned
        asset = next((a for a in v.assets if a.format == fmt and a.lod == lod and a.variant == variant), None)
        if asset is None:
            return None
        url = service.store.presign(asset.storage_key, seconds)
        presigned = presigned or url is not None
        if url is None:
            url = str(request.url_for("download_asset", sha256=asset.sha256))
        return ObjectRef(url=url, bytes=asset.bytes, sha256=asset.sha256, content_type=CONTENT_TYPES[fmt])

    dims = Dimensions(width=v.width_m, height=v.height_m, depth=v.depth_m)
    variants = [ManifestVariant(name=x.name, value=x.value, khr_index=x.khr_index) for x in v.variants]
    items: list[ManifestItem] = []
    for asset in sorted((a for a in v.assets if a.format == AssetFormat.glb), key=lambda a: a.lod):
        glb, usdz = ref(AssetFormat.glb, asset.lod), ref(AssetFormat.usdz, asset.lod)
        assert glb is not None
        for var in variants or [None]:
            alone = ref(AssetFormat.usdz, asset.lod, var.khr_index) if var and var.khr_index is not None else None
            items.append(ManifestItem(lod=asset.lod, variant=var.name if var else None,
                                      khr_index=var.khr_index if var else None, triangles=asset.triangles,
                                      glb=glb, usdz=alone or usdz, dimensions_m=dims))
    return Manifest(sku=product.sku, name=product.name, category=product.category.value, version=v.number,
                    dimensions_m=dims, thumbnail=ref(AssetFormat.png, 0), variants=variants, items=items,
                    url_expires_in=seconds if presigned else None)


@router.head("/assets/{sha256}", name="download_asset_head", include_in_schema=False, response_model=None)
@router.get("/assets/{sha256}", name="download_asset", response_model=None,
            summary="Download a published object (ETag, Cache-Control, Range; S3: redirect to a presigned URL)")
def download_asset(request: Request, sha256: str) -> Response:
    """GET/HEAD /assets/{sha256}: a published file (ETag, Range, immutable caching; a presigned redirect on S3)."""
    from .catalog.repository import find_asset

    service = _reader(request)
    asset = find_asset(service.catalog, sha256.lower())
    if asset is None:
        raise NotFound("no published object with this sha256", field="sha256")
    url = service.store.presign(asset.storage_key, service.settings.presign_seconds)
    if url is not None:
        return RedirectResponse(url, status_code=307, headers={"Cache-Control": "no-store"})
    from .store.local import LocalStore

    assert isinstance(service.store, LocalStore)
    path = service.store.path_of(asset.storage_key)
    if not path.is_file():
        raise NotFound("the object is missing from the store", field="sha256")
    etag = f'"{asset.sha256}"'
    headers = {"ETag": etag, "Cache-Control": CACHE_IMMUTABLE}
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    suffix = asset.format.value
    return FileResponse(path, media_type=CONTENT_TYPES[asset.format], headers=headers,
                        filename=f"{asset.sha256[:12]}.{suffix}", content_disposition_type="inline")


@router.post("/products/{sku}/upload", response_model=PublishedBody, status_code=201,
             summary="Publish a model as the next version (body: the model file; needs an artist token)")
async def upload_product(
    request: Request,
    sku: str,
    filename: Annotated[str, Query(description="name of the uploaded file; its suffix picks the format")],
    category: Annotated[str, Query(description="shoes|apparel|makeup|furniture|accessory")],
    name: Annotated[str | None, Query(max_length=200)] = None,
    variant: Annotated[list[str] | None, Query(description="NAME=VALUE, repeatable")] = None,
    note: Annotated[str | None, Query(max_length=2000)] = None,
    units: Annotated[Literal["m", "cm", "mm", "in", "ft"], Query(
        description="units of the model (published in meters)")] = "m",
    up: Annotated[Literal["y", "z"], Query(description="up axis of the model (published Y-up)")] = "y",
    texture_max_size: Annotated[int | None, Query(ge=TEXTURE_MAX_SIZE_MIN, description=TEXTURE_MAX_SIZE_HELP)
                                ] = None,
    lod_textures: Annotated[bool, Query(description=LOD_TEXTURES_HELP)] = True,
) -> PublishedBody:
    """POST /products/{sku}/upload (artist token): publish the request body as a new version; returns it."""
    from starlette.concurrency import run_in_threadpool

    from .publish import PublishOptions, PublishRequest, check_sku, publish

    service = _service(request)
    require_role(_claims(request, service), "artist")
    check_sku(sku)
    cat = parse_category(category)
    suffix = Path(filename).suffix.lower()
    if suffix not in MODEL_SUFFIXES:
        raise UnsupportedFormat(f"{suffix or 'no suffix'} is not a model format ({', '.join(MODEL_SUFFIXES)})",
                                path=Path(filename).name, field="filename")
    limit = int(service.settings.max_upload_mb * 1024 * 1024)
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise LimitExceeded("upload size", int(declared), limit, path=Path(filename).name)
    fd, tmp = tempfile.mkstemp(prefix="phygital-upload-", suffix=suffix)
    try:
        received = 0
        with os.fdopen(fd, "wb") as fh:
            async for chunk in request.stream():
                received += len(chunk)
                if received > limit:
                    raise LimitExceeded("upload size", received, limit, path=Path(filename).name)
                fh.write(chunk)
        if received == 0:
            raise UnsupportedFormat("the request body is empty", path=Path(filename).name)
        req = PublishRequest(Path(tmp), sku, cat, name, tuple(variant or ()), note, source_name=Path(filename).name)
        try:
            report = await run_in_threadpool(publish, req, service.store, service.catalog,
                                             limits=service.settings.limits(),
                                             options=PublishOptions(units=units, up=up,
                                                                    texture_max_size=texture_max_size,
                                                                    lod_textures=lod_textures))
        except AssetError as exc:
            if exc.path == tmp:
                exc.path = Path(filename).name
                exc.args = (str(exc),)
            raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    w, h, d = report.dimensions_m
    return PublishedBody(sku=sku, version=report.version, dimensions_m=Dimensions(width=w, height=h, depth=d),
                         bytes_uploaded=report.bytes_uploaded, bytes_reused=report.bytes_reused,
                         warnings=report.warnings)


def create_app(settings: AssetSettings | None = None, service: AssetService | None = None) -> FastAPI:
    """The catalog API alone (``python -m assets_pipeline serve``); docs at /docs."""
    app = FastAPI(title="Phygital product catalog", version="1",
                  description="Products, versions and AR-ready assets (GLB + LODs, USDZ, thumbnail).")
    from .service import AssetService

    app.state.assets_service = service or AssetService.open(settings or AssetSettings())
    app.include_router(router)

    @app.get("/health", include_in_schema=False)
    def health() -> dict[str, Any]:
        return {"status": "ok", "store": app.state.assets_service.store.describe()}

    return app


from .api_stores import router as _stores_router  # noqa: E402  (stores, stock, tags: one router, same errors)

router.include_router(_stores_router)
