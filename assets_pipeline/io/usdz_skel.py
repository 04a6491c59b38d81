"""Animation and skins for the USDZ writer: the glTF animations on a USD timeline, skins as UsdSkel.

A USDZ plays one timeline, so the glTF animations are written one after another on it, each starting
:data:`CLIP_GAP` seconds after the one before ends; a node (or morph weight) one clip does not animate holds
its rest value during that clip, as a glTF viewer playing that clip alone shows it. Each clip's name and time
codes go into the root layer's ``customLayerData`` under ``phygitalAnimationClips`` (AR Quick Look plays the
clips in turn). Within a clip, every node is evaluated at the same sample times: the animation's key times,
plus points inside CUBICSPLINE intervals and just before each STEP key (USD interpolates every attribute
linearly, rotations by slerp, so LINEAR curves are reproduced exactly at and between their keys). Time codes
are seconds times :data:`TIME_CODES_PER_SECOND`.

A skin becomes a ``SkelRoot`` holding a ``Skeleton`` and the meshes it deforms: joint paths follow the joint
hierarchy (parents before children), ``bindTransforms`` are the inverse bind matrices inverted (world space),
``restTransforms`` the joints' rest pose relative to their parent joint (world space for root joints, so the
transforms of nodes above the skeleton are included), and a ``SkelAnimation`` carries the joints' local
translations, rotations and scales at every sample time. Skinned points stay in the glTF's bind space with an
identity ``geomBindTransform``, so UsdSkel places them exactly as a glTF viewer does. A mesh that is not skinned
but sits under an animated node gets its world matrix as a time-sampled ``xformOp:transform``. Morph targets
become ``BlendShape`` prims (position offsets) on their mesh, their weights (default and animated) go into the
SkelAnimation's ``blendShapeWeights``; a morphed mesh no skin deforms gets a one-joint skeleton at identity,
since UsdSkel applies blend shapes only to meshes bound to a skeleton.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..document import AssetDocument
from ..scene import local_matrix
from ..transforms.animation import evaluate

TIME_CODES_PER_SECOND = 60.0
CUBIC_STEPS = 8
"""Samples inside every CUBICSPLINE interval (USD has no Hermite interpolation)."""
STEP_LEAD = 1e-3
"""Seconds before a STEP key at which the previous value is held."""
MAX_SAMPLES = 20_000
"""At most this many sample times per clip (a longer clip is resampled evenly)."""
CLIP_GAP = 1.0 / TIME_CODES_PER_SECOND
"""Seconds between the end of one clip and the start of the next on the timeline."""


@dataclass(slots=True)
class Timeline:
    """One glTF animation sampled for USD: sample times (seconds) and every node's local matrix at them."""
    animation: int
    times: np.ndarray
    """(t,) float64, increasing."""
    local: dict[int, np.ndarray] = field(default_factory=dict)
    """Node -> (t, 4, 4) local matrices, for the nodes the animation moves."""
    weights: dict[int, np.ndarray] = field(default_factory=dict)
    """Node -> (t, targets) morph weights, for the nodes whose weights the animation changes."""
    clips: list[tuple[str, float, float]] = field(default_factory=list)
    """(name, first time code, last time code) of each glTF animation on the timeline, when there are several."""

    @property
    def time_codes(self) -> np.ndarray:
        """Sample times as USD time codes."""
        return self.times * TIME_CODES_PER_SECOND


def parents(doc: AssetDocument) -> dict[int, int]:
    """Child node -> parent node."""
    out: dict[int, int] = {}
    for i, node in enumerate(doc.gltf.get("nodes", [])):
        for c in node.get("children", []):
            out.setdefault(int(c), i)
    return out


