"""USDZ animation, skins and variants: the package plays what the glTF plays, checked against an independent sampler."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assets_pipeline import AssetDocument
from assets_pipeline.errors import InvalidAsset
from assets_pipeline.io.usdz import select_variant, write_usdz
from assets_pipeline.pipeline import optimize_document
from assets_pipeline.scene import local_matrix

from .animated_fixtures import JOINTS, SECONDS, animated_document, sample

pytest.importorskip("pxr", reason="usd-core is a dependency of the USDZ writer")
from pxr import Usd, UsdGeom, UsdShade, UsdSkel, UsdValidation

TIMES = [0.0, 0.37, 1.0, 2.51, 3.3, SECONDS]


def validation_errors(stage: Any) -> list[tuple[str, str]]:
    validators = list(UsdValidation.ValidationRegistry().GetOrLoadAllValidators())
    errors = UsdValidation.ValidationContext(validators).Validate(stage)
    return [(e.GetName(), e.GetMessage()) for e in errors if e.GetType() == UsdValidation.ValidationErrorType.Error]


def gltf_world(doc: AssetDocument, t: float | None, clip: int = 0) -> Any:
    """node -> world matrix at time ``t`` of animation ``clip`` (None: at rest), from the fixture module's key-by-key
    sampler."""
    nodes = [dict(n) for n in doc.gltf["nodes"]]
    if t is not None:
        anim = doc.gltf["animations"][clip]
        for ch in anim["channels"]:
            target = ch["target"]
            if target["path"] != "weights":
                nodes[target["node"]][target["path"]] = list(sample(doc, anim["samplers"][ch["sampler"]],
                                                                    target["path"], t))
    up = {c: i for i, n in enumerate(nodes) for c in n.get("children", [])}

    def world(n: int) -> np.ndarray:
        m = local_matrix(nodes[n])
        return world(up[n]) @ m if n in up else m
    return world


def gltf_skinned(doc: AssetDocument, node: int, t: float | None, clip: int = 0) -> np.ndarray:
    """The node's skinned positions at ``t`` of animation ``clip`` as the glTF specification computes them."""
    world = gltf_world(doc, t, clip)
    skin = doc.gltf["skins"][doc.gltf["nodes"][node]["skin"]]
    ibm = doc.accessors[skin["inverseBindMatrices"]].as_float().astype(float).reshape(-1, 4, 4).transpose(0, 2, 1)
    joints = np.array([world(j) for j in skin["joints"]]) @ ibm
    attrs = doc.gltf["meshes"][doc.gltf["nodes"][node]["mesh"]]["primitives"][0]["attributes"]
    p = doc.accessors[attrs["POSITION"]].as_float().astype(float)
    ji = doc.accessors[attrs["JOINTS_0"]].array.astype(int)
    w = doc.accessors[attrs["WEIGHTS_0"]].as_float().astype(float)
    out = np.zeros_like(p)
    for c in range(ji.shape[1]):
        m = joints[ji[:, c]]
        out += w[:, c:c + 1] * (np.einsum("nij,nj->ni", m[:, :3, :3], p) + m[:, :3, 3])
    return out


def usd_skinned(stage: Any, time: float | None) -> np.ndarray:
    """The one skinned mesh's points posed by UsdSkel at time code ``time`` (None: the skeleton's rest pose)."""
    (root,) = [UsdSkel.Root(p) for p in stage.Traverse() if p.IsA(UsdSkel.Root) and p.GetName() == "Skel"]
    cache = UsdSkel.Cache()
    cache.Populate(root, Usd.TraverseInstanceProxies())
    (binding,) = cache.ComputeSkelBindings(root, Usd.TraverseInstanceProxies())
    query = cache.GetSkelQuery(binding.GetSkeleton())
    code = Usd.TimeCode.Default() if time is None else Usd.TimeCode(time)
    if time is None:
        rest = query.ComputeJointSkelTransforms(code, True)
        bind = binding.GetSkeleton().GetBindTransformsAttr().Get()
        xforms = [b.GetInverse() * r for b, r in zip(bind, rest, strict=True)]
    else:
        xforms = query.ComputeSkinningTransforms(code)
    (target,) = binding.GetSkinningTargets()
    points = UsdGeom.Mesh(target.GetPrim()).GetPointsAttr().Get()
    assert target.ComputeSkinnedPoints(xforms, points, code)
    return np.array(points, np.float64)


