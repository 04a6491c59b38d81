"""Fixtures for the asset pipeline tests: the Khronos validator, corpus file lists, outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from assets_pipeline.validation import ValidationReport, validate

MODEL_SUFFIXES = {".obj", ".stl", ".ply", ".glb", ".gltf"}
REFUSED = {"box-incomplete-positions.obj": "refers to vertex 8, but only 1 vertices are defined"}


def corpus_models(corpus: Path) -> list[Path]:
    files = [p for p in sorted((corpus / "models").rglob("*")) if p.suffix.lower() in MODEL_SUFFIXES]
    files += [p for p in sorted((corpus / "obj_edge_cases").rglob("*")) if p.suffix.lower() in MODEL_SUFFIXES]
    return files


def validate_ok(paths: list[Path]) -> list[ValidationReport]:
    """Validate with the Khronos validator and fail with its messages if any file has errors."""
    reports = validate(list(paths))
    bad = [(Path(r.path).name, [(m.get("code"), m.get("pointer")) for m in r.messages if m.get("severity") == 0][:5])
           for r in reports if r.errors]
    assert not bad, f"validator errors: {bad}"
    return reports


@pytest.fixture(scope="session")
def validator() -> object:
    return validate_ok


from .batch_fixtures import private_redis, redis_namespace, workers  # noqa: E402,F401  (batch tests)
from .catalog_fixtures import catalog_url, moto_url, pg_available, pg_database  # noqa: E402,F401  (store/catalog tests)