def _sampler_values(doc: AssetDocument, sampler: dict[str, Any], path: str) -> tuple[str, np.ndarray, np.ndarray]:
    interp = sampler.get("interpolation", "LINEAR")
    times = doc.accessors[sampler["input"]].as_float().astype(np.float64).reshape(-1)
    out = doc.accessors[sampler["output"]].as_float().astype(np.float64)
    k = len(times)
    width = out.size // max(k * (3 if interp == "CUBICSPLINE" else 1), 1)
    values = out.reshape(k, 3, width) if interp == "CUBICSPLINE" else out.reshape(k, width)
    return interp, times, values


def timeline(doc: AssetDocument) -> Timeline | None:
    """Every animation sampled for USD, one after another (None without animations that move nodes)."""
    from .usdz import _identifier

    animations = doc.gltf.get("animations", [])
    sampled = [(i, tl) for i in range(len(animations)) if (tl := _clip(doc, i)) is not None]
    if len(sampled) <= 1:
        return sampled[0][1] if sampled else None
    nodes = doc.gltf.get("nodes", [])
    moved = sorted({n for _, tl in sampled for n in tl.local})
    weighted = {n: tl.weights[n].shape[1] for _, tl in sampled for n in tl.weights}
    times, clips, used = [], [], set()
    local: dict[int, list[np.ndarray]] = {n: [] for n in moved}
    weights: dict[int, list[np.ndarray]] = {n: [] for n in weighted}
    start = 0.0
    for i, tl in sampled:
        t = tl.times - tl.times[0] + start
        times.append(t)
        name = _identifier(animations[i].get("name"), f"animation{i}", used)
        clips.append((name, float(t[0] * TIME_CODES_PER_SECOND), float(t[-1] * TIME_CODES_PER_SECOND)))
        for n in moved:
            local[n].append(tl.local[n] if n in tl.local else np.broadcast_to(local_matrix(nodes[n]), (len(t), 4, 4)))
        for n, width in weighted.items():
            rest = _rest_weights(doc, n, width)
            weights[n].append(tl.weights[n] if n in tl.weights else np.broadcast_to(rest, (len(t), width)))
        start = float(t[-1]) + CLIP_GAP
    out = Timeline(sampled[0][0], np.concatenate(times))
    out.local = {n: np.concatenate(parts) for n, parts in local.items()}
    out.weights = {n: np.concatenate(parts) for n, parts in weights.items()}
    out.clips = clips
    return out


def _rest_weights(doc: AssetDocument, node: int, width: int) -> np.ndarray:
    """The morph weights ``node`` shows when no animation plays: its own, its mesh's, or zeros."""
    nodes, meshes = doc.gltf.get("nodes", []), doc.gltf.get("meshes", [])
    n = nodes[node] if 0 <= node < len(nodes) else {}
    mesh = meshes[n["mesh"]] if isinstance(n.get("mesh"), int) and 0 <= n["mesh"] < len(meshes) else {}
    rest = np.zeros(width)
    given = n.get("weights", mesh.get("weights", []))
    rest[: min(width, len(given))] = np.asarray(given, float)[:width]
    return rest


def _clip(doc: AssetDocument, index: int) -> Timeline | None:
    """Animation ``index`` sampled for USD on its own times (None when it moves no node)."""
    anim = doc.gltf["animations"][index]
    channels = []
    times: list[np.ndarray] = []
    for ch in anim.get("channels", []):
        target = ch.get("target", {})
        if "node" not in target or target.get("path") not in ("translation", "rotation", "scale", "weights"):
            continue
        interp, t, v = _sampler_values(doc, anim["samplers"][ch["sampler"]], target["path"])
        if not len(t):
            continue
        channels.append((int(target["node"]), target["path"], interp, t, v))
        times.append(t)
        if interp == "STEP" and len(t) > 1:
            times.append(np.maximum(t[1:] - STEP_LEAD, t[:-1]))
        elif interp == "CUBICSPLINE" and len(t) > 1:
            u = np.arange(1, CUBIC_STEPS) / CUBIC_STEPS
            times.append((t[:-1, None] + u[None] * np.diff(t)[:, None]).reshape(-1))
    if not channels:
        return None
    sample = np.unique(np.round(np.concatenate(times), 6))
    if len(sample) > MAX_SAMPLES:
        sample = np.linspace(sample[0], sample[-1], MAX_SAMPLES)
    out = Timeline(index, sample)
    nodes = doc.gltf.get("nodes", [])
    trs: dict[int, dict[str, np.ndarray]] = {}
    for node, path, interp, t, v in channels:
        if path == "weights":
            out.weights[node] = evaluate(interp, t, v, sample, False)
            continue
        if not 0 <= node < len(nodes) or "matrix" in nodes[node]:
            continue
        trs.setdefault(node, {})[path] = evaluate(interp, t, v, sample, path == "rotation")
    for node, paths in trs.items():
        out.local[node] = _compose(nodes[node], paths, len(sample))
    return out if out.local or out.weights else None


