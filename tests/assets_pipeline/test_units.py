"""A user's first hour with units: ``--units``/``--up`` on the CLI and ``units``/``up`` on the HTTP upload, and a
warning when the result is implausibly small or large for a product (the README's "CAD export in mm" example
made a 2.7 mm model without a word)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient

from assets_pipeline.api import create_app
from assets_pipeline.catalog import Category
from assets_pipeline.publish import PublishOptions, PublishRequest, publish
from assets_pipeline.service import AssetService
from assets_pipeline.tokens import TokenClaims, sign
from assets_pipeline.transforms.ar_frame import size_warning

from .catalog_fixtures import local_settings

ROOT = Path(__file__).resolve().parents[2]
SECRET = "units-test-secret"


def box_stl(path: Path, size: tuple[float, float, float]) -> Path:
    """An ASCII STL box from the origin to ``size``."""
    x, y, z = size
    v = np.array([[0, 0, 0], [x, 0, 0], [x, y, 0], [0, y, 0], [0, 0, z], [x, 0, z], [x, y, z], [0, y, z]], float)
    faces = [(0, 2, 1), (0, 3, 2), (4, 5, 6), (4, 6, 7), (0, 1, 5), (0, 5, 4), (1, 2, 6), (1, 6, 5), (2, 3, 7),
             (2, 7, 6), (3, 0, 4), (3, 4, 7)]
    lines = ["solid box"]
    for f in faces:
        lines += ["facet normal 0 0 0", "outer loop", *[f"vertex {p[0]} {p[1]} {p[2]}" for p in v[list(f)]],
                  "endloop", "endfacet"]
    path.write_text("\n".join([*lines, "endsolid box"]) + "\n")
    return path


def test_size_warning_names_the_units_that_fit() -> None:
    small = size_warning([0.0027, 0.0026, 0.002], "mm")
    assert small is not None and "2.7 mm at its largest (read as mm): implausibly small for a product" in small
    assert "m it would be 2.7 m" in small
    large = size_warning([300.0, 200.0, 100.0], "m")
    assert large is not None and "implausibly large" in large and "mm it would be 30 cm" in large
    assert size_warning([0.3, 0.2, 0.1], "m") is None
    assert size_warning([0.9, 0.3, 0.3], "m", (0.05, 0.6), "the category shoes") is not None


def test_cli_warns_about_a_model_millimeters_across(tmp_path: Path) -> None:
    """A CAD-like model 2.7 units across read as mm is 2.7 mm: said on stderr."""
    src = box_stl(tmp_path / "part.stl", (2.7, 2.0, 1.5))
    proc = subprocess.run([sys.executable, "-m", "assets_pipeline", "optimize", str(src), "-o",
                           str(tmp_path / "part.glb"), "--units", "mm", "--up", "z"], capture_output=True,
                          text=True, cwd=ROOT, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "implausibly small for a product" in " ".join(proc.stderr.split())
    proc = subprocess.run([sys.executable, "-m", "assets_pipeline", "optimize", str(src), "-o",
                           str(tmp_path / "part.glb"), "--up", "z"], capture_output=True, text=True, cwd=ROOT,
                          check=False)
    assert proc.returncode == 0 and "implausibly" not in proc.stderr


def test_http_upload_takes_units_and_up(tmp_path: Path) -> None:
    """``units``/``up`` on POST /products/{sku}/upload: a Z-up CAD box in mm is published at its real size."""
    body = box_stl(tmp_path / "box.stl", (300.0, 200.0, 100.0)).read_bytes()  # mm, Z-up: 100 mm tall
    svc = AssetService.open(local_settings(tmp_path / "svc", api_token_secret=SECRET))
    try:
        client = TestClient(create_app(service=svc))
        auth = {"Authorization": f"Bearer {sign(TokenClaims('t', 'artist', time.time() + 600), SECRET.encode())}"}
        params = {"filename": "box.stl", "category": "furniture"}
        resp = client.post("/products/BOX-MM/upload", params={**params, "units": "mm", "up": "z"}, content=body,
                           headers=auth)
        assert resp.status_code == 201, resp.text
        dims = resp.json()["dimensions_m"]
        assert np.allclose([dims["width"], dims["height"], dims["depth"]], [0.3, 0.1, 0.2], rtol=1e-3)
        assert not [w for w in resp.json()["warnings"] if "implausibly" in w]
        resp = client.post("/products/BOX-M/upload", params=params, content=body, headers=auth)  # read as meters
        assert resp.status_code == 201, resp.text
        assert resp.json()["dimensions_m"]["width"] > 299
        (warning,) = [w for w in resp.json()["warnings"] if "implausibly" in w]
        assert "300 m at its largest (read as m): implausibly large" in warning and "mm it would be 30 cm" in warning
        resp = client.post("/products/BOX-X/upload", params={**params, "units": "km"}, content=body, headers=auth)
        assert resp.status_code == 422 and "units" in resp.text
    finally:
        svc.close()


def test_publish_warns_for_the_category(tmp_path: Path) -> None:
    """A plausible product but not for its category: a 90 cm shoe."""
    svc = AssetService.open(local_settings(tmp_path / "svc"))
    try:
        src = box_stl(tmp_path / "shoe.stl", (0.9, 0.3, 0.3))
        report = publish(PublishRequest(src, "SHOE-1", Category.shoes), svc.store, svc.catalog,
                         limits=svc.settings.limits(), options=PublishOptions(lods=()))
        (warning,) = [w for w in report.warnings if "implausibly" in w]
        assert "90 cm at its largest (read as m): implausibly large for the category shoes" in warning
    finally:
        svc.close()