@pytest.mark.parametrize("optimized", [False, True])
def test_skinned_animation_plays_as_in_the_gltf(tmp_path: Path, optimized: bool) -> None:
    """Joints, time range, rest pose and posed points at keys and between keys; the optimized document's
    quantized, filtered keyframes are read as the GLB holds them (decoded values)."""
    doc = animated_document()
    if optimized:
        optimize_document(doc)
    out = tmp_path / "animated.usdz"
    write_usdz(doc, out)
    stage = Usd.Stage.Open(str(out))
    assert validation_errors(stage) == []
    (skeleton,) = [UsdSkel.Skeleton(p) for p in stage.Traverse() if p.IsA(UsdSkel.Skeleton)
                   and p.GetParent().GetName() == "Skel"]
    joints = list(skeleton.GetJointsAttr().Get())
    assert len(joints) == JOINTS
    assert joints[-1].count("/") == JOINTS - 1  # a chain: each joint's path below its parent's
    assert stage.GetTimeCodesPerSecond() == 60.0
    assert (stage.GetStartTimeCode(), stage.GetEndTimeCode()) == pytest.approx((0.0, SECONDS * 60.0))
    skinned = next(i for i, n in enumerate(doc.gltf["nodes"]) if "skin" in n)
    size = float(np.ptp(gltf_skinned(doc, skinned, None), axis=0).max())
    np.testing.assert_allclose(usd_skinned(stage, None), gltf_skinned(doc, skinned, None), atol=1e-5 * size)
    moved = 0.0
    for t in TIMES:
        posed = gltf_skinned(doc, skinned, t)
        np.testing.assert_allclose(usd_skinned(stage, t * 60.0), posed, atol=1e-5 * size, err_msg=f"t={t}")
        moved = max(moved, float(np.abs(posed - gltf_skinned(doc, skinned, None)).max()))
    assert moved > 0.05 * size  # the comparison is not between rest poses


def test_every_clip_plays_in_turn_on_the_timeline(tmp_path: Path) -> None:
    """Two clips: the second ("idle", the joints' rotations only) follows the first on the timeline
    one time code after it ends, each posed as the glTF plays it alone (the first clip's translation of joint 0
    is at rest during the second), and their names and time codes are in the layer's customLayerData."""
    doc = animated_document()
    first = doc.gltf["animations"][0]
    idle = {"name": "idle", "samplers": first["samplers"],
            "channels": [c for c in first["channels"] if c["target"]["path"] == "rotation"
                         and c["target"]["node"] <= JOINTS]}
    doc.gltf["animations"].append(idle)
    write_usdz(doc, tmp_path / "clips.usdz")
    stage = Usd.Stage.Open(str(tmp_path / "clips.usdz"))
    assert validation_errors(stage) == []
    clips = dict(stage.GetRootLayer().customLayerData["phygitalAnimationClips"])
    assert clips["wave"] == pytest.approx({"startTimeCode": 0.0, "endTimeCode": SECONDS * 60.0})
    end = 2 * SECONDS * 60.0 + 1.0
    assert clips["idle"] == pytest.approx({"startTimeCode": SECONDS * 60.0 + 1.0, "endTimeCode": end})
    assert (stage.GetStartTimeCode(), stage.GetEndTimeCode()) == pytest.approx((0.0, 2 * SECONDS * 60.0 + 1.0))
    assert [w for w in doc.warnings if "animations" in w] == [
        f"USDZ: 2 animations play one after another on its one timeline (wave 0.00-{SECONDS:.2f} s, idle "
        f"{SECONDS + 1 / 60:.2f}-{2 * SECONDS + 1 / 60:.2f} s; named in the layer's customLayerData "
        "phygitalAnimationClips)"]
    skinned = next(i for i, n in enumerate(doc.gltf["nodes"]) if "skin" in n)
    size = float(np.ptp(gltf_skinned(doc, skinned, None), axis=0).max())
    apart = 0.0
    for t in TIMES:
        for clip, start in ((0, 0.0), (1, clips["idle"]["startTimeCode"])):
            posed = gltf_skinned(doc, skinned, t, clip)
            np.testing.assert_allclose(usd_skinned(stage, start + t * 60.0), posed, atol=1e-5 * size,
                                       err_msg=f"clip {clip} t={t}")
        apart = max(apart, float(np.abs(gltf_skinned(doc, skinned, t, 1) - gltf_skinned(doc, skinned, t)).max()))
    assert apart > 0.01 * size  # joint 0's translation tells the clips apart


