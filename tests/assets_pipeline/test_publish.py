"""Publishing: three corpus models into [local, S3] end to end, all-or-nothing, a killed upload, bad input."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from pxr import Usd, UsdGeom, UsdShade

from assets_pipeline.api import create_app
from assets_pipeline.catalog import Catalog, Category
from assets_pipeline.errors import Conflict, InvalidAsset, LimitExceeded, StorageError, UnsupportedFormat
from assets_pipeline.limits import Limits
from assets_pipeline.publish import PublishOptions, PublishRequest, publish
from assets_pipeline.service import AssetService
from assets_pipeline.settings import AssetSettings
from assets_pipeline.store.s3 import S3Store

from ..conftest import TIME_FACTOR
from .catalog_fixtures import S3_KEYS, free_port, local_settings, s3_settings

ROOT = Path(__file__).resolve().parents[2]
MODELS = {"HELMET-1": ("DamagedHelmet.glb", Category.accessory), "BUNNY-1": ("stanford-bunny.obj", Category.apparel),
          "BOX-1": ("BoxTextured/BoxTextured.gltf", Category.furniture)}
FAST = PublishOptions(lods=(0.25,))


@pytest.fixture(scope="module", params=["local", "s3"])
def published(request: pytest.FixtureRequest, corpus: Path,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AssetService, dict[str, Any]]]:
    root = tmp_path_factory.mktemp(f"publish-{request.param}")
    settings = local_settings(root) if request.param == "local" else s3_settings(
        request.getfixturevalue("moto_url"), root)
    service = AssetService.open(settings)
    reports = {sku: publish(PublishRequest(corpus / "models" / name, sku, cat, name=Path(name).stem),
                            service.store, service.catalog, limits=settings.limits(), options=FAST)
               for sku, (name, cat) in MODELS.items()}
    yield service, reports
    service.close()


def _fetch(client: TestClient, url: str) -> bytes:
    if url.startswith("http://testserver"):
        resp = client.get(url)
    else:  # presigned S3 URL: a plain HTTP GET with no credentials
        import httpx

        resp = httpx.get(url, timeout=30)
    assert resp.status_code == 200, (url, resp.status_code, resp.text[:200])
    return resp.content


def test_three_models_list_manifest_download(published: tuple[AssetService, dict[str, Any]]) -> None:
    service, reports = published
    client = TestClient(create_app(service=service))
    page = client.get("/products").json()
    assert page["total"] == 3 and {p["sku"] for p in page["items"]} == set(MODELS)
    for sku, report in reports.items():
        assert report.version == 1
        manifest = client.get(f"/products/{sku}/manifest").json()
        assert manifest["version"] == 1 and manifest["category"] == MODELS[sku][1].value
        dims = manifest["dimensions_m"]
        assert [dims["width"], dims["height"], dims["depth"]] == pytest.approx(report.dimensions_m)
        assert [item["lod"] for item in manifest["items"]] == [0, 1]
        lod0 = manifest["items"][0]
        assert lod0["triangles"] > manifest["items"][1]["triangles"] or sku == "BOX-1"
        if service.store.name == "s3":
            assert "X-Amz-Signature=" in lod0["glb"]["url"] and manifest["url_expires_in"] == 3600
        for fmt in ("glb", "usdz"):
            data = _fetch(client, lod0[fmt]["url"])
            assert hashlib.sha256(data).hexdigest() == lod0[fmt]["sha256"] and len(data) == lod0[fmt]["bytes"]
        assert _fetch(client, lod0["glb"]["url"])[:4] == b"glTF"
        thumb = _fetch(client, manifest["thumbnail"]["url"])
        assert thumb[:8] == b"\x89PNG\r\n\x1a\n"


def test_usdz_reopens_in_meters_and_validates(published: tuple[AssetService, dict[str, Any]],
                                              tmp_path: Path) -> None:
    from pxr import Usd, UsdGeom, UsdValidation

    service, reports = published
    report = reports["BUNNY-1"]
    usdz = next(o for o in report.objects if o.format == "usdz" and o.lod == 0)
    path = tmp_path / "bunny.usdz"
    path.write_bytes(service.store.get(usdz.key))
    stage = Usd.Stage.Open(str(path))
    assert UsdGeom.GetStageMetersPerUnit(stage) == 1.0 and UsdGeom.GetStageUpAxis(stage) == UsdGeom.Tokens.y
    box = UsdGeom.BBoxCache(Usd.TimeCode.Default(), [UsdGeom.Tokens.default_]).ComputeWorldBound(
        stage.GetPseudoRoot()).ComputeAlignedRange()
    size = box.GetMax() - box.GetMin()
    assert [size[0], size[1], size[2]] == pytest.approx(report.dimensions_m, rel=0.01)
    validators = list(UsdValidation.ValidationRegistry().GetOrLoadAllValidators())
    assert len(validators) > 10
    errors = [e.GetMessage() for e in UsdValidation.ValidationContext(validators).Validate(stage)
              if e.GetType() == UsdValidation.ValidationErrorType.Error]
    assert errors == []


def test_republishing_the_same_file_stores_nothing_new(published: tuple[AssetService, dict[str, Any]],
                                                       corpus: Path) -> None:
    service, _ = published
    again = publish(PublishRequest(corpus / "models" / "BoxTextured" / "BoxTextured.gltf", "BOX-1",
                                   Category.furniture), service.store, service.catalog,
                    limits=service.settings.limits(), options=FAST)
    assert again.version == 2 and again.bytes_uploaded == 0 and again.bytes_reused > 0
    assert all(not o.created for o in again.objects)
    assert service.catalog.get("BOX-1").name == "BoxTextured"  # name kept when not given


def _no_dangling(catalog: Catalog, store: Any) -> None:
    for key in catalog.referenced_keys():
        assert store.exists(key), key


def test_unreachable_storage_leaves_no_version(corpus: Path, tmp_path: Path) -> None:
    settings = AssetSettings(store="s3", s3_bucket="b", s3_endpoint_url=f"http://127.0.0.1:{free_port()}",
                             s3_max_attempts=1, s3_connect_timeout_s=1, catalog_path=tmp_path / "c.sqlite",
                             **S3_KEYS)  # type: ignore[arg-type]
    service = AssetService.open(settings)
    with pytest.raises(StorageError, match="cannot reach the S3 endpoint"):
        publish(PublishRequest(corpus / "models" / "BoxVertexColors.glb", "BVC", Category.accessory),
                service.store, service.catalog, limits=settings.limits(), options=FAST)
    assert service.catalog.find("BVC") is None and service.catalog.referenced_keys() == set()


def test_bad_input_is_refused_before_anything_is_written(corpus: Path, tmp_path: Path) -> None:
    settings = local_settings(tmp_path)
    service = AssetService.open(settings)
    text = tmp_path / "notes.txt"
    text.write_text("not a model")
    fake = tmp_path / "fake.glb"
    fake.write_text("not a model either")
    box = corpus / "models" / "BoxVertexColors.glb"

    def run(path: Path, sku: str = "X-1", category: Category = Category.shoes, limits: Limits | None = None) -> None:
        publish(PublishRequest(path, sku, category), service.store, service.catalog,
                limits=limits or settings.limits(), options=FAST)

    with pytest.raises(UnsupportedFormat):
        run(text)
    with pytest.raises(InvalidAsset, match=r"fake\.glb"):
        run(fake)
    with pytest.raises(LimitExceeded, match=r"BoxVertexColors\.glb: file size 2,880 exceeds the limit of 1,000"):
        run(box, limits=Limits(max_file_bytes=1000))
    with pytest.raises(InvalidAsset, match="not a valid SKU"):
        run(box, sku="../x")
    assert service.catalog.search()[1] == 0
    assert not (tmp_path / "objects").exists() or not any((tmp_path / "objects").rglob("*"))
    run(box, sku="BAG", category=Category.accessory)
    with pytest.raises(Conflict, match="already exists as accessory, not shoes"):
        run(box, sku="BAG", category=Category.shoes)
    assert len(service.catalog.get("BAG").versions) == 1


def _big_textured_box(corpus: Path, folder: Path, side: int) -> Path:
    """BoxTextured with its logo replaced by a noise PNG (incompressible: a large GLB)."""
    src = corpus / "models" / "BoxTextured"
    folder.mkdir()
    for name in ("BoxTextured.gltf", "BoxTextured0.bin"):
        shutil.copy(src / name, folder / name)
    noise = np.random.default_rng(7).integers(0, 256, (side, side, 3), dtype=np.uint8)
    Image.fromarray(noise).save(folder / "CesiumLogoFlat.png", compress_level=1)
    return folder / "BoxTextured.gltf"


def test_killed_multipart_upload_leaves_catalog_consistent_and_retry_completes(
        corpus: Path, tmp_path: Path, moto_url: str) -> None:
    settings = s3_settings(moto_url, tmp_path)
    model = _big_textured_box(corpus, tmp_path / "big", 3000)  # ~27 MB texture -> 6 parts of 5 MB
    env = {**os.environ, "PHYGITAL_ASSETS_STORE": "s3", "PHYGITAL_ASSETS_S3_BUCKET": settings.s3_bucket,
           "PHYGITAL_ASSETS_S3_PREFIX": settings.s3_prefix, "PHYGITAL_ASSETS_S3_ENDPOINT_URL": moto_url,
           "PHYGITAL_ASSETS_S3_ACCESS_KEY_ID": "testing", "PHYGITAL_ASSETS_S3_SECRET_ACCESS_KEY": "testing",
           "PHYGITAL_ASSETS_S3_REGION": "us-east-1", "PHYGITAL_ASSETS_CATALOG_PATH": str(settings.catalog_path),
           "PHYGITAL_ASSETS_S3_MULTIPART_THRESHOLD_MB": "5", "PHYGITAL_ASSETS_S3_PART_SIZE_MB": "5"}
    cmd = [sys.executable, "-m", "assets_pipeline", "upload", str(model), "--sku", "BIG-BOX", "--category",
           "furniture", "--lods", "0.5", "--texture-format", "keep", "--quiet"]
    s3 = boto3.client("s3", endpoint_url=moto_url, aws_access_key_id="testing", aws_secret_access_key="testing",
                      region_name="us-east-1")
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    killed_mid_upload = False
    deadline = time.monotonic() + 120 * TIME_FACTOR
    while time.monotonic() < deadline and proc.poll() is None:
        for up in s3.list_multipart_uploads(Bucket=settings.s3_bucket).get("Uploads", []):
            parts = s3.list_parts(Bucket=settings.s3_bucket, Key=up["Key"], UploadId=up["UploadId"]).get("Parts", [])
            if parts:
                proc.send_signal(signal.SIGKILL)
                killed_mid_upload = True
                break
        if killed_mid_upload:
            break
        time.sleep(0.01)
    proc.wait(30)
    assert killed_mid_upload, f"the upload finished before it could be killed: {proc.stderr.read()!r}"  # type: ignore
    assert s3.list_multipart_uploads(Bucket=settings.s3_bucket).get("Uploads"), "expected a stale upload"
    catalog = Catalog.open(settings.catalog_database_url())
    store = S3Store.from_settings(settings)
    try:
        assert catalog.find("BIG-BOX") is None  # nothing committed, nothing dangling
        _no_dangling(catalog, store)
        retry = subprocess.run([*cmd[:-1], "--json"], env=env, cwd=tmp_path, capture_output=True, text=True,
                               timeout=300 * TIME_FACTOR, check=False)
        assert retry.returncode == 0, retry.stderr
        report = json.loads(retry.stdout)
        assert report["version"] == 1 and max(o["bytes"] for o in report["objects"]) > 20_000_000
        assert catalog.get("BIG-BOX").current_version == 1
        _no_dangling(catalog, store)
        assert s3.list_multipart_uploads(Bucket=settings.s3_bucket).get("Uploads", []) == []
        big = max(report["objects"], key=lambda o: o["bytes"])
        head = s3.head_object(Bucket=settings.s3_bucket, Key=settings.s3_prefix + big["key"])
        assert head["ETag"].strip('"').endswith(f"-{-(-big['bytes'] // (5 * 1024 * 1024))}")  # multipart
    finally:
        catalog.close()


def _box_with_khr_variants(corpus: Path, folder: Path) -> Path:
    """BoxTextured plus two KHR_materials_variants (Red, Blue) mapping to tinted copies of its material."""
    src = corpus / "models" / "BoxTextured"
    folder.mkdir()
    for name in ("BoxTextured0.bin", "CesiumLogoFlat.png"):
        shutil.copy(src / name, folder / name)
    gltf = json.loads((src / "BoxTextured.gltf").read_text())
    base = gltf["materials"][0]
    for tint in ([1, 0, 0, 1], [0, 0, 1, 1]):
        mat = json.loads(json.dumps(base))
        mat.setdefault("pbrMetallicRoughness", {})["baseColorFactor"] = tint
        gltf["materials"].append(mat)
    gltf["extensions"] = {"KHR_materials_variants": {"variants": [{"name": "Red"}, {"name": "Blue"}]}}
    gltf["extensionsUsed"] = [*gltf.get("extensionsUsed", []), "KHR_materials_variants"]
    for mesh in gltf["meshes"]:
        for prim in mesh["primitives"]:
            prim["extensions"] = {"KHR_materials_variants": {"mappings": [
                {"material": len(gltf["materials"]) - 2, "variants": [0]},
                {"material": len(gltf["materials"]) - 1, "variants": [1]}]}}
    path = folder / "VariantBox.gltf"
    path.write_text(json.dumps(gltf))
    return path


def test_khr_materials_variants_are_published_and_mapped(corpus: Path, tmp_path: Path) -> None:
    service = AssetService.open(local_settings(tmp_path))
    model = _box_with_khr_variants(corpus, tmp_path / "vbox")
    only_lod0 = PublishOptions(lods=())
    first = publish(PublishRequest(model, "VBOX", Category.accessory), service.store, service.catalog,
                    limits=service.settings.limits(), options=only_lod0)
    assert first.variants == [{"name": "Red", "value": None, "khr_index": 0},
                              {"name": "Blue", "value": None, "khr_index": 1}]
    usdz = {o.variant: o for o in first.objects if o.format == "usdz"}
    assert sorted(usdz, key=str) == [0, 1, None]  # every variant in one package, and one package per variant
    client = TestClient(create_app(service=service))
    manifest = client.get("/products/VBOX/manifest").json()
    assert [(i["variant"], i["usdz"]["sha256"]) for i in manifest["items"]] == [("Red", usdz[0].sha256),
                                                                                ("Blue", usdz[1].sha256)]
    tints = {}
    for variant, obj in usdz.items():  # AR Quick Look shows the variant the manifest points at
        path = tmp_path / f"v{variant}.usdz"
        path.write_bytes(service.store.get(obj.key))
        stage = Usd.Stage.Open(str(path))
        vset = stage.GetDefaultPrim().GetVariantSet("materialVariant")
        assert vset.GetVariantNames() == ([] if variant is not None else ["Blue", "Red"])
        (mesh,) = [p for p in stage.Traverse() if p.IsA(UsdGeom.Mesh)]
        for name in vset.GetVariantNames() or [None]:
            if name:
                vset.SetVariantSelection(name)
            material = UsdShade.MaterialBindingAPI(mesh).ComputeBoundMaterial()[0]
            surface = material.ComputeSurfaceSource()[0]
            texture = UsdShade.Shader(surface.GetInput("diffuseColor").GetConnectedSources()[0][0].source.GetPrim())
            tints[(variant, name)] = tuple(texture.GetInput("scale").Get())
    assert tints == {(0, None): (1, 0, 0, 1), (1, None): (0, 0, 1, 1), (None, "Red"): (1, 0, 0, 1),
                     (None, "Blue"): (0, 0, 1, 1)}
    second = publish(PublishRequest(model, "VBOX", Category.accessory, variants=("Crimson=Red", "Lime=#00ff00")),
                     service.store, service.catalog, limits=service.settings.limits(), options=only_lod0)
    assert [(v["name"], v["khr_index"]) for v in second.variants] == [("Crimson", 0), ("Lime", None)]
    assert [(o.variant, o.created) for o in second.objects if o.format == "usdz"] == [(None, False), (0, False)]
    manifest = client.get("/products/VBOX/manifest").json()
    assert [(i["lod"], i["variant"], i["khr_index"]) for i in manifest["items"]] == [(0, "Crimson", 0),
                                                                                     (0, "Lime", None)]
    assert [i["usdz"]["sha256"] for i in manifest["items"]] == [usdz[0].sha256, usdz[None].sha256]
    with pytest.raises(InvalidAsset, match="expected NAME=VALUE"):
        publish(PublishRequest(model, "VBOX", Category.accessory, variants=("Broken=",)), service.store,
                service.catalog, limits=service.settings.limits(), options=only_lod0)
    service.close()


def test_publish_with_a_postgresql_catalog(corpus: Path, tmp_path: Path, pg_database: str) -> None:
    settings = local_settings(tmp_path, catalog_url=pg_database)
    service = AssetService.open(settings)
    try:
        model = corpus / "models" / "BoxVertexColors.glb"
        for _ in range(2):
            publish(PublishRequest(model, "PG-BOX", Category.furniture, variants=("walnut=#5d4037",)),
                    service.store, service.catalog, limits=settings.limits(), options=PublishOptions(lods=(0.5,)))
        client = TestClient(create_app(service=service))
        manifest = client.get("/products/PG-BOX/manifest").json()
        assert manifest["version"] == 2 and manifest["variants"][0]["name"] == "walnut"
        glb = manifest["items"][0]["glb"]
        assert hashlib.sha256(client.get(glb["url"]).content).hexdigest() == glb["sha256"]
        assert client.get("/products", params={"category": "furniture"}).json()["total"] == 1
        _no_dangling(service.catalog, service.store)
    finally:
        service.close()


def test_publish_reads_the_source_once_and_never_reads_its_outputs_back(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """USDZ and the thumbnail are made from the in-memory LOD documents: the only read is the source's."""
    from assets_pipeline.io import formats

    reads: list[str] = []
    real = formats.read
    monkeypatch.setattr(formats, "read", lambda path, *a, **k: reads.append(Path(path).name) or real(path, *a, **k))
    settings = local_settings(tmp_path)
    service = AssetService.open(settings)
    try:
        report = publish(PublishRequest(corpus / "models" / "BoxVertexColors.glb", "ONCE-1", Category.accessory),
                         service.store, service.catalog, limits=settings.limits(), options=PublishOptions(lods=(0.5,)))
    finally:
        service.close()
    assert reads == ["BoxVertexColors.glb"]
    assert sorted((o.format, o.lod) for o in report.objects) == [("glb", 0), ("glb", 1), ("png", 0), ("usdz", 0),
                                                                 ("usdz", 1)]  # fmt: skip


