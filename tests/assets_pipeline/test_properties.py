"""Property tests: hostile mutations never escape as anything but AssetError; weld never changes the
triangle geometry; quantized positions stay within half a grid step."""

from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from assets_pipeline.document import AssetDocument
from assets_pipeline.errors import AssetError
from assets_pipeline.io.formats import read
from assets_pipeline.io.glb import WriteOptions, encode_glb, pack_glb
from assets_pipeline.pipeline import optimize_document
from assets_pipeline.scene import world_triangles
from assets_pipeline.transforms.quantize import QuantizeOptions, quantize
from assets_pipeline.transforms.weld import weld

from .test_hostile import ASCII_PLY, split_glb

FUZZ = settings(max_examples=600, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module")
def box_glb(corpus: Path) -> bytes:
    return (corpus / "models" / "BoxVertexColors.glb").read_bytes()


def _accepted_is_usable(doc: AssetDocument) -> None:
    """A document read() accepts can be measured and written back (no crash past the reader)."""
    verts, tris = world_triangles(doc)
    assert np.isfinite(verts).all()
    if len(tris):
        assert tris.max() < len(verts)
    encode_glb(doc, WriteOptions(compression="none"))


# --- fuzz: mutated files -------------------------------------------------------------------------------

def _mutate_and_read(original: bytes, name: str, folder: Path, data: st.DataObject) -> None:
    """Overwrite a few bytes (anywhere, or only in the BIN chunk, where the compressed streams and the
    vertex data are), maybe truncate; read() must refuse with AssetError or give a usable document."""
    raw = bytearray(original)
    (jlen,) = np.frombuffer(original[12:16], "<u4")
    start = data.draw(st.sampled_from([0, 20 + int(jlen) + 8]), label="region")
    edits = data.draw(st.lists(st.tuples(st.integers(start, len(raw) - 1), st.integers(0, 255)), min_size=1,
                               max_size=12), label="edits")
    for pos, value in edits:
        raw[pos] = value
    cut = data.draw(st.one_of(st.none(), st.none(), st.integers(0, len(raw))), label="cut")
    path = folder / name
    path.write_bytes(bytes(raw[:cut]))
    try:
        doc = read(path)
    except AssetError as exc:
        assert str(exc).startswith(f"{name}: ") and "\n" not in str(exc)
        event(f"refused: {type(exc).__name__}")
        return
    event("accepted")
    _accepted_is_usable(doc)


@FUZZ
@given(data=st.data())
def test_byte_mutations_raise_only_asset_errors(box_glb: bytes, tmp_path_factory: pytest.TempPathFactory,
                                                data: st.DataObject) -> None:
    _mutate_and_read(box_glb, "box.glb", tmp_path_factory.mktemp("fuzz"), data)


@settings(FUZZ, max_examples=250)
@given(data=st.data())
def test_byte_mutations_of_meshopt_streams(corpus: Path, tmp_path_factory: pytest.TempPathFactory,
                                           data: st.DataObject) -> None:
    """pirate.glb is EXT_meshopt_compression: mutations reach the C decoders, which must refuse cleanly."""
    original = (corpus / "models" / "pirate.glb").read_bytes()
    _mutate_and_read(original, "pirate.glb", tmp_path_factory.mktemp("fuzz"), data)


@settings(FUZZ, max_examples=80)
@given(data=st.data())
def test_byte_mutations_of_draco_streams(corpus: Path, tmp_path_factory: pytest.TempPathFactory,
                                         data: st.DataObject) -> None:
    """DenseSphere.glb is KHR_draco_mesh_compression: mutations reach the Draco decoder."""
    original = (corpus / "models" / "DenseSphere.glb").read_bytes()
    _mutate_and_read(original, "sphere.glb", tmp_path_factory.mktemp("fuzz"), data)


def _mutate_text_and_read(original: bytes, name: str, folder: Path, data: st.DataObject) -> None:
    raw = bytearray(original)
    alphabet = st.sampled_from(list(b"0123456789-+.eE naxyz\n\x00\xff"))
    for pos, value in data.draw(st.lists(st.tuples(st.integers(0, len(raw) - 1), alphabet), min_size=1,
                                         max_size=8), label="edits"):
        raw[pos] = value
    cut = data.draw(st.one_of(st.none(), st.integers(0, len(raw))), label="cut")
    path = folder / name
    path.write_bytes(bytes(raw[:cut]))
    try:
        doc = read(path)
    except AssetError as exc:
        assert str(exc).startswith(f"{name}: ") and "\n" not in str(exc)
        event(f"refused: {type(exc).__name__}")
        return
    event("accepted")
    _accepted_is_usable(doc)


@settings(FUZZ, max_examples=300)
@given(data=st.data())
def test_ply_mutations_raise_only_asset_errors(tmp_path_factory: pytest.TempPathFactory,
                                               data: st.DataObject) -> None:
    _mutate_text_and_read(ASCII_PLY, "quad.ply", tmp_path_factory.mktemp("fuzz"), data)


@settings(FUZZ, max_examples=150)
@given(data=st.data())
def test_stl_mutations_raise_only_asset_errors(corpus: Path, tmp_path_factory: pytest.TempPathFactory,
                                               data: st.DataObject) -> None:
    binary = (corpus / "models" / "teapot_binary.stl").read_bytes()[: 84 + 50 * 40]
    binary = binary[:80] + (40).to_bytes(4, "little") + binary[84:]  # the first 40 triangles, consistent
    _mutate_and_read_any(binary, "teapot.stl", tmp_path_factory.mktemp("fuzz"), data)


def _mutate_and_read_any(original: bytes, name: str, folder: Path, data: st.DataObject) -> None:
    raw = bytearray(original)
    for pos, value in data.draw(st.lists(st.tuples(st.integers(0, len(raw) - 1), st.integers(0, 255)),
                                         min_size=1, max_size=8), label="edits"):
        raw[pos] = value
    path = folder / name
    path.write_bytes(bytes(raw))
    try:
        doc = read(path)
    except AssetError as exc:
        assert str(exc).startswith(f"{name}: ") and "\n" not in str(exc)
        return
    _accepted_is_usable(doc)


def _json_paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _json_paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _json_paths(v, (*prefix, i))
    return out


JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2, 40), st.integers(-(2**40), 2**40),
              st.floats(allow_nan=False, allow_infinity=False, width=32), st.text(max_size=4),
              st.sampled_from(["VEC3", "SCALAR", "MAT4", "ATTRIBUTES", "TRIANGLES", "../x.bin", "/etc/passwd"])),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(
        ["uri", "byteLength", "bufferView", "count", "children", "mesh", "primitives", "attributes"]), inner,
        max_size=3),
    max_leaves=6)


