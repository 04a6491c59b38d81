"""Each transform on real corpus models: what it changes and what it must not change."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from assets_pipeline.codecs import images, meshopt
from assets_pipeline.codecs.simplifier import best_simplifier
from assets_pipeline.document import AssetDocument
from assets_pipeline.io.formats import read
from assets_pipeline.limits import processors
from assets_pipeline.metrics import hausdorff
from assets_pipeline.pipeline import DEFAULTS, optimize_file, run
from assets_pipeline.scene import bounds, world_triangles
from assets_pipeline.transforms.ar_frame import FrameOptions, ar_frame
from assets_pipeline.transforms.attributes import drop_unused_attributes
from assets_pipeline.transforms.join import join
from assets_pipeline.transforms.normals import normals
from assets_pipeline.transforms.prune import prune
from assets_pipeline.transforms.quantize import quantize
from assets_pipeline.transforms.simplify import SimplifyOptions, simplify
from assets_pipeline.transforms.tangents import tangents
from assets_pipeline.transforms.textures import TextureOptions, textures
from assets_pipeline.transforms.weld import weld

from .conftest import validate_ok
from .geometry import area


def _vertex_count(doc: AssetDocument) -> int:
    return sum(doc.accessors[p["attributes"]["POSITION"]].count for _, _, p in doc.primitives())


def test_weld_joins_stl_corners_without_changing_geometry(corpus: Path) -> None:
    doc = read(corpus / "models" / "teapot_binary.stl")
    before = doc.clone()
    assert _vertex_count(doc) == 3 * doc.triangle_count()
    run(doc, [weld(), prune()])
    assert _vertex_count(doc) < _vertex_count(before) / 4
    va, fa = world_triangles(before)
    vb, fb = world_triangles(doc)
    np.testing.assert_array_equal(va[fa], vb[fb])  # same triangles, same order, same corners


def test_prune_drops_what_nothing_uses(corpus: Path) -> None:
    doc = read(corpus / "models" / "DamagedHelmet.glb")
    doc.gltf["materials"].append({"name": "unused"})
    doc.gltf["nodes"].append({"name": "orphan"})
    doc.images.append(doc.images[0])  # duplicate image bytes
    doc.gltf["textures"].append({"source": len(doc.images) - 1})
    n_acc = len(doc.accessors)
    doc.add_accessor(np.zeros((3, 3), np.float32))
    run(doc, [prune()])
    assert len(doc.gltf["materials"]) == 1 and len(doc.gltf["nodes"]) == 1
    assert len(doc.images) == 5 and len(doc.accessors) == n_acc


def test_prune_drops_primitives_that_draw_nothing(corpus: Path, tmp_path: Path) -> None:
    """A simplifier can leave a small part with no triangle: its primitive goes (an accessor of count 0 is
    invalid glTF), and a node whose mesh is left with none loses the mesh."""
    from assets_pipeline.io.glb import WriteOptions, write_glb

    doc = read(corpus / "models" / "DamagedHelmet.glb")
    material = doc.gltf["meshes"][0]["primitives"][0].get("material")

    def empty_primitive() -> dict[str, object]:
        return {"attributes": {"POSITION": doc.add_accessor(np.zeros((0, 3), np.float32))},
                "indices": doc.add_accessor(np.zeros((0,), np.uint32)), "material": material}

    doc.gltf["meshes"][0]["primitives"].append(empty_primitive())
    doc.gltf["meshes"].append({"primitives": [empty_primitive()]})
    doc.gltf["nodes"].append({"name": "emptied", "mesh": 1})
    doc.gltf["scenes"][0]["nodes"].append(len(doc.gltf["nodes"]) - 1)
    run(doc, [prune()])
    assert len(doc.gltf["meshes"]) == 1 and len(doc.gltf["meshes"][0]["primitives"]) == 1
    emptied = [n for n in doc.gltf["nodes"] if n.get("name") == "emptied"]
    assert emptied and "mesh" not in emptied[0]
    assert all(len(a.array) for a in doc.accessors)
    write_glb(doc, tmp_path / "pruned.glb", WriteOptions(compression="none"))
    validate_ok([tmp_path / "pruned.glb"])


def test_normals_are_unit_and_face_outwards(corpus: Path) -> None:
    doc = read(corpus / "models" / "stanford-bunny.obj")
    run(doc, [normals()])
    prim = next(doc.primitives())[2]
    n = doc.accessors[prim["attributes"]["NORMAL"]].array
    np.testing.assert_allclose(np.linalg.norm(n, axis=1), 1.0, atol=1e-5)
    v, f = world_triangles(doc)
    face = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    agree = (np.einsum("ij,ij->i", face, n[f[:, 0]]) > 0).mean()
    assert agree > 0.97


def test_tangents_follow_the_normal_map(corpus: Path) -> None:
    doc = read(corpus / "models" / "DamagedHelmet.glb")
    run(doc, [tangents()])
    prim = next(doc.primitives())[2]
    t = doc.accessors[prim["attributes"]["TANGENT"]].array
    n = doc.accessors[prim["attributes"]["NORMAL"]].as_float()
    assert set(np.unique(t[:, 3])) <= {-1.0, 1.0}
    assert np.abs(np.einsum("ij,ij->i", t[:, :3], n)).max() < 1e-3


@pytest.mark.parametrize("name", ["stanford-bunny.obj", "DamagedHelmet.glb"])
def test_simplify_reaches_the_ratio_with_small_error(corpus: Path, name: str) -> None:
    doc = read(corpus / "models" / name)
    ref = doc.clone()
    run(doc, [simplify(SimplifyOptions(ratio=0.5, error=0.05), best_simplifier())])
    assert doc.triangle_count() == pytest.approx(ref.triangle_count() * 0.5, rel=0.05)
    assert hausdorff(ref, doc) < 0.005


def test_simplify_keeps_uv_seams(corpus: Path) -> None:
    doc = read(corpus / "models" / "spot.obj")  # textured: UV seams split vertices
    run(doc, [weld(), simplify(SimplifyOptions(ratio=0.25, error=0.05), meshopt.simplify)])
    assert doc.triangle_count() < 0.3 * 5856
    assert area(doc) == pytest.approx(area(read(corpus / "models" / "spot.obj")), rel=0.02)  # no holes


def test_quantize_error_is_within_half_a_step(corpus: Path) -> None:
    doc = read(corpus / "models" / "beast.obj")
    ref = doc.clone()
    run(doc, [quantize()])
    assert "KHR_mesh_quantization" in doc.gltf["extensionsRequired"]
    va, _fa = world_triangles(ref)
    vb, _ = world_triangles(doc)
    step = (va.max(axis=0) - va.min(axis=0)).max() / 16383
    assert np.abs(va - vb).max() <= step / 2 * 1.001


def test_uv_quantization_uses_texture_transform(corpus: Path) -> None:
    doc = read(corpus / "models" / "DamagedHelmet.glb")
    uv_before = doc.accessors[next(doc.primitives())[2]["attributes"]["TEXCOORD_0"]].array
    run(doc, [quantize()])
    prim = next(doc.primitives())[2]
    q = doc.accessors[prim["attributes"]["TEXCOORD_0"]].array
    assert q.dtype == np.uint16 and q.max() <= 4095
    tt = doc.gltf["materials"][0]["pbrMetallicRoughness"]["baseColorTexture"]["extensions"]["KHR_texture_transform"]
    uv = q * np.array(tt["scale"]) + np.array(tt["offset"])
    assert np.abs(uv - uv_before).max() <= 0.5 / 4095 * (uv_before.max() - uv_before.min()) * 1.01


def test_join_merges_same_looking_materials(corpus: Path) -> None:
    doc = read(corpus / "models" / "pirate.obj")  # its MTL is missing: seven default materials
    assert len(list(doc.primitives())) == 7
    run(doc, [weld(), join(), prune()])
    assert len(list(doc.primitives())) == 1 and doc.triangle_count() == 5010


def test_unused_uvs_are_dropped(corpus: Path) -> None:
    doc = read(corpus / "models" / "spot.obj")  # UVs but no material
    run(doc, [drop_unused_attributes()])
    assert "TEXCOORD_0" not in next(doc.primitives())[2]["attributes"]
    helmet = read(corpus / "models" / "DamagedHelmet.glb")
    run(helmet, [drop_unused_attributes()])
    assert "TEXCOORD_0" in next(helmet.primitives())[2]["attributes"]


def test_ar_frame_units_up_axis_and_pivot(corpus: Path) -> None:
    doc = read(corpus / "models" / "teapot.obj")
    lo, hi = bounds(doc)
    run(doc, [ar_frame(FrameOptions(units="cm", up="z"))])
    lo2, hi2 = bounds(doc)
    size = (hi - lo) * 0.01
    np.testing.assert_allclose(hi2 - lo2, [size[0], size[2], size[1]], rtol=1e-6)
    assert lo2[1] == pytest.approx(0.0, abs=1e-9)
    assert (lo2[0] + hi2[0]) / 2 == pytest.approx(0.0, abs=1e-9)


def test_textures_webp_resize_and_fallback(corpus: Path) -> None:
    src = read(corpus / "models" / "DamagedHelmet.glb")
    doc = src.clone()
    run(doc, [textures(TextureOptions("webp", max_size=512), images.reencode)])
    assert all(i.mime_type == "image/webp" for i in doc.images)
    with PILImage.open(io.BytesIO(doc.images[0].data)) as im:
        assert max(im.size) == 512
    assert "EXT_texture_webp" in doc.gltf["extensionsRequired"]
    assert all("source" not in t for t in doc.gltf["textures"])
    fb = src.clone()
    run(fb, [textures(TextureOptions("webp", fallback=True), images.reencode)])
    assert "EXT_texture_webp" not in fb.gltf.get("extensionsRequired", [])
    assert all("source" in t and "EXT_texture_webp" in t["extensions"] for t in fb.gltf["textures"])


def test_lod_chain_and_report(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "bunny.glb"
    rep = optimize_file(corpus / "models" / "stanford-bunny.obj", out, replace(DEFAULTS, lods=(0.5, 0.25, 0.1)))
    files = [out, *(tmp_path / f"bunny.lod{i}.glb" for i in (1, 2, 3))]
    assert all(f.is_file() for f in files)
    validate_ok(files)
    tris = [lod.triangles for lod in rep.lods]
    errors = [lod.error for lod in rep.lods]
    assert tris[0] == 69451 and tris[1] == pytest.approx(34725, rel=0.02) and tris[3] == pytest.approx(6945, rel=0.05)
    assert errors == sorted(errors) and errors[0] < 5e-5 and errors[3] < 0.01  # type: ignore[type-var]
    assert [s.name for s in rep.steps][:4] == ["attributes", "flat normals", "weld", "join"]
    assert rep.dimensions_m == pytest.approx([0.1557, 0.1543, 0.1207], abs=1e-3)


def test_draco_option_round_trips(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "helmet.glb"
    optimize_file(corpus / "models" / "DamagedHelmet.glb", out,
                  replace(DEFAULTS, compression="draco", frame=FrameOptions(pivot="keep")))
    validate_ok([out])
    back = read(out)
    assert back.triangle_count() == 15452
    assert hausdorff(read(corpus / "models" / "DamagedHelmet.glb"), back) < 0.0002  # 14-bit Draco positions


def test_simplifier_worker_is_reused_restarted_and_fails_clearly(tmp_path: Path) -> None:
    from assets_pipeline import nodetools
    from assets_pipeline.codecs import simplifier
    from assets_pipeline.errors import PipelineFailure

    assert simplifier.available()  # make setup installs node's meshoptimizer (phygital-assets node-tools --install)
    grid = np.stack(np.meshgrid(np.arange(20.0), np.arange(20.0), indexing="ij"), -1).reshape(-1, 2)
    pos = np.column_stack([grid, np.sin(grid[:, 0] / 3)]).astype(np.float32)
    quads = [(i * 20 + j, i * 20 + j + 1, (i + 1) * 20 + j + 1, (i + 1) * 20 + j) for i in range(19) for j in range(19)]
    idx = np.array([[a, b, c, a, c, d] for a, b, c, d in quads], np.uint32).reshape(-1)
    first, _ = simplifier.simplify(idx, pos, len(idx) // 2, 0.05)
    worker = simplifier._WORKERS[nodetools.folder()][0]
    assert worker.proc is not None
    pid = worker.proc.pid
    again, _ = simplifier.simplify(idx, pos, len(idx) // 2, 0.05)
    assert worker.proc.pid == pid and np.array_equal(first, again)  # one node process, same answer
    worker.proc.kill()
    worker.proc.wait()
    after, _ = simplifier.simplify(idx, pos, len(idx) // 2, 0.05)  # a dead worker is replaced
    assert worker.proc.pid != pid and np.array_equal(first, after)
    # a node tools folder without the npm package: node ends at once, and its own message is the error
    with pytest.raises(PipelineFailure, match=r"simplify: simplifier failed: .*Cannot find package 'meshoptimizer'"):
        simplifier.simplify(idx, pos, len(idx) // 2, 0.05, tools=tmp_path)


def _grid_mesh(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """An n x n grid of bumpy quads: (indices, positions)."""
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(np.arange(float(n)), np.arange(float(n)), indexing="ij"), -1).reshape(-1, 2)
    pos = np.column_stack([grid, 0.3 * rng.standard_normal(len(grid))]).astype(np.float32)
    i, j = (a.reshape(-1) for a in np.meshgrid(np.arange(n - 1), np.arange(n - 1), indexing="ij"))
    a, b, c, d = i * n + j, i * n + j + 1, (i + 1) * n + j + 1, (i + 1) * n + j
    return np.stack([a, b, c, a, c, d], -1).reshape(-1).astype(np.uint32), pos


def test_a_calls_jobs_are_shared_between_the_node_processes_with_the_answers_of_one(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With two node processes, the jobs of one call go to both (balanced by size), and each answer is the one a
    single process gives, in the order asked; a request of several MB (many pipe chunks) is answered too."""
    from assets_pipeline import nodetools
    from assets_pipeline.codecs import simplifier

    folder = nodetools.folder()
    monkeypatch.setattr(simplifier, "PROCESSES", 2)
    monkeypatch.setitem(simplifier._WORKERS, folder, [simplifier._Worker(folder) for _ in range(min(2, processors()))])
    meshes = [_grid_mesh(n, seed) for seed, n in enumerate((30, 12, 300, 20, 45))]  # 300: a 2.5 MB request
    jobs = [(idx, pos, len(idx) // 4 // 3 * 3, 1e30, 4, None, None) for idx, pos in meshes]
    asked: list[int] = []
    call = simplifier._Worker.call

    def recorded(self: simplifier._Worker, payload: bytes) -> bytes:
        asked.append(id(self))
        return call(self, payload)

    monkeypatch.setattr(simplifier._Worker, "call", recorded)
    together = simplifier.simplify_many(jobs)  # type: ignore[arg-type]
    assert len(set(asked)) == min(simplifier.PROCESSES, processors())
    alone = [simplifier.simplify_many([job])[0] for job in jobs]  # type: ignore[list-item]
    for worker in simplifier._WORKERS[folder]:
        worker.close()
    for (a, err_a), (b, err_b), job in zip(together, alone, jobs, strict=True):
        assert np.array_equal(a, b) and err_a == err_b and 0 < len(a) <= job[2]


def test_jobs_are_shared_out_by_size() -> None:
    from assets_pipeline.codecs.simplifier import share_out

    assert share_out([10, 1, 1, 8], 2) == [[0], [1, 2, 3]]
    assert share_out([5, 5, 5, 5], 2) == [[0, 2], [1, 3]]
    assert share_out([7], 2) == [[0]] and share_out([3, 4], 1) == [[0, 1]] and share_out([], 2) == [[]]
    groups = share_out(list(range(1, 40)), 3)
    assert sorted(i for g in groups for i in g) == list(range(39))
    totals = [sum(i + 1 for i in g) for g in groups]
    assert max(totals) - min(totals) <= 39


def test_simplifier_started_ahead_is_the_one_that_answers(tmp_path: Path) -> None:
    """``start()`` launches the node process before any simplification (its start-up then overlaps other work);
    the first simplification uses that process; a folder without the npm package starts nothing."""
    from assets_pipeline import nodetools
    from assets_pipeline.codecs import simplifier

    folder = nodetools.folder()
    old = simplifier._WORKERS.pop(folder, None)
    try:
        simplifier.start()
        workers = simplifier._WORKERS[folder]
        assert len(workers) == min(simplifier.PROCESSES, processors())
        assert all(w.proc is not None and w.proc.poll() is None for w in workers)
        pids = [w.proc.pid for w in workers]  # type: ignore[union-attr]
        simplifier.start()  # already running: no other process
        assert [w.proc.pid for w in workers] == pids  # type: ignore[union-attr]
        pos = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0.5, 0.5, 0.01]], np.float32)
        idx = np.array([0, 1, 4, 1, 2, 4, 2, 3, 4, 3, 0, 4], np.uint32)
        simplifier.simplify(idx, pos, 6, 0.05)
        assert [w.proc.pid for w in workers] == pids  # type: ignore[union-attr]
        simplifier.start(tmp_path)  # no meshoptimizer there: nothing started
        assert tmp_path not in simplifier._WORKERS
    finally:
        for worker in simplifier._WORKERS.pop(folder):
            worker.close()
        if old is not None:
            simplifier._WORKERS[folder] = old
