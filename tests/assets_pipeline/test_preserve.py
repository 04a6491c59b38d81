"""A valid model is accepted whatever it holds: what the pipeline does not transform (skins, animations,
morph targets, cameras, extras, unknown extensions, KHR_materials_variants) comes out intact and valid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assets_pipeline.document import AssetDocument
from assets_pipeline.io.formats import read
from assets_pipeline.io.glb import WriteOptions, write_glb
from assets_pipeline.pipeline import OptimizeOptions, optimize_file

from .conftest import validate_ok


def _grid(n: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """A vertical strip of quads, (n + 1) * 2 vertices."""
    ys = np.linspace(0, 1, n + 1)
    pos = np.array([[x, y, 0.0] for y in ys for x in (0.0, 0.2)], np.float32)
    tris = []
    for i in range(n):
        a, b, c, d = 2 * i, 2 * i + 1, 2 * i + 2, 2 * i + 3
        tris += [a, b, d, a, d, c]
    return pos, np.array(tris, np.uint32)


def rich_document() -> AssetDocument:
    pos, idx = _grid()
    n = len(pos)
    doc = AssetDocument.empty()
    joints = np.zeros((n, 4), np.uint8)
    joints[:, 1] = 1
    w = np.clip(pos[:, 1:2], 0, 1)
    weights = np.concatenate([1 - w, w, np.zeros((n, 2))], axis=1).astype(np.float32)
    morph = np.zeros_like(pos)
    morph[:, 2] = 0.1 * pos[:, 1]
    prim = {
        "attributes": {
            "POSITION": doc.add_accessor(pos),
            "NORMAL": doc.add_accessor(np.tile([0.0, 0.0, 1.0], (n, 1)).astype(np.float32)),
            "TEXCOORD_0": doc.add_accessor(pos[:, :2] * [5.0, 1.0]),
            "JOINTS_0": doc.add_accessor(joints),
            "WEIGHTS_0": doc.add_accessor(weights),
        },
        "indices": doc.add_accessor(idx),
        "targets": [{"POSITION": doc.add_accessor(morph)}],
        "material": 0,
        "extensions": {"KHR_materials_variants": {"mappings": [{"material": 1, "variants": [0]},
                                                                {"material": 2, "variants": [1]}]}},
    }
    doc.gltf["meshes"] = [{"name": "strap", "primitives": [prim], "weights": [0.0], "extras": {"sku": "X-1"}}]
    doc.gltf["materials"] = [
        {"name": "black", "pbrMetallicRoughness": {"baseColorFactor": [0.05, 0.05, 0.05, 1]}},
        {"name": "red", "pbrMetallicRoughness": {"baseColorFactor": [0.8, 0.05, 0.05, 1]}},
        {"name": "tan", "pbrMetallicRoughness": {"baseColorFactor": [0.7, 0.55, 0.35, 1]},
         "extensions": {"KHR_materials_clearcoat": {"clearcoatFactor": 0.5}}},
    ]
    ibm = np.tile(np.eye(4, dtype=np.float32).reshape(1, 16), (2, 1))
    ibm[1, 13] = -0.5  # column-major: translation y of the second joint's inverse bind matrix
    doc.gltf["nodes"] = [
        {"name": "root", "children": [1, 3, 4]},
        {"name": "joint0", "children": [2]},
        {"name": "joint1", "translation": [0.0, 0.5, 0.0]},
        {"name": "skinned", "mesh": 0, "skin": 0},
        {"name": "camera", "camera": 0, "translation": [0.0, 0.5, 2.0], "extras": {"role": "hero shot"}},
    ]
    doc.gltf["skins"] = [{"joints": [1, 2], "inverseBindMatrices": doc.add_accessor(ibm, "MAT4")}]
    doc.gltf["cameras"] = [{"type": "perspective", "perspective": {"yfov": 0.8, "znear": 0.01}}]
    times = np.array([0.0, 1.0], np.float32)
    rot = np.array([[0, 0, 0, 1], [0, 0, 0.3826834, 0.9238795]], np.float32)
    doc.gltf["animations"] = [{"name": "bend", "samplers": [
        {"input": doc.add_accessor(times), "output": doc.add_accessor(rot)},
        {"input": doc.add_accessor(times), "output": doc.add_accessor(np.array([0.0, 1.0], np.float32))},
    ], "channels": [{"sampler": 0, "target": {"node": 2, "path": "rotation"}},
                    {"sampler": 1, "target": {"node": 3, "path": "weights"}}]}]
    doc.gltf["scenes"][0]["nodes"] = [0]
    doc.gltf["extensions"] = {"KHR_materials_variants": {"variants": [{"name": "red"}, {"name": "tan"}]},
                              "EXT_phygital_unknown": {"keep": True}}
    doc.gltf["extras"] = {"catalog": {"sku": "X-1"}}
    for ext in ("KHR_materials_variants", "KHR_materials_clearcoat", "EXT_phygital_unknown"):
        doc.use_extension(ext)
    return doc


@pytest.mark.parametrize("compression", ["meshopt", "draco", "none"])
def test_everything_not_transformed_is_kept(tmp_path: Path, compression: str) -> None:
    src = tmp_path / "rich.glb"
    write_glb(rich_document(), src, WriteOptions(compression="none"))
    validate_ok([src])  # the input itself is valid
    out = tmp_path / "out.glb"
    rep = optimize_file(src, out, OptimizeOptions(compression=compression))  # type: ignore[arg-type]
    validate_ok([out])
    doc = read(out)
    g = doc.gltf
    assert len(g["skins"]) == 1 and len(g["skins"][0]["joints"]) == 2
    assert len(g["animations"]) == 1 and len(g["animations"][0]["channels"]) == 2
    assert g["cameras"][0]["perspective"]["yfov"] == pytest.approx(0.8)
    assert g["extras"] == {"catalog": {"sku": "X-1"}}
    assert g["meshes"][0]["extras"] == {"sku": "X-1"} and g["meshes"][0]["weights"] == [0.0]
    assert any(n.get("extras") == {"role": "hero shot"} for n in g["nodes"])
    assert [v["name"] for v in g["extensions"]["KHR_materials_variants"]["variants"]] == ["red", "tan"]
    prim = g["meshes"][0]["primitives"][0]
    mapped = {g["materials"][m["material"]]["name"] for m in prim["extensions"]["KHR_materials_variants"]["mappings"]}
    assert mapped == {"red", "tan"}  # variant materials survive pruning and merging
    assert prim["targets"] and {"JOINTS_0", "WEIGHTS_0"} <= set(prim["attributes"])
    assert "TEXCOORD_0" not in prim["attributes"]  # no texture reads it: dropped unless --keep-attributes
    assert "EXT_phygital_unknown" in g["extensionsUsed"] and g["extensions"]["EXT_phygital_unknown"] == {"keep": True}
    assert "KHR_materials_clearcoat" in g["materials"][2]["extensions"] or any(
        "KHR_materials_clearcoat" in m.get("extensions", {}) for m in g["materials"])
    assert rep.lods[0].triangles == 12


def test_keep_attributes_keeps_unread_uvs(tmp_path: Path) -> None:
    src = tmp_path / "rich.glb"
    write_glb(rich_document(), src, WriteOptions(compression="none"))
    out = tmp_path / "out.glb"
    optimize_file(src, out, OptimizeOptions(keep_attributes=True))
    validate_ok([out])
    assert "TEXCOORD_0" in read(out).gltf["meshes"][0]["primitives"][0]["attributes"]