@FUZZ
@given(data=st.data())
def test_json_mutations_raise_only_asset_errors(box_glb: bytes, tmp_path_factory: pytest.TempPathFactory,
                                                data: st.DataObject) -> None:
    """Replace or delete values anywhere in the JSON: read() refuses with AssetError or gives a document the
    whole optimize pipeline can process (raising at most an AssetError about the input)."""
    gltf, binary = split_glb(box_glb)
    gltf = copy.deepcopy(gltf)
    paths = [p for p in _json_paths(gltf) if p]
    for _ in range(data.draw(st.integers(1, 3), label="n")):
        path = data.draw(st.sampled_from(paths), label="path")
        parent: Any = gltf
        try:
            for key in path[:-1]:
                parent = parent[key]
            if data.draw(st.booleans(), label="delete"):
                del parent[path[-1]]
            else:
                parent[path[-1]] = data.draw(JSON_VALUES, label="value")
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit removed this path
    file = tmp_path_factory.mktemp("fuzz") / "box.glb"
    file.write_bytes(pack_glb(gltf, binary))
    try:
        doc = read(file)
    except AssetError as exc:
        assert str(exc).startswith("box.glb: ") and "\n" not in str(exc)
        event(f"refused: {type(exc).__name__}")
        return
    event("accepted")
    _accepted_is_usable(doc)
    try:
        optimize_document(doc)
    except AssetError as exc:
        assert exc.user_error, f"accepted input crashed the pipeline: {exc}\n{json.dumps(gltf)[:3000]}"
    encode_glb(doc)