def test_node_animation_is_a_time_sampled_transform(tmp_path: Path) -> None:
    """A mesh under a node with STEP translation and CUBICSPLINE rotation: world matrix at every key, held
    between STEP keys, and close to the spline between its keys."""
    doc = animated_document()
    blinker = next(i for i, n in enumerate(doc.gltf["nodes"]) if n.get("name") == "blinker")
    doc.gltf["nodes"][blinker]["mesh"] = 1
    out = tmp_path / "blinker.usdz"
    write_usdz(doc, out)
    stage = Usd.Stage.Open(str(out))
    assert validation_errors(stage) == []
    meshes = [UsdGeom.Mesh(p) for p in stage.Traverse() if p.IsA(UsdGeom.Mesh) and p.GetName().startswith("flag")]
    (moving,) = [m for m in meshes if m.GetXformOpOrderAttr().Get()]
    errors = []
    for t in np.linspace(0.0, SECONDS, 97):
        usd = np.array(moving.ComputeLocalToWorldTransform(Usd.TimeCode(float(t) * 60.0))).T
        errors.append(np.abs(usd - gltf_world(doc, float(t))(blinker)).max())
    assert max(errors) < 2e-3  # between cubic samples (8 per interval)
    assert doc.warnings == [  # the moving flag: morphs need a skeleton, and a skinned prim's own transform is lost
        "USDZ: morph targets of a mesh moved by the animation without a skin are left out (its default weights are "
        "applied)"]  # the weights animation is the other flag's, which keeps it
    keys = np.arange(0, 17) * 0.25
    for t in keys + 0.125:  # mid-interval of the STEP curve: the value of the key before
        usd = np.array(moving.ComputeLocalToWorldTransform(Usd.TimeCode(float(t) * 60.0))).T
        np.testing.assert_allclose(usd[:3, 3], gltf_world(doc, float(t))(blinker)[:3, 3], atol=1e-6)


def variant_document() -> AssetDocument:
    """Two primitives, three variants; the primitives' default materials are those of the second variant."""
    doc = AssetDocument.from_mesh_arrays(np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], np.float32), np.array([0, 1, 2]))
    prim = doc.gltf["meshes"][0]["primitives"][0]
    second = copy.deepcopy(prim)
    doc.gltf["meshes"][0]["primitives"].append(second)
    colors = {"red": (1, 0, 0), "pink": (1, 0.7, 0.8), "blue": (0, 0, 1)}
    doc.gltf["materials"] = [{"name": f"{part}_{c}", "pbrMetallicRoughness": {"baseColorFactor": [*rgb, 1]}}
                             for part in ("upper", "sole") for c, rgb in colors.items()]
    prim["material"], second["material"] = 1, 4
    for p, base in ((prim, 0), (second, 3)):
        p["extensions"] = {"KHR_materials_variants": {"mappings": [{"material": base + i, "variants": [i]}
                                                                   for i in range(3)]}}
    doc.gltf["extensions"] = {"KHR_materials_variants": {"variants": [{"name": "red"}, {"name": "Pale Pink"},
                                                                      {"name": "blue"}]}}
    doc.use_extension("KHR_materials_variants")
    return doc


def bound_materials(stage: Any) -> list[str]:
    meshes = [p for p in stage.Traverse() if p.IsA(UsdGeom.Mesh)]
    return [UsdShade.MaterialBindingAPI(m).ComputeBoundMaterial()[0].GetPrim().GetName() for m in meshes]


def test_variants_as_a_variant_set_and_one_package_each(tmp_path: Path) -> None:
    doc = variant_document()
    write_usdz(doc, tmp_path / "all.usdz")
    stage = Usd.Stage.Open(str(tmp_path / "all.usdz"))
    assert validation_errors(stage) == []
    vset = stage.GetDefaultPrim().GetVariantSet("materialVariant")
    assert vset.GetVariantNames() == ["Pale_Pink", "blue", "red"]
    assert vset.GetVariantSelection() == "Pale_Pink"  # the one showing the glTF's default materials
    for name, color in (("red", "red"), ("Pale_Pink", "pink"), ("blue", "blue")):
        vset.SetVariantSelection(name)
        assert bound_materials(stage) == [f"upper_{color}", f"sole_{color}"]
    for i, color in enumerate(("red", "pink", "blue")):
        out = tmp_path / f"v{i}.usdz"
        write_usdz(doc, out, variant=i)
        one = Usd.Stage.Open(str(out))
        assert validation_errors(one) == []
        assert one.GetDefaultPrim().GetVariantSets().GetNames() == []
        assert bound_materials(one) == [f"upper_{color}", f"sole_{color}"]
    assert doc.warnings == []
    assert "KHR_materials_variants" in doc.gltf["extensionsUsed"]  # the document itself is unchanged
    assert "KHR_materials_variants" not in select_variant(doc, 0).gltf.get("extensionsUsed", [])
    with pytest.raises(InvalidAsset, match="no variant 3"):
        write_usdz(doc, tmp_path / "v3.usdz", variant=3)
    assert not (tmp_path / "v3.usdz").exists()