def _compose(node: dict[str, Any], paths: dict[str, np.ndarray], n: int) -> np.ndarray:
    """(n, 4, 4) local matrices from animated paths (the node's own TRS where a path is not animated)."""
    t = paths.get("translation", np.broadcast_to(np.array(node.get("translation", [0.0, 0.0, 0.0]), float), (n, 3)))
    q = paths.get("rotation", np.broadcast_to(np.array(node.get("rotation", [0.0, 0.0, 0.0, 1.0]), float), (n, 4)))
    s = paths.get("scale", np.broadcast_to(np.array(node.get("scale", [1.0, 1.0, 1.0]), float), (n, 3)))
    q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
    x, y, z, w = q[:, 0], q[:, 1], q[:, 2], q[:, 3]
    r = np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], axis=1),
        np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], axis=1),
        np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], axis=1)], axis=1)
    m = np.zeros((n, 4, 4))
    m[:, :3, :3] = r * s[:, None, :]
    m[:, :3, 3] = t
    m[:, 3, 3] = 1.0
    return m


def world_matrices(doc: AssetDocument, tl: Timeline | None, node: int, up: dict[int, int],
                   cache: dict[int, np.ndarray]) -> np.ndarray:
    """(t, 4, 4) world matrices of ``node`` at the timeline's sample times ((1, 4, 4) at rest without one)."""
    if node in cache:
        return cache[node]
    nodes = doc.gltf["nodes"]
    chain = []
    n: int | None = node
    while n is not None and len(chain) <= len(nodes):
        chain.append(n)
        n = up.get(n)
    world = np.eye(4)[None]
    for n in reversed(chain):
        if n in cache:
            world = cache[n]
            continue
        local = tl.local[n] if tl is not None and n in tl.local else local_matrix(nodes[n])[None]
        world = world @ local
        cache[n] = world
    return cache[node]


def moves(tl: Timeline | None, node: int, up: dict[int, int]) -> bool:
    """Whether the timeline moves ``node`` or one of its ancestors."""
    if tl is None:
        return False
    n: int | None = node
    seen = 0
    while n is not None and seen < 1_000_000:
        if n in tl.local:
            return True
        n, seen = up.get(n), seen + 1
    return False


def _gf_matrices(m: np.ndarray) -> Any:
    from pxr import Vt

    return Vt.Matrix4dArray.FromNumpy(np.ascontiguousarray(m.transpose(0, 2, 1)))


def set_time_range(stage: Any, tl: Timeline) -> None:
    """Author the stage's time code rate and start/end from the timeline."""
    stage.SetTimeCodesPerSecond(TIME_CODES_PER_SECOND)
    stage.SetFramesPerSecond(TIME_CODES_PER_SECOND)
    codes = tl.time_codes
    stage.SetStartTimeCode(float(codes[0]))
    stage.SetEndTimeCode(float(codes[-1]))
    if tl.clips:
        layer = stage.GetRootLayer()
        data = dict(layer.customLayerData)
        data["phygitalAnimationClips"] = {name: {"startTimeCode": lo, "endTimeCode": hi} for name, lo, hi in tl.clips}
        layer.customLayerData = data