# --- weld -----------------------------------------------------------------------------------------------

def _corner_key(doc: AssetDocument) -> Counter[tuple[tuple[float, ...], ...]]:
    """Every triangle as its three corners (world position + the other vertex attributes), rotated so the
    smallest corner comes first (winding kept), counted as a multiset."""
    verts, tris = world_triangles(doc)
    extra: list[np.ndarray] = []
    for _, _, prim in doc.primitives():
        attrs = prim["attributes"]
        cols = [doc.accessors[a].as_float().reshape(doc.accessors[a].count, -1).astype(np.float64)
                for name, a in sorted(attrs.items()) if name != "POSITION"]
        n = doc.accessors[attrs["POSITION"]].count
        extra.append(np.concatenate(cols, axis=1) if cols else np.zeros((n, 0)))
    rows = np.concatenate([verts, np.concatenate(extra)], axis=1)
    out: Counter[tuple[tuple[float, ...], ...]] = Counter()
    for t in tris:
        corners = [tuple(rows[i].tolist()) for i in t]
        k = corners.index(min(corners))
        out[tuple(corners[k:] + corners[:k])] += 1
    return out


@st.composite
def meshes_with_duplicates(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None,
                                                     np.ndarray | None]:
    """A triangle soup whose corners copy a few distinct vertices (so weld has work), optionally with
    normals and UVs that split some copies (so weld must keep them apart), indexed or not."""
    n_unique = draw(st.integers(3, 12))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    unique = rng.integers(-4, 5, (n_unique, 3)).astype(np.float32) * np.float32(0.25)
    n_tris = draw(st.integers(1, 30))
    corners = rng.integers(0, n_unique, n_tris * 3)
    positions = unique[corners]
    normals = uvs = None
    if draw(st.booleans()):
        normals = np.where(rng.random((len(corners), 1)) < 0.3, [[0.0, 0.0, 1.0]], [[0.0, 1.0, 0.0]])
    if draw(st.booleans()):
        uvs = rng.integers(0, 2, (len(corners), 2)).astype(np.float32)
    indexed = draw(st.booleans())
    indices = None
    if indexed:  # index the soup in a shuffled order, with unused vertices mixed in
        order = rng.permutation(len(corners) + 3)
        positions = np.concatenate([positions, unique[:3] + 100])[order]
        inverse = np.argsort(order)
        indices = inverse[: len(corners)].astype(np.uint32)
        if normals is not None:
            normals = np.concatenate([normals, np.zeros((3, 3))])[order]
        if uvs is not None:
            uvs = np.concatenate([uvs, np.zeros((3, 2), np.float32)])[order]
    return positions, indices, normals, uvs


def _doc(positions: np.ndarray, indices: np.ndarray | None, normals: np.ndarray | None,
         uvs: np.ndarray | None) -> AssetDocument:
    doc = AssetDocument.from_mesh_arrays(positions, np.zeros(3, np.uint32), normals=normals, texcoords=uvs)
    prim = doc.gltf["meshes"][0]["primitives"][0]
    if indices is None:
        del prim["indices"]  # a non-indexed triangle list
    else:
        doc.accessors[prim["indices"]] = doc.accessors[prim["indices"]].copy_with(indices)
    doc.gltf["nodes"][0].update(translation=[1.0, -2.0, 0.5], rotation=[0.0, 0.6, 0.0, 0.8])
    return doc


@settings(max_examples=120, deadline=None, derandomize=True)
@given(mesh=meshes_with_duplicates())
def test_weld_keeps_triangle_geometry(mesh: tuple[np.ndarray, Any, Any, Any]) -> None:
    doc = _doc(*mesh)
    before = _corner_key(doc)
    n_before = doc.triangle_count()
    weld()(doc)
    assert doc.triangle_count() == n_before
    assert _corner_key(doc) == before
    prim = doc.gltf["meshes"][0]["primitives"][0]
    pos = doc.accessors[prim["attributes"]["POSITION"]]
    streams = [doc.accessors[a].array.reshape(pos.count, -1).astype(np.float64) for a in
               prim["attributes"].values()]
    rows = np.concatenate(streams, axis=1)
    assert len(np.unique(rows, axis=0)) == pos.count, "identical vertices left unwelded"
    used = np.unique(doc.accessors[prim["indices"]].array)
    assert len(used) == pos.count, "unused vertices kept"


