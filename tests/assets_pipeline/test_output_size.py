"""What makes outputs small without changing what they show: shorter JSON (same values, defaults left out),
one position grid step for the whole model (each part within half of it, small parts kept to their own
floor), morph target attributes that move nothing left out, tangents nothing reads dropped with their
morph deltas."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from assets_pipeline.document import AssetDocument
from assets_pipeline.io.formats import read
from assets_pipeline.io.glb import WriteOptions, glb_json, write_glb
from assets_pipeline.io.json_compact import compact, dumps, number_text, short_float
from assets_pipeline.scene import local_matrix, world_triangles
from assets_pipeline.transforms.attributes import drop_unused_attributes, drop_zero_deltas
from assets_pipeline.transforms.quantize import SHORT_STEP, QuantizeOptions, quantize

from .conftest import validate_ok


def _box(size: float, offset: tuple[float, float, float], n: int = 200, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    p = rng.random((n, 3)) * size + np.array(offset)
    p[0], p[1] = offset, np.array(offset) + size  # the box's corners: its extent is exactly ``size``
    return p.astype(np.float32)


def _two_meshes(big: float, small: float) -> AssetDocument:
    """A big mesh and a small one beside it, each on its own node (the small one scaled 2x, so its grid step
    in its own units is half the model's)."""
    doc = AssetDocument.from_mesh_arrays(_box(big, (0.0, 0.0, 0.0)), np.arange(198).reshape(-1, 3), name="big")
    small_pos = doc.add_accessor(_box(small, (0.5, 0.5, 0.5), seed=1))
    idx = doc.add_accessor(np.arange(198, dtype=np.uint32))
    doc.gltf["meshes"].append({"name": "small", "primitives": [{"attributes": {"POSITION": small_pos},
                                                                "indices": idx, "material": 0}]})
    doc.gltf["nodes"].append({"name": "small", "mesh": 1, "translation": [big, 0.0, 0.0], "scale": [2.0] * 3})
    doc.gltf["scenes"][0]["nodes"].append(1)
    return doc


def _world_error_per_mesh(before: AssetDocument, after: AssetDocument) -> list[float]:
    errors = []
    for mesh in range(len(before.gltf["meshes"])):
        def only(doc: AssetDocument, keep: int = mesh) -> AssetDocument:
            d = doc.clone()
            d.gltf["scenes"][0]["nodes"] = [i for i, n in enumerate(d.gltf["nodes"]) if n.get("mesh") == keep
                                            or any(d.gltf["nodes"][c].get("mesh") == keep
                                                   for c in n.get("children", []))]
            return d
        va, _ = world_triangles(only(before))
        vb, _ = world_triangles(only(after))
        errors.append(float(np.abs(va - vb).max()))
    return errors


def test_one_grid_step_for_the_model_each_mesh_within_half_of_it() -> None:
    doc = _two_meshes(big=2.0, small=0.4)  # the small mesh is 0.8 wide in the model, 2x its own units
    before = doc.clone()
    quantize()(doc)
    model_extent = 2.0 + 0.8 + 0.5 * 2  # x: from 0 to the small node at 2 + 2 * (0.5 + 0.4)
    step = model_extent / (2**14 - 1)
    # both meshes on the model's step in world units (root nodes: their scale, with the small one's 2x folded
    # in, is the world step), rounded up to a short decimal (SHORT_STEP coarser at most)
    scales = [np.linalg.norm(local_matrix(n)[:3, 0]) for n in doc.gltf["nodes"] if "mesh" in n]
    assert scales[0] == pytest.approx(scales[1], rel=1e-6)
    assert step * (1 - 1e-7) <= scales[0] <= step * (1 + SHORT_STEP)
    errors = _world_error_per_mesh(before, doc)
    assert max(errors) <= scales[0] / 2 * (1 + 1e-6)
    big = doc.gltf["nodes"][0]["scale"][0]
    digits = repr(short_float(big)).split("e")[0].lstrip("-0.").replace(".", "")
    assert float(np.float32(big)) == big and len(digits) <= 9  # 9 significant digits in the JSON, not 17


def test_a_small_part_keeps_its_floor_of_bits() -> None:
    """Beside a 1000x larger backdrop the model's step would be coarse for a 0.1-wide part: it keeps
    ``part_bits`` over its own extent."""
    doc = _two_meshes(big=100.0, small=0.05)
    before = doc.clone()
    quantize(QuantizeOptions(part_bits=10))(doc)
    big_err, small_err = _world_error_per_mesh(before, doc)
    assert small_err <= 0.05 * 2.0 / (2**10 - 1) / 2 * (1 + 1e-6)  # its own extent in the world: 0.1
    assert big_err <= (100.0 + 2.0 * 0.55) / (2**14 - 1) / 2 * (1 + SHORT_STEP)  # the model's step, made short


def _morphed(tangents: bool = True) -> AssetDocument:
    """A strip with a morph target whose position deltas stretch it 3x and whose normal and tangent deltas are
    zero; no normal map."""
    n = 60
    pos = np.stack([np.linspace(0, 1, n), np.tile([0.0, 0.1], n // 2), np.zeros(n)], axis=1).astype(np.float32)
    doc = AssetDocument.from_mesh_arrays(pos, np.array([[i, i + 1, i + 2] for i in range(n - 2)]),
                                         normals=np.tile([0.0, 0.0, 1.0], (n, 1)))
    prim = doc.gltf["meshes"][0]["primitives"][0]
    target = {"POSITION": doc.add_accessor(pos * np.array([2.0, 0.0, 0.0], np.float32)),
              "NORMAL": doc.add_accessor(np.zeros((n, 3), np.float32))}
    if tangents:
        prim["attributes"]["TANGENT"] = doc.add_accessor(np.tile([1.0, 0.0, 0.0, 1.0], (n, 1)).astype(np.float32))
        target["TANGENT"] = doc.add_accessor(np.zeros((n, 3), np.float32))
    prim["targets"] = [target, {"POSITION": doc.add_accessor(np.zeros((n, 3), np.float32))}]
    doc.gltf["meshes"][0]["weights"] = [0.0, 0.0]
    return doc


def test_morph_attributes_that_move_nothing_go_and_tangents_with_their_deltas(tmp_path: Path) -> None:
    doc = _morphed()
    drop_unused_attributes()(doc)
    prim = doc.gltf["meshes"][0]["primitives"][0]
    assert "TANGENT" not in prim["attributes"]  # no normal map reads it
    assert [sorted(t) for t in prim["targets"]] == [["POSITION"], ["POSITION"]]
    out = tmp_path / "m.glb"
    write_glb(doc, out)
    validate_ok([out])
    # with --keep-attributes the tangents stay, with their deltas, and only zero deltas go
    kept = _morphed()
    drop_zero_deltas()(kept)
    prim = kept.gltf["meshes"][0]["primitives"][0]
    assert "TANGENT" in prim["attributes"] and [sorted(t) for t in prim["targets"]] == [["POSITION"], ["POSITION"]]
    # a target whose deltas are all non-zero keeps them
    moving = _morphed(tangents=False)
    prim = moving.gltf["meshes"][0]["primitives"][0]
    prim["targets"][0]["NORMAL"] = moving.add_accessor(np.full((60, 3), 0.01, np.float32))
    drop_zero_deltas()(moving)
    assert sorted(prim["targets"][0]) == ["NORMAL", "POSITION"]


def test_morphed_mesh_grid_spans_the_morphed_shape() -> None:
    """The grid covers the mesh with each target fully applied (here 3x as long as at rest): the base and the
    morphed shape are both within half of that grid's step, and the deltas fit their 16-bit integers."""
    doc = _morphed(tangents=False)
    before = doc.clone()
    quantize()(doc)
    prim = doc.gltf["meshes"][0]["primitives"][0]
    step = 3.0 / (2**14 - 1)
    node = doc.gltf["nodes"][0]
    s = node["scale"][0]
    assert s == pytest.approx(step, rel=1e-6)
    base_b = before.accessors[before.gltf["meshes"][0]["primitives"][0]["attributes"]["POSITION"]].array
    delta_b = before.accessors[before.gltf["meshes"][0]["primitives"][0]["targets"][0]["POSITION"]].array
    base = doc.accessors[prim["attributes"]["POSITION"]].array.astype(np.float64) * s + node.get("translation", 0.0)
    delta = doc.accessors[prim["targets"][0]["POSITION"]].array.astype(np.float64) * s
    assert doc.accessors[prim["targets"][0]["POSITION"]].array.dtype == np.int16
    assert np.abs(base - base_b).max() <= step / 2 * (1 + 1e-6)
    assert np.abs(base + delta - (base_b + delta_b)).max() <= step * (1 + 1e-6)  # two roundings


# --- JSON ------------------------------------------------------------------------------------------------


def test_short_numbers_keep_their_value() -> None:
    rng = np.random.default_rng(3)
    for x in rng.normal(size=2000) * 10.0 ** rng.integers(-9, 9, 2000):
        f32 = float(np.float32(x))
        assert np.float32(short_float(f32)) == np.float32(f32)  # a float32 reads back as the same float32
        assert len(repr(float(short_float(f32)))) <= len(repr(f32))
        y = short_float(float(x))  # a double: within 5e-12 of itself
        assert abs(y - x) <= 5e-12 * abs(x)
    assert short_float(2.0) == 2 and isinstance(short_float(2.0), int)


def test_written_json_has_the_same_values_and_no_defaults(tmp_path: Path) -> None:
    doc = AssetDocument.from_mesh_arrays(_box(1.0, (0.1, 0.2, 0.3)), np.arange(198).reshape(-1, 3))
    geo = 6378137.123456789  # a double an application keeps under extras or in its own extension
    node = doc.gltf["nodes"][0]
    node.update(translation=[0.0, 0.0, 0.0], rotation=[0.0, 0.0, 0.0, 1.0], scale=[1.0, 1.0, 1.0],
                extras={"lon": 0.1234567890123, "r": geo})
    node["extensions"] = {"VENDOR_geo": {"origin": geo / 3}}
    doc.gltf["materials"][0] = {"pbrMetallicRoughness": {"baseColorFactor": [float(np.float32(0.16862699389457703)),
                                                                              1.0, 1.0, 1.0], "metallicFactor": 1.0},
                                "emissiveFactor": [0.0, 0.0, 0.0], "alphaMode": "OPAQUE", "doubleSided": False,
                                "extensions": {"KHR_materials_ior": {"ior": float(np.float32(1.45))}}}
    doc.gltf["meshes"][0]["primitives"][0]["mode"] = 4
    doc.gltf["extensionsUsed"] = ["KHR_materials_ior", "VENDOR_geo"]
    out = tmp_path / "c.glb"
    write_glb(doc, out, WriteOptions(compression="none"))
    validate_ok([out])
    text = out.read_bytes()
    g = glb_json(text)
    n = g["nodes"][0]
    assert not {"translation", "rotation", "scale"} & n.keys() and "mode" not in g["meshes"][0]["primitives"][0]
    assert n["extras"] == {"lon": 0.1234567890123, "r": geo} and n["extensions"]["VENDOR_geo"]["origin"] == geo / 3
    mat = g["materials"][0]
    assert mat == {"pbrMetallicRoughness": {"baseColorFactor": [0.168627, 1, 1, 1]},
                   "extensions": {"KHR_materials_ior": {"ior": 1.45}}}
    assert b"0.16862699389457703" not in text
    back = read(out)
    acc = back.accessors[back.gltf["meshes"][0]["primitives"][0]["attributes"]["POSITION"]].array
    pos = g["accessors"][g["meshes"][0]["primitives"][0]["attributes"]["POSITION"]]
    np.testing.assert_array_equal(np.float32(pos["min"]), acc.min(axis=0))  # bounds read back exactly
    np.testing.assert_array_equal(np.float32(pos["max"]), acc.max(axis=0))


def test_compact_does_not_touch_its_input_and_keeps_non_default_values() -> None:
    gltf = {"nodes": [{"scale": [1.0, 1.0, 2.0], "rotation": [0.0, 0.0, 0.0, 1.0]}],
            "materials": [{"alphaMode": "MASK", "alphaCutoff": 0.25, "pbrMetallicRoughness": {}}],
            "samplers": [{"wrapS": 33071, "wrapT": 10497}],
            "animations": [{"samplers": [{"input": 0, "output": 1, "interpolation": "STEP"}]}]}
    before = json.dumps(gltf)
    out = compact(gltf)
    assert json.dumps(gltf) == before
    assert out == {"nodes": [{"scale": [1, 1, 2]}], "materials": [{"alphaMode": "MASK", "alphaCutoff": 0.25}],
                   "samplers": [{"wrapS": 33071}],
                   "animations": [{"samplers": [{"input": 0, "output": 1, "interpolation": "STEP"}]}]}



PARTS = ("Sphere", "Icosphere", "Cylinder", "Cube", "Cone", "Torus")


def _six_parts() -> AssetDocument:
    """Six named parts of different sizes, each a mesh on a node of its own beside the others (as products
    with addressable parts are made): no part spans the model, so all share its grid step."""
    doc = AssetDocument.from_mesh_arrays(_box(2.0, (-1.0, -1.0, -1.0)), np.arange(198).reshape(-1, 3),
                                         name=PARTS[0])
    doc.gltf["nodes"][0].update(name=PARTS[0], translation=[4.0, 1.0, -1.0])
    for k, name in enumerate(PARTS[1:], 1):
        size = 1.0 + 0.3 * k
        pos = doc.add_accessor(_box(size, (-0.0489421 * k, -0.0312 * k, -size / 2), seed=k))
        idx = doc.add_accessor(np.arange(198, dtype=np.uint32))
        doc.gltf["meshes"].append({"name": name, "primitives": [{"attributes": {"POSITION": pos}, "indices": idx,
                                                                 "material": 0}]})
        doc.gltf["nodes"].append({"name": name, "mesh": k, "translation": [2.0 - 2.5 * k, 1.0, -1.0]})
        doc.gltf["scenes"][0]["nodes"].append(k)
    return doc


def test_a_multi_part_model_keeps_its_named_parts_in_fewer_json_bytes(tmp_path: Path) -> None:
    """Six named parts on their own nodes: the shared grid step and the parts' translations take few digits,
    the scale is written 9.62e-4 rather than 0.000962, and shared buffer views put their smallest parts first;
    every part within half a step of its place, every name kept, 0 validator errors. The JSON chunk was
    3,364 bytes before (12-digit translations, 11-digit scales, 5-digit byteOffsets)."""
    doc = _six_parts()
    before = doc.clone()
    quantize()(doc)
    out = tmp_path / "parts.glb"
    write_glb(doc, out)
    validate_ok([out])
    data = out.read_bytes()
    (json_bytes,) = np.frombuffer(data[12:16], np.uint32)
    g = glb_json(data)
    assert [n["name"] for n in g["nodes"]] == list(PARTS) and [m["name"] for m in g["meshes"]] == list(PARTS)
    assert g["asset"]["generator"] == "phygital"
    scales = {n["scale"][0] for n in g["nodes"]}
    assert len(scales) == 1  # one step for the model
    (step,) = scales
    assert len(number_text(float(step))) <= 7  # 9.62e-4, not 0.00095964...
    assert max(len(number_text(float(v))) for n in g["nodes"] for v in n["translation"]) <= 7
    back = read(out)
    assert max(_world_error_per_mesh(before, back)) <= step / 2 * (1 + 1e-6)
    for view in range(len(g["bufferViews"])):
        members = [a for a in g["accessors"] if a["bufferView"] == view]
        assert "byteOffset" not in members[0] and members[0]["count"] == min(a["count"] for a in members)
    assert json_bytes <= 3200


def test_json_numbers_in_their_shortest_exact_text() -> None:
    rng = np.random.default_rng(5)
    values = [*(rng.normal(size=3000) * 10.0 ** rng.integers(-12, 12, 3000)),
              *(float(np.float32(x)) for x in rng.normal(size=3000) * 10.0 ** rng.integers(-8, 8, 3000))]
    for x in values:
        text = number_text(float(x))
        assert float(text) == x and len(text) <= len(repr(float(x)))
    assert number_text(0.00089) == "8.9e-4" and number_text(1.0489) == "1.0489" and number_text(-1e22) == "-1e22"
    doc = {"name": "Stuhl – Bein ø", "v": [0.000610388815, 2, True, None], "e": {}}
    text = dumps(doc)
    assert json.loads(text) == doc and "ø" in text and " " not in text.replace("Stuhl – Bein ø", "")
    with pytest.raises(ValueError):
        dumps({"x": float("nan")})


def test_shape_collection_keeps_its_six_named_parts_in_a_smaller_json_chunk(corpus: Path, tmp_path: Path) -> None:
    """The corpus model of issue 15 with its flat normals kept (``--normals``, as gltfpack keeps them): its
    JSON chunk was 4,156 bytes (1.057x gltfpack -cc's file size); every part keeps its name and node."""
    from assets_pipeline.pipeline import OptimizeOptions, optimize_file

    out = tmp_path / "ShapeCollection.glb"
    optimize_file(corpus / "models" / "ShapeCollection.glb", out, OptimizeOptions(generate_normals=True))
    validate_ok([out])
    data = out.read_bytes()
    g = glb_json(data)
    names = {n.get("name") for n in g["nodes"] if "mesh" in n}
    assert names == {"Sphere", "Icosphere", "Cylinder", "Cube", "Cone", "Torus", "Torus.001"}
    assert all("NORMAL" in p["attributes"] for m in g["meshes"] for p in m["primitives"])
    assert int(np.frombuffer(data[12:16], np.uint32)[0]) <= 3960


def test_texture_transforms_in_float32_without_a_texcoord_that_repeats_the_slots() -> None:
    """A texture transform is applied in float32 (the shader's uniforms): its values are written as the float32
    they become; a ``texCoord`` equal to the slot's own overrides nothing and goes. SheenChair's JSON: 9,724 ->
    9,444 bytes."""
    offset, scale = [-15.676630258612, 1.7049570012], [0.00114478792239, 0.00077276111551]
    tt = {"offset": offset, "scale": scale, "texCoord": 0}
    gltf = {"materials": [{
        "pbrMetallicRoughness": {"baseColorTexture": {"index": 0, "extensions": {"KHR_texture_transform": tt}}},
        "occlusionTexture": {"index": 0, "texCoord": 1,
                             "extensions": {"KHR_texture_transform": dict(tt, texCoord=1, rotation=0.5)}},
        "emissiveTexture": {"index": 0, "texCoord": 1, "extensions": {"KHR_texture_transform": dict(tt)}}}]}
    mat = compact(gltf)["materials"][0]
    base = mat["pbrMetallicRoughness"]["baseColorTexture"]["extensions"]["KHR_texture_transform"]
    assert base == {"offset": [-15.67663, 1.704957], "scale": [0.0011447879, 0.0007727611]}
    assert np.array_equal(np.float32(base["offset"] + base["scale"]), np.float32(offset + scale))
    occlusion = mat["occlusionTexture"]["extensions"]["KHR_texture_transform"]
    assert "texCoord" not in occlusion and occlusion["rotation"] == 0.5
    assert mat["emissiveTexture"]["extensions"]["KHR_texture_transform"]["texCoord"] == 0  # it does override


@pytest.mark.parametrize("bits", [8, 14, 16])
def test_moved_grid_origins_keep_every_part_within_half_a_step(bits: int) -> None:
    """At 16 bits a grid origin moved down by up to a step would push the largest value past 65535: every part
    stays within half its world step whatever the bits."""
    doc = _six_parts()
    before = doc.clone()
    quantize(QuantizeOptions(position_bits=bits))(doc)
    steps = [float(n["scale"][0]) for n in doc.gltf["nodes"]]
    errors = _world_error_per_mesh(before, doc)
    assert all(e <= s / 2 * (1 + 1e-6) for e, s in zip(errors, steps, strict=True)), (errors, steps)