def animate_xform(prim: Any, world: np.ndarray, tl: Timeline) -> None:
    """A time-sampled ``xformOp:transform`` on ``prim`` from (t, 4, 4) world matrices."""
    from pxr import Gf, UsdGeom

    op = UsdGeom.Xformable(prim).AddTransformOp()
    op.Set(Gf.Matrix4d(world[0].T.tolist()))
    for code, m in zip(tl.time_codes, world, strict=True):
        op.Set(Gf.Matrix4d(m.T.tolist()), float(code))


@dataclass(slots=True)
class Skeleton:
    """A skin as written: its USD prims, joint order and the glTF joint index -> USD joint index map; the blend
    shapes of its meshes (name, node, default weight) as they are added."""
    root: Any
    skeleton: Any
    remap: np.ndarray
    joints: int
    shapes: list[tuple[str, int, int, float]] = field(default_factory=list)
    """(blend shape name, node, target index, default weight)."""


def define_rigid_skeleton(stage: Any, path: str, name: str, used: set[str]) -> Skeleton:
    """A SkelRoot at ``path`` with a one-joint Skeleton at identity: UsdSkel applies blend shapes only to meshes
    bound to a skeleton, so a morphed mesh that no skin deforms gets this one."""
    from pxr import Gf, UsdSkel, Vt

    from .usdz import _identifier

    root = UsdSkel.Root.Define(stage, f"{path}/{_identifier(f'{name}_morph', 'morph', used)}")
    skel = UsdSkel.Skeleton.Define(stage, f"{root.GetPath()}/Skeleton")
    skel.CreateJointsAttr(Vt.TokenArray(["root"]))
    skel.CreateBindTransformsAttr(Vt.Matrix4dArray([Gf.Matrix4d(1.0)]))
    skel.CreateRestTransformsAttr(Vt.Matrix4dArray([Gf.Matrix4d(1.0)]))
    return Skeleton(root, skel, np.zeros(1, np.int64), 1)


def add_blend_shapes(stage: Any, mesh: Any, doc: AssetDocument, prim: dict[str, Any], linear: np.ndarray,
                     skel: Skeleton, node: int, defaults: list[float] | None) -> None:
    """One UsdSkel BlendShape per morph target of ``prim`` (position offsets through ``linear``, the 3x3 part of
    the transform baked into the points), bound on ``mesh`` and recorded on ``skel`` for its animation."""
    from pxr import Sdf, UsdSkel, Vt

    names = []
    for k, target in enumerate(prim.get("targets", [])):
        if "POSITION" not in target:
            continue
        name = f"{mesh.GetPrim().GetName()}_t{k}"
        shape = UsdSkel.BlendShape.Define(stage, f"{mesh.GetPath()}/{name}")
        offsets = doc.accessors[target["POSITION"]].as_float().astype(np.float64) @ linear.T
        shape.CreateOffsetsAttr(Vt.Vec3fArray.FromNumpy(np.ascontiguousarray(offsets, np.float32)))
        names.append(name)
        skel.shapes.append((name, node, k, float((defaults or [])[k]) if k < len(defaults or []) else 0.0))
    binding = UsdSkel.BindingAPI.Apply(mesh.GetPrim())
    binding.CreateBlendShapesAttr(Vt.TokenArray(names))
    binding.CreateBlendShapeTargetsRel().SetTargets([Sdf.Path(f"{mesh.GetPath()}/{n}") for n in names])


def bind_rigid(mesh: Any, skel: Skeleton) -> None:
    """Bind ``mesh`` wholly to the skeleton's first joint (the points do not move)."""
    from pxr import Gf, Sdf, UsdSkel

    binding = UsdSkel.BindingAPI.Apply(mesh.GetPrim())
    binding.CreateSkeletonRel().SetTargets([Sdf.Path(skel.skeleton.GetPath())])
    binding.CreateGeomBindTransformAttr(Gf.Matrix4d(1.0))
    binding.CreateJointIndicesPrimvar(True, 1).Set([0])
    binding.CreateJointWeightsPrimvar(True, 1).Set([1.0])