def test_what_a_usdz_cannot_carry_is_warned_once_each(tmp_path: Path) -> None:
    doc = animated_document()
    second = copy.deepcopy(doc.gltf["animations"][0])
    second["name"] = "idle"
    doc.gltf["animations"].append(second)
    doc.gltf["cameras"] = [{"type": "perspective", "perspective": {"yfov": 0.8, "znear": 0.1}}]
    for ext in ("KHR_lights_punctual", "KHR_materials_sheen"):
        doc.use_extension(ext)
    doc.gltf["meshes"][1]["weights"] = [1.0]  # the flag's default shape: fully bent
    write_usdz(doc, tmp_path / "lossy.usdz")
    assert doc.warnings == [
        "USDZ: 1 camera(s) left out (AR Quick Look places its own)",
        "USDZ: KHR_lights_punctual is not carried (AR Quick Look lights the scene itself)",
        "USDZ: KHR_materials_sheen is not carried (no USD Preview Surface equivalent)",
        f"USDZ: 2 animations play one after another on its one timeline (wave 0.00-{SECONDS:.2f} s, idle "
        f"{SECONDS + 1 / 60:.2f}-{2 * SECONDS + 1 / 60:.2f} s; named in the layer's customLayerData "
        "phygitalAnimationClips)",
    ]
    stage = Usd.Stage.Open(str(tmp_path / "lossy.usdz"))
    assert float(usd_morphed(stage, None)[:, 2].max()) == pytest.approx(0.2, abs=1e-6)  # default weight 1


def usd_morphed(stage: Any, time: float | None) -> np.ndarray:
    """The flag's points with its blend shapes applied by UsdSkel at time code ``time`` (None: default weights)."""
    (root,) = [UsdSkel.Root(p) for p in stage.Traverse() if p.IsA(UsdSkel.Root) and p.GetName().startswith("flag")]
    cache = UsdSkel.Cache()
    cache.Populate(root, Usd.TraverseInstanceProxies())
    (binding,) = cache.ComputeSkelBindings(root, Usd.TraverseInstanceProxies())
    query = cache.GetSkelQuery(binding.GetSkeleton())
    (target,) = binding.GetSkinningTargets()
    code = Usd.TimeCode.Default() if time is None else Usd.TimeCode(time)
    weights = target.GetBlendShapeMapper().Remap(query.GetAnimQuery().ComputeBlendShapeWeights(code))
    shapes = UsdSkel.BlendShapeQuery(UsdSkel.BindingAPI(target.GetPrim()))
    sub, shape_index, sub_index = shapes.ComputeSubShapeWeights(weights)
    points = UsdGeom.Mesh(target.GetPrim()).GetPointsAttr().Get()
    assert shapes.ComputeDeformedPoints(sub, shape_index, sub_index, shapes.ComputeBlendShapePointIndices(),
                                        shapes.ComputeSubShapePointOffsets(), points)
    assert target.ComputeSkinnedPoints(query.ComputeSkinningTransforms(code), points, code)
    return np.array(points, np.float64)


@pytest.mark.parametrize("optimized", [False, True])
def test_morph_targets_are_blend_shapes_with_animated_weights(tmp_path: Path, optimized: bool) -> None:
    """The flag (a morphed mesh no skin deforms) bends as the glTF's weight curve says, at and between keys."""
    doc = animated_document()
    if optimized:
        optimize_document(doc)
    out = tmp_path / "flag.usdz"
    write_usdz(doc, out)
    assert doc.warnings == []
    stage = Usd.Stage.Open(str(out))
    assert validation_errors(stage) == []
    flag = next(i for i, n in enumerate(doc.gltf["nodes"]) if n.get("name") == "flag")
    anim = doc.gltf["animations"][0]
    (ch,) = [c for c in anim["channels"] if c["target"] == {"node": flag, "path": "weights"}]
    base = doc.gltf["meshes"][doc.gltf["nodes"][flag]["mesh"]]["primitives"][0]
    bump = doc.accessors[base["targets"][0]["POSITION"]].as_float().astype(float)
    points = doc.accessors[base["attributes"]["POSITION"]].as_float().astype(float)
    world = gltf_world(doc, None)(flag)
    for t in TIMES:
        w = float(sample(doc, anim["samplers"][ch["sampler"]], "weights", t)[0])
        expected = (points + w * bump) @ world[:3, :3].T + world[:3, 3]
        np.testing.assert_allclose(usd_morphed(stage, t * 60.0), expected, atol=1e-5, err_msg=f"t={t}")
    assert float(np.abs(usd_morphed(stage, 120.0) - usd_morphed(stage, 0.0)).max()) > 0.1  # it does bend
