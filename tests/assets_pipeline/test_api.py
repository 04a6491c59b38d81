"""The catalog HTTP API: reads, manifest, downloads (ETag, Cache-Control, Range), token-guarded upload, errors."""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assets_pipeline.api import create_app
from assets_pipeline.catalog import Category
from assets_pipeline.publish import PublishOptions, PublishRequest, publish
from assets_pipeline.service import AssetService
from assets_pipeline.tokens import TokenClaims, sign

from .catalog_fixtures import local_settings, s3_settings

SECRET = "api-test-secret"
ONE_LOD = PublishOptions(lods=(0.5,))


def token(role: str = "artist", ttl: float = 600, secret: str = SECRET) -> dict[str, str]:
    return {"Authorization": f"Bearer {sign(TokenClaims('tester', role, time.time() + ttl), secret.encode())}"}


@pytest.fixture(scope="module")
def published_dir(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> Path:
    """Three small products published once; each test works on its own copy of the store and catalog."""
    root = tmp_path_factory.mktemp("api-template")
    svc = AssetService.open(local_settings(root))
    for i, cat in enumerate([Category.shoes, Category.makeup, Category.shoes]):
        publish(PublishRequest(corpus / "models" / "BoxVertexColors.glb", f"P-{i}", cat, name=f"Thing {i}"),
                svc.store, svc.catalog, limits=svc.settings.limits(), options=ONE_LOD)
    svc.close()
    return root


@pytest.fixture
def service(tmp_path: Path, published_dir: Path) -> Iterator[AssetService]:
    shutil.copytree(published_dir, tmp_path / "copy")
    svc = AssetService.open(local_settings(tmp_path / "copy", api_token_secret=SECRET, max_upload_mb=1))
    yield svc
    svc.close()


@pytest.fixture
def client(service: AssetService) -> TestClient:
    return TestClient(create_app(service=service))


def assert_error(resp: object, status: int, code: str, field: str | None = None, text: str = "") -> None:
    assert resp.status_code == status, resp.text  # type: ignore[attr-defined]
    body = resp.json()  # type: ignore[attr-defined]
    assert set(body) == {"code", "message", "field"} and body["code"] == code, body
    if field is not None:
        assert body["field"] == field, body
    assert text in body["message"], body


def test_list_search_category_paging(client: TestClient) -> None:
    page = client.get("/products", params={"limit": 2}).json()
    assert page["total"] == 3 and [p["sku"] for p in page["items"]] == ["P-0", "P-1"]
    assert [p["sku"] for p in client.get("/products", params={"offset": 2}).json()["items"]] == ["P-2"]
    shoes = client.get("/products", params={"category": "shoes"}).json()
    assert shoes["total"] == 2
    assert client.get("/products", params={"q": "thing 1"}).json()["items"][0]["sku"] == "P-1"
    assert_error(client.get("/products", params={"category": "hats"}), 422, "invalid_request", "category")
    assert_error(client.get("/products", params={"limit": 0}), 422, "invalid_request", "limit")


def test_product_and_unknown_sku(client: TestClient) -> None:
    body = client.get("/products/P-1").json()
    assert body["category"] == "makeup" and body["current_version"] == 1 and body["versions"][0]["assets"] == 5
    assert_error(client.get("/products/NOPE"), 404, "not_found", "sku", "no product with SKU 'NOPE'")
    assert_error(client.get("/products/NOPE/manifest"), 404, "not_found", "sku")
    assert_error(client.get("/products/P-1/manifest", params={"version": 7}), 404, "not_found", "version")


def test_download_etag_cache_and_range(client: TestClient) -> None:
    manifest = client.get("/products/P-0/manifest").json()
    glb = manifest["items"][0]["glb"]
    resp = client.get(glb["url"])
    assert resp.status_code == 200 and hashlib.sha256(resp.content).hexdigest() == glb["sha256"]
    assert resp.headers["etag"] == f'"{glb["sha256"]}"' and "immutable" in resp.headers["cache-control"]
    assert resp.headers["content-type"] == "model/gltf-binary" and resp.headers["accept-ranges"] == "bytes"
    part = client.get(glb["url"], headers={"Range": "bytes=4-11"})
    assert part.status_code == 206 and part.content == resp.content[4:12]
    assert part.headers["content-range"] == f"bytes 4-11/{glb['bytes']}"
    assert client.get(glb["url"], headers={"If-None-Match": resp.headers["etag"]}).status_code == 304
    assert client.head(glb["url"]).headers["content-length"] == str(glb["bytes"])
    usdz = client.get(manifest["items"][0]["usdz"]["url"])
    assert usdz.headers["content-type"] == "model/vnd.usdz+zip" and usdz.content[:2] == b"PK"
    assert_error(client.get("/assets/" + "0" * 64), 404, "not_found", "sha256")


def test_upload_needs_an_artist_token(client: TestClient, corpus: Path) -> None:
    body = (corpus / "models" / "pirate.glb").read_bytes()
    url, params = "/products/NEW-1/upload", {"filename": "pirate.glb", "category": "accessory", "name": "Pirate"}
    assert_error(client.post(url, params=params, content=body), 401, "unauthorized", "authorization", "missing")
    assert_error(client.post(url, params=params, content=body, headers=token(secret="other")), 401,
                 "unauthorized", text="wrong API token")
    assert_error(client.post(url, params=params, content=body, headers=token(ttl=-1)), 401, "unauthorized",
                 text="expired")
    assert_error(client.post(url, params=params, content=body, headers={"Authorization": "Bearer nonsense"}), 401,
                 "unauthorized", text="malformed")
    assert_error(client.post(url, params=params, content=body, headers=token("reader")), 403, "forbidden")
    assert client.get("/products/NEW-1").status_code == 404  # nothing half-written
    resp = client.post(url, params={**params, "variant": ["gold=#d4af37"]}, content=body, headers=token())
    assert resp.status_code == 201, resp.text
    assert resp.json()["version"] == 1 and resp.json()["bytes_uploaded"] > 0
    manifest = client.get("/products/NEW-1/manifest").json()
    assert manifest["name"] == "Pirate" and manifest["variants"] == [{"name": "gold", "value": "#d4af37",
                                                                      "khr_index": None}]
    assert {(i["lod"], i["variant"]) for i in manifest["items"]} == {(0, "gold"), (1, "gold"), (2, "gold"), (3, "gold")}
    assert client.get("/products/NEW-1").json()["versions"][0]["source_name"] == "pirate.glb"


def test_upload_bad_input(client: TestClient, service: AssetService, tmp_path: Path, corpus: Path) -> None:
    box = (corpus / "models" / "BoxVertexColors.glb").read_bytes()
    auth = token()

    def up(sku: str, filename: str, body: bytes, category: str = "shoes") -> object:
        return client.post(f"/products/{sku}/upload", params={"filename": filename, "category": category},
                           content=body, headers=auth)

    assert_error(up("T-1", "notes.txt", b"hello"), 415, "unsupported_format", "filename")
    assert_error(up("T-1", "fake.glb", b"this is not a GLB at all"), 422, "invalid_asset", text="fake.glb")
    assert_error(up("T-1", "big.glb", b"x" * (1024 * 1024 + 1)), 413, "limit_exceeded", text="exceeds the limit")
    assert_error(up("T-1", "box.glb", box, category="hats"), 422, "invalid_asset", "category")
    assert_error(up("bad sku!", "box.glb", box), 422, "invalid_asset", "sku")
    assert_error(up("P-1", "box.glb", box, category="shoes"), 409, "conflict", "category",
                 "already exists as makeup, not shoes")
    assert_error(up("T-1", "empty.glb", b""), 415, "unsupported_format", text="empty")
    assert client.get("/products").json()["total"] == 3
    assert len(service.catalog.get("P-1").versions) == 1


def test_uploads_are_refused_without_a_configured_secret(tmp_path: Path, corpus: Path) -> None:
    svc = AssetService.open(local_settings(tmp_path))
    client = TestClient(create_app(service=svc))
    resp = client.post("/products/X/upload", params={"filename": "a.glb", "category": "shoes"}, content=b"x",
                       headers=token())
    assert_error(resp, 403, "forbidden", text="PHYGITAL_ASSETS_API_TOKEN_SECRET")
    svc.close()


def test_reads_can_require_a_token(tmp_path: Path) -> None:
    svc = AssetService.open(local_settings(tmp_path, api_token_secret=SECRET, api_read_token_required=True))
    client = TestClient(create_app(service=svc))
    assert_error(client.get("/products"), 401, "unauthorized")
    assert client.get("/products", headers=token("reader")).status_code == 200
    svc.close()


def test_s3_manifest_is_presigned_and_download_redirects(tmp_path: Path, corpus: Path, moto_url: str) -> None:
    import httpx

    svc = AssetService.open(s3_settings(moto_url, tmp_path))
    publish(PublishRequest(corpus / "models" / "BoxVertexColors.glb", "S3-1", Category.accessory), svc.store,
            svc.catalog, limits=svc.settings.limits(), options=ONE_LOD)
    client = TestClient(create_app(service=svc))
    manifest = client.get("/products/S3-1/manifest").json()
    usdz = manifest["items"][0]["usdz"]
    assert usdz["url"].startswith(moto_url) and manifest["url_expires_in"] == 3600
    data = httpx.get(usdz["url"], timeout=30).content
    assert hashlib.sha256(data).hexdigest() == usdz["sha256"]
    resp = client.get(f"/assets/{usdz['sha256']}", follow_redirects=False)
    assert resp.status_code == 307 and resp.headers["location"].startswith(moto_url)
    svc.close()


def test_openapi_docs_and_session_server_mount(service: AssetService) -> None:
    client = TestClient(create_app(service=service))
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/products", "/products/{sku}", "/products/{sku}/manifest", "/assets/{sha256}",
            "/products/{sku}/upload"} <= set(paths)
    from session_server.__main__ import default_routers
    from session_server.server.app import create_app as session_app

    app = session_app(routers=default_routers())
    app.state.assets_service = service
    mounted = TestClient(app)
    assert mounted.get("/products").json()["total"] == 3
    assert mounted.get("/products/NOPE").json()["code"] == "not_found"