def animate_blend_shapes(stage: Any, skel: Skeleton, tl: Timeline | None) -> bool:
    """The skeleton's SkelAnimation gets its meshes' blend shapes: default weights, and the timeline's weights as
    time samples. Returns whether any weight is time-sampled."""
    from pxr import Sdf, UsdSkel, Vt

    if not skel.shapes:
        return False
    path = f"{skel.root.GetPath()}/Animation"
    anim = UsdSkel.Animation(stage.GetPrimAtPath(path))
    if not anim:
        anim = UsdSkel.Animation.Define(stage, path)
        UsdSkel.BindingAPI.Apply(skel.skeleton.GetPrim()).CreateAnimationSourceRel().SetTargets([Sdf.Path(path)])
    anim.CreateBlendShapesAttr(Vt.TokenArray([s[0] for s in skel.shapes]))
    attr = anim.CreateBlendShapeWeightsAttr()
    defaults = np.array([s[3] for s in skel.shapes], np.float32)
    attr.Set(Vt.FloatArray.FromNumpy(defaults))
    timed = [i for i, s in enumerate(skel.shapes) if tl is not None and s[1] in tl.weights]
    if not timed or tl is None:
        return False
    for row, code in enumerate(tl.time_codes):
        values = defaults.copy()
        for i in timed:
            _, node, k, _ = skel.shapes[i]
            w = tl.weights[node]
            values[i] = w[row, k] if k < w.shape[1] else values[i]
        attr.Set(Vt.FloatArray.FromNumpy(values), float(code))
    return True


def define_skeleton(stage: Any, path: str, doc: AssetDocument, skin: dict[str, Any], tl: Timeline | None,
                    up: dict[int, int], cache: dict[int, np.ndarray], used: set[str]) -> Skeleton:
    """A SkelRoot at ``path`` with its Skeleton (and SkelAnimation when the timeline moves a joint)."""
    from pxr import Sdf, UsdSkel, Vt

    from .usdz import _identifier

    joints = [int(j) for j in skin["joints"]]
    jset = set(joints)
    nodes = doc.gltf["nodes"]

    def parent_joint(j: int) -> int | None:
        n = up.get(j)
        while n is not None and n not in jset:
            n = up.get(n)
        return n

    def depth(j: int) -> int:
        d, n = 0, parent_joint(j)
        while n is not None and d <= len(joints):
            d, n = d + 1, parent_joint(n)
        return d

    order = sorted(range(len(joints)), key=lambda k: depth(joints[k]))
    remap = np.empty(len(joints), np.int64)
    remap[order] = np.arange(len(joints))
    paths: dict[int, str] = {}
    siblings: dict[str, set[str]] = {}
    for k in order:
        j = joints[k]
        pj = parent_joint(j)
        prefix = paths[pj] + "/" if pj is not None else ""
        name = _identifier(nodes[j].get("name"), f"joint{j}", siblings.setdefault(prefix, set()))
        paths[j] = prefix + name

    ordered = [joints[k] for k in order]
    if "inverseBindMatrices" in skin:
        ibm = doc.accessors[skin["inverseBindMatrices"]].as_float().astype(np.float64).reshape(-1, 4, 4)
        ibm = ibm.transpose(0, 2, 1)[: len(joints)]
    else:
        ibm = np.repeat(np.eye(4)[None], len(joints), axis=0)
    bind = np.linalg.inv(ibm[order])

    def joint_locals(at_rest: bool) -> np.ndarray:
        rows = []
        timed = None if at_rest else tl
        local_cache = cache if not at_rest else {}
        for j in ordered:
            wj = world_matrices(doc, timed, j, up, local_cache)
            pj = parent_joint(j)
            rows.append(wj if pj is None else np.linalg.inv(world_matrices(doc, timed, pj, up, local_cache)) @ wj)
        n = max(len(r) for r in rows)
        return np.stack([np.broadcast_to(r, (n, 4, 4)) for r in rows], axis=1)  # (t, joints, 4, 4)

    root_name = _identifier(skin.get("name"), "Skel", used)
    root = UsdSkel.Root.Define(stage, f"{path}/{root_name}")
    skel = UsdSkel.Skeleton.Define(stage, f"{root.GetPath()}/Skeleton")
    tokens = Vt.TokenArray([paths[j] for j in ordered])
    skel.CreateJointsAttr(tokens)
    skel.CreateJointNamesAttr(Vt.TokenArray([p.rsplit("/", 1)[-1] for p in tokens]))
    skel.CreateBindTransformsAttr(_gf_matrices(bind))
    skel.CreateRestTransformsAttr(_gf_matrices(joint_locals(True)[0]))
    if tl is not None and any(moves(tl, j, up) for j in ordered):
        anim = UsdSkel.Animation.Define(stage, f"{root.GetPath()}/Animation")
        anim.CreateJointsAttr(tokens)
        t_attr, r_attr, s_attr = anim.CreateTranslationsAttr(), anim.CreateRotationsAttr(), anim.CreateScalesAttr()
        previous = None
        for code, mats in zip(tl.time_codes, joint_locals(False), strict=True):
            t, r, s = UsdSkel.DecomposeTransforms(_gf_matrices(mats))
            q = np.array(r)  # (x, y, z, w) rows; each rotation kept on the side of its previous sample
            if previous is not None:
                flip = np.sum(q * previous, axis=1) < 0
                if flip.any():
                    q[flip] *= -1
                    r = Vt.QuatfArray.FromNumpy(np.ascontiguousarray(q, np.float32))
            previous = q
            t_attr.Set(t, float(code))
            r_attr.Set(r, float(code))
            s_attr.Set(s, float(code))
        binding = UsdSkel.BindingAPI.Apply(skel.GetPrim())
        binding.CreateAnimationSourceRel().SetTargets([Sdf.Path(anim.GetPath())])
    return Skeleton(root, skel, remap, len(joints))