def test_publish_warns_for_what_the_usdz_cannot_carry(tmp_path: Path) -> None:
    """An animated, skinned model with two clips: the USDZ keeps the skeleton and both clips one after another on
    its timeline, and the publish report (and the catalog version) says so, once."""
    import copy

    from assets_pipeline.io.glb import write_glb

    from .animated_fixtures import JOINTS, animated_document

    doc = animated_document()
    doc.gltf["animations"].append({**copy.deepcopy(doc.gltf["animations"][0]), "name": "idle"})
    model = tmp_path / "tail.glb"
    write_glb(doc, model)
    service = AssetService.open(local_settings(tmp_path))
    try:
        report = publish(PublishRequest(model, "TAIL-1", Category.accessory), service.store, service.catalog,
                         limits=service.settings.limits(), options=PublishOptions(lods=(0.5,)))
        clip = [w for w in report.warnings if w.startswith("USDZ: 2 animations")]
        assert clip == ["USDZ: 2 animations play one after another on its one timeline (wave 0.00-4.00 s, idle "
                        "4.02-8.02 s; named in the layer's customLayerData phygitalAnimationClips)"]
        assert service.catalog.version("TAIL-1", None).warnings == report.warnings
        for obj in (o for o in report.objects if o.format == "usdz"):
            path = tmp_path / f"lod{obj.lod}.usdz"
            path.write_bytes(service.store.get(obj.key))
            stage = Usd.Stage.Open(str(path))
            skeletons = {p.GetParent().GetName(): p for p in stage.Traverse() if p.GetTypeName() == "Skeleton"}
            assert sorted(skeletons) == ["Skel", "flag_morph"]  # the skin's, and the morphed flag's one joint
            assert len(skeletons["Skel"].GetAttribute("joints").Get()) == JOINTS
            assert [p.GetName() for p in stage.Traverse() if p.GetTypeName() == "BlendShape"] == ["flag_t0"]
            assert stage.HasAuthoredTimeCodeRange() and stage.GetEndTimeCode() > stage.GetStartTimeCode()
    finally:
        service.close()
