"""Publish timings for docs/benchmarks-assets.md
(``pytest -m benchmark tests/assets_pipeline/test_bench_publish.py -s``).

Publishes three corpus models with the default LOD chain into the local store and into a moto S3 server,
then publishes each again (content addressing: nothing new is uploaded) and prints a markdown table.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from assets_pipeline.catalog import Category
from assets_pipeline.publish import PublishRequest, publish
from assets_pipeline.service import AssetService

from .catalog_fixtures import local_settings, s3_settings

MODELS = [("DamagedHelmet.glb", Category.accessory), ("stanford-bunny.obj", Category.apparel),
          ("BoxTextured/BoxTextured.gltf", Category.furniture)]


@pytest.mark.benchmark
def test_publish_timings(corpus: Path, tmp_path: Path, moto_url: str) -> None:
    rows = ["| store | model | input bytes | objects | bytes stored | publish s | again s | again bytes |",
            "|---|---|---:|---:|---:|---:|---:|---:|"]
    for kind in ("local", "s3"):
        root = tmp_path / kind
        settings = local_settings(root) if kind == "local" else s3_settings(moto_url, root)
        service = AssetService.open(settings)
        for name, cat in MODELS:
            src = corpus / "models" / name
            sku = Path(name).stem.upper()
            t0 = time.perf_counter()
            first = publish(PublishRequest(src, sku, cat), service.store, service.catalog, limits=settings.limits())
            t1 = time.perf_counter()
            again = publish(PublishRequest(src, sku, cat), service.store, service.catalog, limits=settings.limits())
            t2 = time.perf_counter()
            assert again.bytes_uploaded == 0
            rows.append(f"| {kind} | {Path(name).name} | {src.stat().st_size:,} | {len(first.objects)} | "
                        f"{first.bytes_uploaded:,} | {t1 - t0:.1f} | {t2 - t1:.1f} | {again.bytes_uploaded} |")
        service.close()
    print("\n" + "\n".join(rows))