def bind_mesh(mesh: Any, doc: AssetDocument, prim: dict[str, Any], skel: Skeleton) -> bool:
    """Skin ``mesh`` to ``skel`` with the primitive's JOINTS_n/WEIGHTS_n (False: it has none)."""
    from pxr import Gf, Sdf, UsdSkel, Vt

    attrs = prim["attributes"]
    sets = [k for k in range(8) if f"JOINTS_{k}" in attrs and f"WEIGHTS_{k}" in attrs]
    if not sets:
        return False
    idx = np.concatenate([doc.accessors[attrs[f"JOINTS_{k}"]].array.astype(np.int64) for k in sets], axis=1)
    w = np.concatenate([doc.accessors[attrs[f"WEIGHTS_{k}"]].as_float().astype(np.float64) for k in sets], axis=1)
    idx = skel.remap[np.clip(idx, 0, skel.joints - 1)]
    w = np.where(idx >= 0, np.maximum(w, 0.0), 0.0)
    total = w.sum(axis=1, keepdims=True)
    w = np.where(total > 0, w / np.where(total > 0, total, 1.0), np.eye(1, w.shape[1])[0])
    binding = UsdSkel.BindingAPI.Apply(mesh.GetPrim())
    binding.CreateSkeletonRel().SetTargets([Sdf.Path(skel.skeleton.GetPath())])
    binding.CreateGeomBindTransformAttr(Gf.Matrix4d(1.0))
    binding.CreateJointIndicesPrimvar(False, idx.shape[1]).Set(Vt.IntArray.FromNumpy(idx.reshape(-1).astype(np.int32)))
    binding.CreateJointWeightsPrimvar(False, w.shape[1]).Set(Vt.FloatArray.FromNumpy(w.reshape(-1).astype(np.float32)))
    return True