def test_weld_merges_corpus_duplicates(corpus: Path) -> None:
    """On a real model: BoxVertexColors has 24 corners of 8 positions split by colors; weld keeps it exact."""
    doc = read(corpus / "models" / "BoxVertexColors.glb")
    before = _corner_key(doc)
    weld()(doc)
    assert _corner_key(doc) == before



@settings(max_examples=40, deadline=None, derandomize=True)
@given(mesh=meshes_with_duplicates())
def test_weld_is_the_same_when_every_row_mix_collides(mesh: tuple[np.ndarray, Any, Any, Any]) -> None:
    """Weld sorts wide vertex rows by a 64-bit mix of their words; with a mix that makes every row collide (all
    mixing constants 0), the rows are sorted by all their words and the result is the same document."""
    from assets_pipeline.transforms import weld as weld_module

    doc, colliding = _doc(*mesh), _doc(*mesh)
    weld()(doc)
    mix = weld_module._MIX
    try:
        weld_module._MIX = np.zeros_like(mix)
        weld()(colliding)
    finally:
        weld_module._MIX = mix
    assert doc.gltf == colliding.gltf
    assert [a.array.tobytes() for a in doc.accessors] == [a.array.tobytes() for a in colliding.accessors]

# --- quantize -------------------------------------------------------------------------------------------

@settings(max_examples=80, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**32 - 1), bits=st.integers(8, 16), log_extent=st.floats(-3, 3),
       offset=st.floats(-1000, 1000), node_scale=st.floats(0.01, 100), n=st.integers(3, 300))
def test_quantized_positions_within_half_a_step(seed: int, bits: int, log_extent: float, offset: float,
                                                node_scale: float, n: int) -> None:
    rng = np.random.default_rng(seed)
    extent = 10.0 ** log_extent
    positions = (rng.random((n, 3)) * extent * rng.random(3) + offset).astype(np.float32)
    positions[0, 0] = np.float32(offset + extent)  # the longest axis spans `extent`
    tris = rng.integers(0, n, (max(n // 2, 1), 3)).astype(np.uint32)
    doc = AssetDocument.from_mesh_arrays(positions, tris)
    doc.gltf["nodes"][0].update(scale=[node_scale] * 3, translation=[3.0, 0.0, -1.0])
    before, tri_before = world_triangles(doc)
    quantize(QuantizeOptions(position_bits=bits))(doc)
    after, tri_after = world_triangles(doc)
    prim = doc.gltf["meshes"][0]["primitives"][0]
    assert doc.accessors[prim["attributes"]["POSITION"]].array.dtype.kind in "iu", "positions not quantized"
    assert "KHR_mesh_quantization" in doc.gltf["extensionsRequired"]
    np.testing.assert_array_equal(tri_after, tri_before)
    local = positions.astype(np.float64)
    span = float((local.max(axis=0) - local.min(axis=0)).max())
    assume(span > 0)
    step = span / ((1 << bits) - 1)  # grid step in the mesh's own units
    error = np.abs(after - before).max() / node_scale
    assert error <= step / 2 * (1 + 1e-6) + 1e-9 * (span + abs(offset)), (error, step)


def test_quantized_corpus_positions_within_half_a_step(corpus: Path) -> None:
    doc = read(corpus / "obj_edge_cases" / "box-negative-indices" / "box-negative-indices.obj")
    before, _ = world_triangles(doc)
    quantize(QuantizeOptions(position_bits=10))(doc)
    after, _ = world_triangles(doc)
    span = float((before.max(axis=0) - before.min(axis=0)).max())
    assert np.abs(after - before).max() <= span / 1023 / 2 * (1 + 1e-6)