def test_upload_resizes_textures_as_optimize_does(client: TestClient, service: AssetService, tmp_path: Path,
                                                  corpus: Path) -> None:
    """texture_max_size as optimize's --texture-max-size: 256 px textures published at 32 px; 0 is refused."""
    from assets_pipeline import OptimizeOptions, optimize_file
    from assets_pipeline.transforms.textures import TextureOptions

    optimize_file(corpus / "models" / "BoxTextured" / "BoxTextured.gltf", tmp_path / "box.glb",
                  OptimizeOptions(texture=TextureOptions(format="keep")))
    body = (tmp_path / "box.glb").read_bytes()

    def up(sku: str, **extra: object) -> object:
        return client.post(f"/products/{sku}/upload", params={"filename": "box.glb", "category": "accessory",
                                                               **extra}, content=body, headers=token())

    assert_error(up("TEX-0", texture_max_size=0), 422, "invalid_request", "texture_max_size")
    sizes = {}
    for sku, extra in (("TEX-FULL", {}), ("TEX-32", {"texture_max_size": 32})):
        resp = up(sku, **extra)
        assert resp.status_code == 201, resp.text  # type: ignore[attr-defined]
        glb = next(a for a in service.catalog.get(sku).versions[-1].assets if a.format.value == "glb" and a.lod == 0)
        sizes[sku] = glb.bytes
    assert sizes["TEX-32"] < sizes["TEX-FULL"] - 1000, sizes
