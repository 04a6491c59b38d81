"""Every corpus model converts (or is refused with a clear reason), and every output passes the Khronos
validator with zero errors, also after its compressed streams are decoded."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from assets_pipeline.errors import AssetError
from assets_pipeline.io.formats import read
from assets_pipeline.io.glb import WriteOptions, write_glb
from assets_pipeline.pipeline import OptimizeOptions, optimize_file
from assets_pipeline.report import OptimizeReport
from assets_pipeline.scene import bounds
from tests.conftest import corpus_dir, corpus_present

from .conftest import REFUSED, corpus_models, validate_ok

# Without the corpus, one placeholder case that the ``corpus`` fixture (through ``outcomes``) skips like every
# other corpus test, or fails under PHYGITAL_REQUIRE_CORPUS=1.
FILES = corpus_models(corpus_dir()) if corpus_present() else [corpus_dir() / "corpus-missing"]


@dataclass
class Outcome:
    source: Path
    output: Path | None
    report: OptimizeReport | None
    error: AssetError | None


@pytest.fixture(scope="module")
def outcomes(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    out = tmp_path_factory.mktemp("corpus")
    results: dict[str, Outcome] = {}
    for f in FILES:
        dst = out / f"{f.parent.name}__{f.stem}.glb"
        try:
            rep = optimize_file(f, dst, OptimizeOptions(measure_error=True))
            results[f.name] = Outcome(f, dst, rep, None)
        except AssetError as exc:
            results[f.name] = Outcome(f, None, None, exc)
    return results


@pytest.fixture(scope="module")
def validated(outcomes: dict[str, Outcome]) -> dict[str, int]:
    paths = [o.output for o in outcomes.values() if o.output]
    reports = validate_ok(paths)  # one node process for the whole corpus
    return {Path(r.path).name: r.errors for r in reports}


def test_corpus_is_there(corpus: Path) -> None:
    files = corpus_models(corpus)
    assert len(files) >= 30, [f.name for f in files]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_converts_or_is_refused_clearly(path: Path, outcomes: dict[str, Outcome], validated: dict[str, int]) -> None:
    o = outcomes[path.name]
    if path.name in REFUSED:
        assert o.error is not None, "expected a refusal"
        assert path.name in str(o.error) and REFUSED[path.name] in str(o.error)
        return
    assert o.error is None, str(o.error)
    assert o.output is not None and o.report is not None
    assert validated[o.output.name] == 0
    # default output keeps every triangle and stays within the quantization error bound
    assert o.report.lods[0].triangles == o.report.triangles_in
    assert o.report.lods[0].error is not None and o.report.lods[0].error <= 0.00005, o.report.lods[0].error


@pytest.mark.parametrize("path", [f for f in FILES if f.name not in REFUSED], ids=lambda p: p.name)
def test_ar_frame_and_dimensions(path: Path, outcomes: dict[str, Outcome]) -> None:
    o = outcomes[path.name]
    assert o.output is not None and o.report is not None
    src_lo, src_hi = bounds(read(path))
    lo, hi = bounds(read(o.output))
    size = hi - lo
    tol = 1e-3 * float(np.linalg.norm(src_hi - src_lo))
    np.testing.assert_allclose(size, src_hi - src_lo, atol=tol)  # meters in, meters out
    np.testing.assert_allclose(o.report.dimensions_m, src_hi - src_lo, atol=tol)
    assert abs(lo[1]) <= tol, "the model must stand on y = 0"
    np.testing.assert_allclose([(lo[0] + hi[0]) / 2, (lo[2] + hi[2]) / 2], [0, 0], atol=tol)


def test_outputs_validate_after_decoding(outcomes: dict[str, Outcome], tmp_path: Path) -> None:
    """The validator does not look inside meshopt/Draco streams: decode ours and validate the plain data."""
    plain = []
    for o in outcomes.values():
        if o.output is None:
            continue
        doc = read(o.output)
        dst = tmp_path / o.output.name
        write_glb(doc, dst, WriteOptions(compression="none"))
        plain.append(dst)
    reports = validate_ok(plain)
    assert all(r.errors == 0 for r in reports)


def test_outputs_use_compression_and_quantization(outcomes: dict[str, Outcome]) -> None:
    rep = outcomes["stanford-bunny.obj"].report
    assert rep is not None
    assert {"KHR_mesh_quantization", "EXT_meshopt_compression"} <= set(rep.extensions_used)
    assert rep.bytes_out < rep.bytes_in / 8


def test_missing_texture_is_a_warning_and_keeps_the_material(outcomes: dict[str, Outcome]) -> None:
    o = outcomes["box-missing-texture.obj"]
    assert o.report is not None and o.output is not None
    assert any("cesium.png" in w and "skipped" in w for w in o.report.warnings)
    mat = read(o.output).gltf["materials"][0]
    assert mat["pbrMetallicRoughness"]["baseColorFactor"][:3] == pytest.approx([0.64, 0.64, 0.64])


def test_compressed_inputs_are_decoded(corpus: Path, outcomes: dict[str, Outcome]) -> None:
    dense = read(corpus / "models" / "DenseSphere.glb")  # Draco
    pirate = read(corpus / "models" / "pirate.glb")  # meshopt
    assert dense.triangle_count() == 30720 and pirate.triangle_count() == 5010
    for doc in (dense, pirate):
        assert not {"KHR_draco_mesh_compression", "EXT_meshopt_compression"} & set(doc.gltf.get("extensionsUsed", []))
    assert outcomes["DenseSphere.glb"].output is not None
