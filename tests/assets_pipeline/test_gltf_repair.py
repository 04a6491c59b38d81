"""glTF inputs that break the spec in repairable ways come out valid (with a warning naming the repair);
the rest are refused in one line. Each case is a small generated file equivalent to one of the Khronos
glTF-Validator's own test files (test/base/data in its repository, named in each case), so these tests do
not need that repository; ``tests/benchmarks/bench_validator_files.py`` runs the whole folder."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assets_pipeline import optimize_file
from assets_pipeline.errors import AssetError
from assets_pipeline.io.formats import read
from assets_pipeline.io.glb import glb_json

ROOT = Path(__file__).resolve().parents[2]
DTYPES = {np.dtype(np.int8): 5120, np.dtype(np.uint8): 5121, np.dtype(np.int16): 5122,
          np.dtype(np.uint16): 5123, np.dtype(np.uint32): 5125, np.dtype(np.float32): 5126}
TYPES = {1: "SCALAR", 2: "VEC2", 3: "VEC3", 4: "VEC4", 16: "MAT4"}


class Gltf:
    """A glTF file being built: JSON plus one embedded buffer that accessors are appended to."""

    def __init__(self) -> None:
        self.json: dict[str, Any] = {"asset": {"version": "2.0"}}
        self.data = bytearray()

    def accessor(self, values: Any, dtype: Any = np.float32, type: str | None = None, **extra: Any) -> int:
        arr = np.asarray(values, dtype)
        self.data += b"\0" * (-len(self.data) % 4)
        views = self.json.setdefault("bufferViews", [])
        views.append({"buffer": 0, "byteOffset": len(self.data), "byteLength": arr.nbytes})
        self.data += arr.tobytes()
        flat = arr.reshape(arr.shape[0], -1)
        cast = float if arr.dtype.kind == "f" else int
        acc = {"bufferView": len(views) - 1, "componentType": DTYPES[arr.dtype], "count": arr.shape[0],
               "type": type or TYPES[flat.shape[1]], "min": [cast(v) for v in flat.min(0)],
               "max": [cast(v) for v in flat.max(0)], **extra}
        accessors = self.json.setdefault("accessors", [])
        accessors.append(acc)
        return len(accessors) - 1

    def triangle(self, **prim: Any) -> int:
        """A mesh with one triangle (and the given primitive fields); returns the mesh index."""
        pos = self.accessor([[0, 0, 0], [1, 0, 0], [0, 1, 0]])
        meshes = self.json.setdefault("meshes", [])
        meshes.append({"primitives": [{"attributes": {"POSITION": pos}, **prim}]})
        return len(meshes) - 1

    def node(self, root: bool = True, **fields: Any) -> int:
        nodes = self.json.setdefault("nodes", [])
        nodes.append(fields)
        if root:
            scenes = self.json.setdefault("scenes", [{"nodes": []}])
            scenes[0].setdefault("nodes", []).append(len(nodes) - 1)
            self.json["scene"] = 0
        return len(nodes) - 1

    def animate(self, node: int, path: str, times: Any, values: Any, *, interpolation: str | None = None,
                time_dtype: Any = np.float32, name: str | None = None) -> None:
        """One animation with one channel (appended to the first animation when it exists)."""
        anims = self.json.setdefault("animations", [])
        if not anims:
            anims.append({"samplers": [], "channels": [], **({"name": name} if name else {})})
        sampler = {"input": self.accessor(times, time_dtype, "SCALAR"), "output": self.accessor(values)}
        if interpolation:
            sampler["interpolation"] = interpolation
        anims[0]["samplers"].append(sampler)
        anims[0]["channels"].append({"sampler": len(anims[0]["samplers"]) - 1,
                                     "target": {"node": node, "path": path}})

    def write(self, path: Path) -> Path:
        if self.data:
            uri = "data:application/octet-stream;base64," + base64.b64encode(bytes(self.data)).decode()
            self.json.setdefault("buffers", []).insert(0, {"uri": uri, "byteLength": len(self.data)})
        path.write_text(json.dumps(self.json))
        return path


def optimized(tmp_path: Path, g: Gltf, validator: Callable[[list[Path]], object]) -> tuple[dict[str, Any], list[str]]:
    """Optimize ``g``, check the output with the Khronos validator; returns (output JSON, warnings)."""
    out = tmp_path / "out.glb"
    report = optimize_file(g.write(tmp_path / "in.gltf"), out)
    validator([out])
    return glb_json(out.read_bytes()), report.warnings


# --- root, JSON and extensions ------------------------------------------------------------------------------

def test_empty_arrays_are_dropped(tmp_path: Path, validator: Callable[[list[Path]], object]) -> None:
    """*/empty_array.gltf, scene/empty_nodes_array.gltf: empty lists are EMPTY_ENTITY errors."""
    g = Gltf()
    g.node(mesh=g.triangle(), children=[])
    g.json.update({"animations": [], "cameras": [], "materials": [], "samplers": [], "skins": [], "textures": [],
                   "images": []})
    g.json["scenes"].append({"nodes": []})
    out, _ = optimized(tmp_path, g, validator)
    assert not [k for k, v in out.items() if v == []]
    assert out["meshes"] and all(s.get("nodes", [1]) for s in out["scenes"])


def test_extension_declarations_repaired(tmp_path: Path, validator: Callable[[list[Path]], object]) -> None:
    """root/duplicate_extension_entry.gltf, root/extensions_undeclared_wrong_pointer.gltf,
    root/undefined_used_extensions.gltf, asset/min_version_invalid.gltf."""
    g = Gltf()
    g.node(mesh=g.triangle(material=0))
    g.json["materials"] = [{"extensions": {"KHR_materials_unlit": {},
                                           "KHR_materials_emissive_strength": {"emissiveStrength": 2.0}}}]
    g.json["extensionsUsed"] = ["KHR_materials_unlit", "KHR_materials_unlit"]
    g.json["extensionsRequired"] = ["KHR_materials_unlit", "KHR_materials_unlit", "KHR_texture_transform"]
    g.json["asset"]["minVersion"] = "2.1"
    out, warnings = optimized(tmp_path, g, validator)
    used = out["extensionsUsed"]
    assert len(used) == len(set(used)) and {"KHR_materials_unlit", "KHR_materials_emissive_strength"} <= set(used)
    assert set(out["extensionsRequired"]) <= set(used)
    assert "minVersion" not in out["asset"]
    assert any("twice" in w for w in warnings) and any("not declared" in w for w in warnings)
    assert any("minVersion" in w for w in warnings)


def test_integer_written_as_float(tmp_path: Path, validator: Callable[[list[Path]], object]) -> None:
    """json/integer_written_as_float.gltf: ``1.0`` where an index or a length is expected."""
    g = Gltf()
    g.node(mesh=g.triangle(indices=g.accessor([0, 1, 2], np.uint16)))
    g.write(tmp_path / "tmp.gltf")

    def as_floats(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: as_floats(v) for k, v in value.items()}
        if isinstance(value, list):
            return [as_floats(v) for v in value]
        return float(value) if isinstance(value, int) else value

    text = json.dumps(as_floats(g.json)).replace('"count": 3.0', '"count": 30e-1')
    assert '"POSITION": 1.0' in text and '"componentType": 5126.0' in text and '"count": 30e-1' in text
    path = tmp_path / "in.gltf"
    path.write_text(text)
    report = optimize_file(path, tmp_path / "out.glb")
    validator([tmp_path / "out.glb"])
    assert report.lods[0].triangles == 1


def test_unused_objects_are_not_read(tmp_path: Path, validator: Callable[[list[Path]], object]) -> None:
    """accessor/valid.gltf, accessor/unknown_type.gltf, buffer/valid_placeholder.glb, buffer/non_relative_uri.gltf,
    image/unrecognized_format.gltf, accessor_data/get_elements_matrix.gltf: unused accessors, buffers and
    images with no data, a remote URI, an unknown format or a layout the pipeline does not read."""
    g = Gltf()
    g.node(mesh=g.triangle())
    g.json["buffers"] = [{"byteLength": 8}, {"uri": "http://example.com/buffer.bin", "byteLength": 2}]
    g.json["bufferViews"].append({"buffer": 1, "byteLength": 8})
    g.json["accessors"] += [{"componentType": 5126, "count": 2, "type": "NotaVEC3"},
                            {"componentType": 5120, "count": 1, "type": "MAT2", "bufferView": 1}]
    g.json["images"] = [{"uri": "unrecognized_format.png"}]
    out, _ = optimized(tmp_path, g, validator)
    doc = read(tmp_path / "in.gltf")
    assert len(doc.accessors) == 1 and not doc.images and out["meshes"]


def test_buffer_without_data_that_is_read_is_refused(tmp_path: Path) -> None:
    """root/named_objects.gltf: a buffer with neither uri nor GLB chunk that the mesh reads: nothing to draw."""
    g = Gltf()
    g.node(mesh=g.triangle())
    g.write(tmp_path / "in.gltf")
    g.json["buffers"][0].pop("uri")
    (tmp_path / "in.gltf").write_text(json.dumps(g.json))
    with pytest.raises(AssetError, match=r"in.gltf: buffers\[0\]: has no data"):
        read(tmp_path / "in.gltf")


def test_primitive_without_position_cli(tmp_path: Path, validator: Callable[[list[Path]], object]) -> None:
    """mesh/primitive_no_position.gltf ended in a traceback (KeyError 'POSITION'); such primitives are dropped
    with a warning, the others kept."""
    g = Gltf()
    mesh = g.triangle()
    g.json["meshes"][mesh]["primitives"].append({"attributes": {"NORMAL": g.accessor([[0, 0, 1]] * 3)}})
    g.json["meshes"].append({"primitives": [{"attributes": {"NORMAL": 3}}]})
    g.node(mesh=mesh)
    g.node(mesh=1)
    src = g.write(tmp_path / "in.gltf")
    out = tmp_path / "out.glb"
    proc = subprocess.run([sys.executable, "-m", "assets_pipeline", "optimize", str(src), "-o", str(out)],
                          capture_output=True, text=True, cwd=ROOT, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "without POSITION dropped" in proc.stderr
    validator([out])
    assert len(glb_json(out.read_bytes())["meshes"]) == 1


def test_refusal_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    """mesh/unresolved_positions.gltf: what cannot be repaired is refused in one line, exit 2."""
    g = Gltf()
    g.node(mesh=g.triangle())
    g.json["meshes"][0]["primitives"][0]["attributes"]["POSITION"] = 7
    src = g.write(tmp_path / "in.gltf")
    proc = subprocess.run([sys.executable, "-m", "assets_pipeline", "optimize", str(src), "-o",
                           str(tmp_path / "out.glb")], capture_output=True, text=True, cwd=ROOT, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: in.gltf: accessors: reference 'POSITION' -> accessors[7] is out of range (the file has no accessors)"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.gltf"]


# --- animations --------------------------------------------------------------------------------------------

def test_broken_animation_channels_dropped(tmp_path: Path, validator: Callable[[list[Path]], object]) -> None:
    """animation/valid.gltf (all-zero times), animation_data/invalid_input_values.gltf,
    animation/channel_duplicate_targets.gltf, animation/channel_node_no_morphs.gltf,
    animation/sampler_input_format_invalid.gltf, animation/sampler_output_count_invalid.gltf,
    animation/sampler_output_format_invalid.gltf, animation/sampler_too_few_cubic_frames.gltf: each bad channel
    is dropped with a warning; the good one stays."""
    g = Gltf()
    n = g.node(mesh=g.triangle())
    g.animate(n, "translation", [0, 1], [[0, 0, 0], [1, 0, 0]], name="walk")            # good
    g.animate(n, "scale", [0, 0], [[1, 1, 1], [2, 2, 2]])                                # times do not increase
    g.animate(n, "translation", [0, 2], [[0, 0, 0], [0, 1, 0]])                          # duplicate target
    g.animate(n, "weights", [0, 1], [0, 1])                                              # no morph targets
    m = g.node(mesh=g.triangle())
    g.animate(m, "scale", [0, 1], [[1, 1, 1], [2, 2, 2]], time_dtype=np.uint32)          # integer times
    g.animate(m, "translation", [0, 1], [[0, 0, 0], [1, 0, 0], [2, 0, 0]])               # wrong count
    g.animate(m, "rotation", [0, 1], [[0, 0, 0], [1, 0, 0]])                             # VEC3 rotation
    g.animate(m, "rotation", [0], [[0, 0, 0, 1]] * 3, interpolation="CUBICSPLINE")       # one cubic key
    g.animate(m, "translation", [-1, 1], [[0, 0, 0], [1, 0, 0]], interpolation="STEP")   # negative time
    out, warnings = optimized(tmp_path, g, validator)
    (anim,) = out["animations"]
    assert [c["target"]["path"] for c in anim["channels"]] == ["translation"] and len(anim["samplers"]) == 1
    (dropped,) = [w for w in warnings if w.startswith("animations[0] ('walk'): dropped")]
    for reason in ("input times do not increase", "same target as channel 0", "no morph targets",
                   "input times are not float scalars", "3 values, 2 expected", "not a rotation format",
                   "1 key(s) for CUBICSPLINE", "negative input times"):
        assert reason in dropped


def test_animation_without_channels_left_dropped(tmp_path: Path, validator: Callable[[list[Path]], object]) -> None:
    """animation/empty_objects.gltf and a file whose only channel is broken: the animation goes, with a warning."""
    g = Gltf()
    n = g.node(mesh=g.triangle())
    g.animate(n, "scale", [0, 0], [[1, 1, 1], [2, 2, 2]])
    g.json["animations"] += [{}, {"channels": [{}, {"target": {}}], "samplers": [{}]}]
    out, warnings = optimized(tmp_path, g, validator)
    assert "animations" not in out
    assert any("no playable channel left; animation dropped" in w for w in warnings)


def test_quaternions_made_unit(tmp_path: Path, validator: Callable[[list[Path]], object]) -> None:
    """animation_data/quaternion_non_unit_values.gltf, quaternion_cubic_non_unit_values.gltf: normalized."""
    g = Gltf()
    n = g.node(mesh=g.triangle())
    g.animate(n, "rotation", [0, 1], [[0, 0, 0, 2], [0, 0.5, 0, 0.5]])
    g.animate(g.node(mesh=g.triangle()), "rotation", [0, 1],
              [[0.3, 0, 0, 0], [0, 0, 0, 3], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 2, 0], [1, 1, 1, 1]],
              interpolation="CUBICSPLINE")
    out, warnings = optimized(tmp_path, g, validator)
    assert len(out["animations"][0]["channels"]) == 2
    assert any("rotation quaternions made unit length" in w for w in warnings)


def test_animated_node_matrix_becomes_trs(tmp_path: Path, validator: Callable[[list[Path]], object]) -> None:
    """animation/channel_node_matrix.gltf: a node with a matrix cannot have its TRS animated; a matrix that is a
    rotation, scale and translation is rewritten as those, one with shear loses the channel."""
    g = Gltf()
    c, s = np.cos(0.5), np.sin(0.5)
    rot_scale = [2 * c, 2 * s, 0, 0, -2 * s, 2 * c, 0, 0, 0, 0, 2, 0, 1, 2, 3, 1]  # column-major
    a = g.node(mesh=g.triangle(), matrix=rot_scale)
    b = g.node(mesh=g.triangle(), matrix=[1, 0, 0, 0, 0.5, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1])  # shear
    g.animate(a, "scale", [0, 1], [[1, 1, 1], [2, 2, 2]])
    g.animate(b, "scale", [0, 1], [[1, 1, 1], [2, 2, 2]])
    out, warnings = optimized(tmp_path, g, validator)
    assert len(out["animations"][0]["channels"]) == 1
    assert any("not translation, rotation and scale" in w for w in warnings)
    doc = read(tmp_path / "in.gltf")
    node = doc.gltf["nodes"][a]
    assert "matrix" not in node and np.allclose(node["translation"], [1, 2, 3])
    assert np.allclose(node["scale"], [2, 2, 2]) and np.allclose(node["rotation"], [0, 0, np.sin(0.25), np.cos(0.25)])


# --- skins --------------------------------------------------------------------------------------------------

def skinned(weights: Any, *, joint_in_scene: bool = True) -> Gltf:
    g = Gltf()
    pos = g.accessor([[0, 0, 0], [1, 0, 0], [0, 1, 0]])
    joints = g.accessor([[0, 1, 2, 3]] * 3, np.uint8)
    w = g.accessor(weights)
    g.json["meshes"] = [{"primitives": [{"attributes": {"POSITION": pos, "JOINTS_0": joints, "WEIGHTS_0": w}}]}]
    g.node(mesh=0, skin=0)
    root = g.node(root=joint_in_scene, children=[])
    for _ in range(3):
        g.json["nodes"][root]["children"].append(g.node(root=False))
    g.json["skins"] = [{"joints": [root, *g.json["nodes"][root]["children"]]}]
    return g


def test_skin_with_joints_outside_the_scene_dropped(tmp_path: Path, validator: Callable[[list[Path]], object]) -> None:
    """skin/no_joints_in_scene.gltf: NODE_SKIN_NO_SCENE."""
    out, warnings = optimized(tmp_path, skinned([[1, 0, 0, 0]] * 3, joint_in_scene=False), validator)
    assert "skins" not in out and "JOINTS_0" not in out["meshes"][0]["primitives"][0]["attributes"]
    assert any("joints are not in the scene" in w for w in warnings)


def test_skin_weights_repaired(tmp_path: Path, validator: Callable[[list[Path]], object]) -> None:
    """skin/ignored_animated_transform.gltf: weights that do not sum to one are normalized, a vertex without
    weight is bound to its first joint; all-zero weights drop the skin."""
    out, warnings = optimized(tmp_path, skinned([[0.5, 0.25, 0, 0], [0, 0, 0, 0], [0.25, 0.25, 0.5, 0]]), validator)
    assert out["skins"] and "WEIGHTS_0" in out["meshes"][0]["primitives"][0]["attributes"]
    assert any("skin weights of 2 vertices made to sum to one, 1 with zero weights" in w for w in warnings)
    doc = read(tmp_path / "in.gltf")
    w = doc.accessors[doc.gltf["meshes"][0]["primitives"][0]["attributes"]["WEIGHTS_0"]].array
    assert np.allclose(w.sum(axis=1), 1) and np.allclose(w[0], [2 / 3, 1 / 3, 0, 0]) and w[1, 0] == 1
    (tmp_path / "zero").mkdir()
    out, warnings = optimized(tmp_path / "zero", skinned([[0, 0, 0, 0]] * 3), validator)
    assert "skins" not in out and any("every skin weight" in w for w in warnings)


# --- outputs of valid inputs -----------------------------------------------------------------------------------

def png_uri() -> str:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 30)).save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def test_texcoord_set_read_through_texture_transform_kept(tmp_path: Path,
                                                          validator: Callable[[list[Path]], object]) -> None:
    """SheenChair: TEXCOORD_1 was dropped (renumbered to 0) while KHR_texture_transform.texCoord still named it
    (MESH_PRIMITIVE_TOO_FEW_TEXCOORDS); a material shared by two primitives was renumbered twice. The
    coordinates each texture reads must be the input's."""
    from assets_pipeline.texcoords import texture_uv

    g = Gltf()
    rng = np.random.default_rng(1)
    uvs = {}
    for m in range(3):
        prim: dict[str, Any] = {"POSITION": g.accessor([[0, 0, m], [1, 0, m], [0, 1, m]])}
        for s in range(3):
            uv = rng.random((3, 2)).astype(np.float32)
            uvs[(m, s)] = uv
            prim[f"TEXCOORD_{s}"] = g.accessor(uv)
        g.json.setdefault("meshes", []).append({"primitives": [{"attributes": prim, "material": 0 if m < 2 else 1}]})
        g.node(mesh=m)
    g.json["images"] = [{"uri": png_uri()}]
    g.json["textures"] = [{"source": 0}]
    g.json["materials"] = [
        {"pbrMetallicRoughness": {"baseColorTexture": {"index": 0, "extensions": {"KHR_texture_transform": {
            "texCoord": 1, "scale": [2.0, 2.0]}}}}},               # meshes 0 and 1: set 1 through the transform
        {"emissiveTexture": {"index": 0, "texCoord": 1}},          # mesh 2: set 1 directly
    ]
    g.json["extensionsUsed"] = ["KHR_texture_transform"]
    optimized(tmp_path, g, validator)
    doc = read(tmp_path / "out.glb")
    got = []
    for _, _, prim in doc.primitives():
        mat = doc.gltf["materials"][prim["material"]]
        info = mat.get("pbrMetallicRoughness", {}).get("baseColorTexture") or mat["emissiveTexture"]
        assert "TEXCOORD_2" not in prim["attributes"]
        got.append(texture_uv(doc, prim, info))
    want = [uvs[(0, 1)] * 2, uvs[(1, 1)] * 2, uvs[(2, 1)]]
    for uv in got:  # meshes may be reordered: each output's coordinates are one of the inputs'
        assert uv is not None and any(np.allclose(uv, w, atol=2e-3) for w in want)
    assert len({tuple(np.round(uv, 2).ravel()) for uv in got if uv is not None}) == 3


def test_validate_failure_writes_nothing(tmp_path: Path) -> None:
    """``--validate`` exiting 2 left the GLB and its LODs on disk; now they are checked before the rename."""
    g = Gltf()
    g.node(mesh=g.triangle(material=0))
    g.json["materials"] = [{"extensions": {"KHR_materials_emissive_strength": {"emissiveStrength": -1.0}}}]
    src = g.write(tmp_path / "in.gltf")
    out = tmp_path / "out" / "model.glb"
    cmd = [sys.executable, "-m", "assets_pipeline", "optimize", str(src), "-o", str(out), "--lods", "50", "-q"]
    proc = subprocess.run([*cmd, "--validate"], capture_output=True, text=True, cwd=ROOT, check=False)
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("error: model.glb: validator found 1 errors (VALUE_NOT_IN_RANGE); nothing was written")
    assert not out.parent.exists() or not list(out.parent.iterdir())
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)  # without: written
    assert proc.returncode == 0 and sorted(p.name for p in out.parent.iterdir()) == ["model.glb", "model.lod1.glb"]
