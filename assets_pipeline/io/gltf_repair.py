"""Repairs of glTF files that break the spec in a way with one obvious fix, made while reading.

Before the byte layers are read (:func:`repair_json`): duplicated and undeclared extension declarations,
an ``asset.minVersion`` above ``asset.version``, empty arrays the spec forbids, primitives without POSITION,
and accessors and images nothing refers to (dropped unread, so their buffers are never opened).

After (:func:`repair_document`, on decoded arrays): animation channels the validator would reject (bad
sampler formats or counts, times that do not increase, duplicate targets, weights of a mesh without morph
targets, TRS of a node with a matrix that is not a rotation, scale and translation), quaternions that are not
unit length, skins whose joints are not in the scene of the node they deform, and skin weights that do not
sum to one. What cannot be repaired is dropped; every repair is one warning naming what changed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..document import AssetDocument
from ..refs import refs

Warn = Callable[[str], None]
TRS_PATHS = ("translation", "rotation", "scale")
INTERPOLATIONS = ("LINEAR", "STEP", "CUBICSPLINE")
_NONEMPTY_TOP = ("accessors", "animations", "buffers", "bufferViews", "cameras", "images", "materials", "meshes",
                 "nodes", "samplers", "scenes", "skins", "textures", "extensionsUsed", "extensionsRequired")


# --- JSON (before reading) -------------------------------------------------------------------------------

def repair_json(gltf: dict[str, Any], warn: Warn) -> None:
    """Repair what the JSON alone shows (see the module docstring); ``gltf`` is changed in place."""
    _repair_asset(gltf, warn)
    _drop_primitives_without_position(gltf, warn)
    _drop_empty_animations_and_skins(gltf, warn)
    drop_empty_entities(gltf)
    declare_extensions(gltf, warn)
    _drop_unread(gltf, "accessors", warn)
    _drop_unread(gltf, "images", warn)


def _repair_asset(gltf: dict[str, Any], warn: Warn) -> None:
    asset = gltf.get("asset")
    if (isinstance(asset, dict) and "minVersion" in asset
            and _version(asset.get("minVersion")) > _version(asset.get("version"))):
        warn(f"asset.minVersion {asset['minVersion']!r} is above version {asset.get('version')!r}; dropped")
        del asset["minVersion"]


def _version(value: Any) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in str(value).split("."))
    except ValueError:
        return (0,)


def drop_empty_entities(gltf: dict[str, Any]) -> None:
    """Remove the empty arrays glTF does not allow (top-level lists, scene nodes, node children, morph targets,
    extension lists): an absent array means the same and passes the validator."""
    for key in _NONEMPTY_TOP:
        if key in gltf and gltf[key] == []:
            del gltf[key]
    for holder, key in ([(s, "nodes") for s in gltf.get("scenes", [])]
                        + [(n, "children") for n in gltf.get("nodes", [])]
                        + [(p, "targets") for m in gltf.get("meshes", []) for p in m.get("primitives", [])]
                        + [(m, "weights") for m in gltf.get("meshes", [])]):
        if isinstance(holder, dict) and holder.get(key) == []:
            del holder[key]
    if "scene" in gltf and "scenes" not in gltf:
        del gltf["scene"]


def _extension_names(obj: Any, found: dict[str, None]) -> None:
    """Names of every extension object in the JSON (keys of ``extensions`` objects, extras skipped)."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key == "extras":
                continue
            if key == "extensions" and isinstance(value, dict):
                found.update(dict.fromkeys(value))
            _extension_names(value, found)
    elif isinstance(obj, list):
        for item in obj:
            _extension_names(item, found)


def declare_extensions(gltf: dict[str, Any], warn: Warn | None = None) -> None:
    """extensionsUsed names every extension the JSON uses, once; extensionsRequired is a subset of it, once."""
    used = list(dict.fromkeys(gltf.get("extensionsUsed", [])))
    required = list(dict.fromkeys(gltf.get("extensionsRequired", [])))
    if warn and (len(used) < len(gltf.get("extensionsUsed", []))
                 or len(required) < len(gltf.get("extensionsRequired", []))):
        warn("extensionsUsed/extensionsRequired listed an extension twice; duplicates dropped")
    found: dict[str, None] = {}
    _extension_names({k: v for k, v in gltf.items() if k not in ("extensionsUsed", "extensionsRequired")}, found)
    missing = [name for name in [*found, *required] if name not in used]
    if missing and warn:
        warn(f"extension(s) {', '.join(dict.fromkeys(missing))} used but not declared in extensionsUsed; declared")
    used += list(dict.fromkeys(missing))
    for key, names in (("extensionsUsed", used), ("extensionsRequired", required)):
        if names:
            gltf[key] = names
        else:
            gltf.pop(key, None)


def _drop_primitives_without_position(gltf: dict[str, Any], warn: Warn) -> None:
    dropped_meshes: set[int] = set()
    for mi, mesh in enumerate(gltf.get("meshes", [])):
        prims = mesh.get("primitives", [])
        keep = [p for p in prims if "POSITION" in p.get("attributes", {})]
        if len(keep) == len(prims):
            continue
        warn(f"meshes[{mi}]: {len(prims) - len(keep)} primitive(s) without POSITION dropped (nothing to draw)")
        mesh["primitives"] = keep
        if not keep:
            dropped_meshes.add(mi)
    if dropped_meshes:
        drop_items(gltf, "meshes", dropped_meshes)


def _drop_empty_animations_and_skins(gltf: dict[str, Any], warn: Warn) -> None:
    anims = gltf.get("animations", [])
    for ai, anim in enumerate(anims):
        samplers, channels = anim.get("samplers", []), anim.get("channels", [])
        good = [i for i, s in enumerate(samplers) if "input" in s and "output" in s]
        mapping = {old: new for new, old in enumerate(good)}
        kept = [c for c in channels if isinstance(c.get("target"), dict) and c.get("sampler") in mapping]
        if len(good) < len(samplers) or len(kept) < len(channels):
            warn(f"animations[{ai}]: {len(samplers) - len(good)} sampler(s) without input or output and "
                 f"{len(channels) - len(kept)} channel(s) without a target or sampler dropped")
            for c in kept:
                c["sampler"] = mapping[c["sampler"]]
            anim["samplers"], anim["channels"] = [samplers[i] for i in good], kept
    keep = [a for a in anims if a.get("channels") and a.get("samplers")]
    if len(keep) < len(anims):
        warn(f"{len(anims) - len(keep)} animation(s) without channels or samplers dropped")
        gltf["animations"] = keep
    empty = {i for i, s in enumerate(gltf.get("skins", [])) if not s.get("joints")}
    if empty:
        warn(f"{len(empty)} skin(s) without joints dropped")
        drop_items(gltf, "skins", empty)


def _drop_unread(gltf: dict[str, Any], kind: str, warn: Warn) -> None:
    """Drop accessors or images nothing refers to, before their data is read."""
    items = gltf.get(kind, [])
    used = {c[k] for c, k in refs(gltf, kind)}
    unused = {i for i in range(len(items)) if i not in used}
    if unused:
        drop_items(gltf, kind, unused)


def drop_items(gltf: dict[str, Any], kind: str, drop: set[int], items: list[Any] | None = None) -> list[Any]:
    """Remove items ``drop`` of ``kind`` (``items``, default ``gltf[kind]``) and every reference to them; other
    references are renumbered. A node that loses its mesh also loses its skin and morph weights. Returns the
    remaining items (also stored in ``gltf[kind]`` when ``items`` is not given)."""
    source = gltf.get(kind, []) if items is None else items
    mapping: dict[int, int] = {}
    for i in range(len(source)):
        if i not in drop:
            mapping[i] = len(mapping)
    lists: dict[int, list[Any]] = {}
    for container, key in list(refs(gltf, kind)):
        old = container[key]
        if old in mapping:
            container[key] = mapping[old]
        elif old not in drop:
            continue  # out of range: left for the reader's reference check to report
        elif isinstance(container, list):
            lists[id(container)] = container
            container[key] = None
        else:
            del container[key]
            if kind == "meshes":
                container.pop("skin", None)
                container.pop("weights", None)
    for lst in lists.values():
        lst[:] = [v for v in lst if v is not None]
    kept = [item for i, item in enumerate(source) if i not in drop]
    if items is None:
        if kept:
            gltf[kind] = kept
        else:
            gltf.pop(kind, None)
    return kept


# --- decoded document (after reading) ----------------------------------------------------------------------

def repair_document(doc: AssetDocument) -> None:
    """Repair or drop animation channels, skins and skin weights the validator would reject (see the module
    docstring); each change is a warning on ``doc``."""
    _repair_skins(doc)
    _repair_weights(doc)
    _repair_animations(doc)
    drop_empty_entities(doc.gltf)


def _scene_nodes(gltf: dict[str, Any], roots: list[int]) -> set[int]:
    nodes = gltf.get("nodes", [])
    seen: set[int] = set()
    stack = list(roots)
    while stack:
        n = stack.pop()
        if n not in seen:
            seen.add(n)
            stack.extend(nodes[n].get("children", []))
    return seen


def _unskin(doc: AssetDocument, skin_nodes: set[int], reason: str) -> None:
    """Take the skin off ``skin_nodes`` (and JOINTS/WEIGHTS off meshes no skinned node uses any more)."""
    nodes = doc.gltf.get("nodes", [])
    for n in sorted(skin_nodes):
        doc.warn(f"nodes[{n}]: skins[{nodes[n]['skin']}] dropped: {reason}")
        del nodes[n]["skin"]
    still = {node["mesh"] for node in nodes if "skin" in node and "mesh" in node}
    for n in skin_nodes:
        mesh = nodes[n].get("mesh")
        if mesh is None or mesh in still:
            continue
        for prim in doc.gltf["meshes"][mesh].get("primitives", []):
            attrs = prim.get("attributes", {})
            for name in [a for a in attrs if a.startswith(("JOINTS_", "WEIGHTS_"))]:
                del attrs[name]
    used = {node["skin"] for node in nodes if "skin" in node}
    unused = set(range(len(doc.gltf.get("skins", [])))) - used
    if unused:
        drop_items(doc.gltf, "skins", unused)


def _repair_skins(doc: AssetDocument) -> None:
    gltf = doc.gltf
    nodes = gltf.get("nodes", [])
    skins = gltf.get("skins", [])
    scenes = [_scene_nodes(gltf, s.get("nodes", [])) for s in gltf.get("scenes", [])]
    bad: dict[str, set[int]] = {}
    for n, node in enumerate(nodes):
        if "skin" not in node:
            continue
        mesh = gltf.get("meshes", [])[node["mesh"]] if "mesh" in node else None
        has_joints = mesh is not None and any(
            any(a.startswith("JOINTS_") for a in p.get("attributes", {})) for p in mesh.get("primitives", []))
        joints = set(skins[node["skin"]].get("joints", []))
        if not has_joints:
            bad.setdefault("its mesh has no JOINTS/WEIGHTS", set()).add(n)
        elif any(n in scene and not joints <= scene for scene in scenes):
            bad.setdefault("some joints are not in the scene of the node it deforms", set()).add(n)
    for reason, group in bad.items():
        _unskin(doc, group, reason)


def _weights_off(w: np.ndarray) -> np.ndarray:
    """Rows whose non-zero weights do not sum to one as the validator adds them (float32, in order, within
    2e-7 per non-zero weight)."""
    total = np.zeros(w.shape[0], np.float32)
    for col in w.T:
        total = np.where(col != 0, (total + col).astype(np.float32), total)
    return np.abs(total.astype(np.float64) - 1.0) > 2e-7 * (w != 0).sum(axis=1)


def _unit_weights(w: np.ndarray) -> np.ndarray:
    """float32 rows summing to one (by the validator's addition): normalized, the largest weight taking the
    rounding error."""
    out = (w / w.sum(axis=1, keepdims=True)).astype(np.float32)
    for _ in range(4):
        off = _weights_off(out)
        if not off.any():
            break
        rows = np.nonzero(off)[0]
        big = np.argmax(out[rows], axis=1)
        others = out[rows].astype(np.float64).sum(axis=1) - out[rows, big]
        out[rows, big] = (1.0 - others).astype(np.float32)
    return out


def _repair_weights(doc: AssetDocument) -> None:
    """Skin weights: negative ones clipped, each vertex's sum made one; JOINTS/WEIGHTS whose weights are all
    zero are dropped (with the skin), and a vertex with zero weights is bound to its first joint."""
    nodes = doc.gltf.get("nodes", [])
    done: set[tuple[int, ...]] = set()
    for mi, mesh in enumerate(doc.gltf.get("meshes", [])):
        for pi, prim in enumerate(mesh.get("primitives", [])):
            attrs = prim.get("attributes", {})
            names = sorted(a for a in attrs if a.startswith("WEIGHTS_"))
            key = tuple(attrs[a] for a in names)
            if not names or key in done:
                continue
            done.add(key)
            accs = [doc.accessors[attrs[a]] for a in names]
            if any(a.type != "VEC4" for a in accs):
                continue
            w = np.concatenate([a.as_float() for a in accs], axis=1).astype(np.float32)
            off = _weights_off(w) | (w < 0).any(axis=1)
            if not off.any():
                continue
            w = np.maximum(w.astype(np.float64), 0.0)
            where = f"meshes[{mi}].primitives[{pi}]"
            zero = w.sum(axis=1) <= 0
            if zero.all():
                users = {n for n, node in enumerate(nodes) if node.get("mesh") == mi and "skin" in node}
                if users:
                    _unskin(doc, users, f"every skin weight of {where} is zero")
                else:
                    for a in [a for a in attrs if a.startswith(("JOINTS_", "WEIGHTS_"))]:
                        del attrs[a]
                    doc.warn(f"{where}: JOINTS/WEIGHTS with every weight zero dropped")
                continue
            w[zero, 0] = 1.0
            unit = _unit_weights(w)
            bound = f", {int(zero.sum())} with zero weights bound to their first joint" if zero.any() else ""
            doc.warn(f"{where}: skin weights of {int(off.sum())} vertices made to sum to one{bound}")
            for j, a in enumerate(names):
                doc.accessors[attrs[a]] = accs[j].copy_with(np.ascontiguousarray(unit[:, 4 * j: 4 * j + 4]),
                                                            normalized=False)


def _morph_count(gltf: dict[str, Any], node: dict[str, Any]) -> int:
    if "mesh" not in node:
        return 0
    prims = gltf["meshes"][node["mesh"]].get("primitives", [])
    return max((len(p.get("targets", [])) for p in prims), default=0)


def _matrix_to_trs(m: list[float]) -> dict[str, list[float]] | None:
    """Translation, rotation and scale of a column-major 4x4 matrix, or None when it has shear or projection."""
    a = np.asarray(m, np.float64).reshape(4, 4).T  # row-major
    if not np.allclose(a[3], [0, 0, 0, 1], atol=1e-6):
        return None
    basis = a[:3, :3]
    scale = np.linalg.norm(basis, axis=0)
    if (scale < 1e-12).any():
        return None
    rot = basis / scale
    if np.linalg.det(rot) < 0:
        scale[0], rot[:, 0] = -scale[0], -rot[:, 0]
    if not np.allclose(rot.T @ rot, np.eye(3), atol=1e-4):
        return None
    q = _quaternion(rot)
    return {"translation": [float(v) for v in a[:3, 3]], "rotation": [float(v) for v in q],
            "scale": [float(v) for v in scale]}


def _quaternion(r: np.ndarray) -> np.ndarray:
    """(x, y, z, w) unit quaternion of a rotation matrix (Shepperd's method)."""
    t = np.trace(r)
    if t > 0:
        s = 2.0 * np.sqrt(t + 1.0)
        q = [(r[2, 1] - r[1, 2]) / s, (r[0, 2] - r[2, 0]) / s, (r[1, 0] - r[0, 1]) / s, 0.25 * s]
    else:
        i = int(np.argmax(np.diag(r)))
        j, k = (i + 1) % 3, (i + 2) % 3
        s = 2.0 * np.sqrt(1.0 + r[i, i] - r[j, j] - r[k, k])
        q = [0.0, 0.0, 0.0, (r[k, j] - r[j, k]) / s]
        q[i] = 0.25 * s
        q[j] = (r[j, i] + r[i, j]) / s
        q[k] = (r[k, i] + r[i, k]) / s
    out = np.asarray(q)
    return out / np.linalg.norm(out)


def _sampler_problem(doc: AssetDocument, sampler: dict[str, Any], path: str, morphs: int,
                     fixed: dict[int, np.ndarray]) -> str | None:
    """Why this sampler cannot drive ``path`` (None when it can); unit-length fixes of quaternion outputs are
    collected in ``fixed`` (accessor index -> new array)."""
    interp = sampler.get("interpolation", "LINEAR")
    if interp not in INTERPOLATIONS:
        return f"unknown interpolation {interp!r}"
    inp, out = doc.accessors[sampler["input"]], doc.accessors[sampler["output"]]
    if inp.type != "SCALAR" or inp.array.dtype != np.float32 or inp.normalized:
        return "input times are not float scalars"
    times = inp.array
    cubic = interp == "CUBICSPLINE"
    if times.size < (2 if cubic else 1):
        return f"{times.size} key(s) for {interp}"
    if (times < 0).any():
        return "negative input times"
    if (np.diff(times) <= 0).any():
        return "input times do not increase"
    want = {"translation": ("VEC3",), "scale": ("VEC3",), "rotation": ("VEC4",), "weights": ("SCALAR",)}[path]
    ints = (np.int8, np.uint8, np.int16, np.uint16)
    if out.type not in want or not (out.array.dtype == np.float32 or (
            path in ("rotation", "weights") and out.normalized and out.array.dtype in ints)):
        return f"output is {out.type} {out.array.dtype} (not a {path} format)"
    expected = times.size * (3 if cubic else 1) * (morphs if path == "weights" else 1)
    if out.count != expected:
        return f"output has {out.count} values, {expected} expected"
    if path == "rotation":
        values = out.as_float().astype(np.float64)
        rows = np.arange(out.count) if not cubic else np.arange(1, out.count, 3)
        norms = np.linalg.norm(values[rows], axis=1)
        if (norms < 1e-6).any():
            return "zero-length rotation quaternions"
        if (np.abs(norms - 1.0) > 5e-4).any():
            values[rows] /= norms[:, None]
            fixed[sampler["output"]] = values.astype(np.float32)
    return None


def _repair_animations(doc: AssetDocument) -> None:
    gltf = doc.gltf
    nodes = gltf.get("nodes", [])
    kept_animations = []
    for ai, anim in enumerate(gltf.get("animations", [])):
        samplers = anim.get("samplers", [])
        label = f"animations[{ai}]" + (f" ({anim['name']!r})" if anim.get("name") else "")
        channels, targets, problems = [], {}, []
        fixed: dict[int, np.ndarray] = {}
        for ci, ch in enumerate(anim.get("channels", [])):
            si, target = ch.get("sampler"), ch.get("target", {})
            node, path = target.get("node"), target.get("path")
            problem = None
            if not isinstance(si, int) or not 0 <= si < len(samplers):
                problem = f"sampler {si!r} does not exist"
            elif node is not None and path in (*TRS_PATHS, "weights"):
                morphs = _morph_count(gltf, nodes[node])
                if (node, path) in targets:
                    problem = f"same target as channel {targets[(node, path)]}"
                elif path == "weights" and not morphs:
                    problem = f"animates morph weights of nodes[{node}], whose mesh has no morph targets"
                elif path in TRS_PATHS and "matrix" in nodes[node]:
                    trs = _matrix_to_trs(nodes[node]["matrix"])
                    if trs is None:
                        problem = f"nodes[{node}] has a matrix that is not translation, rotation and scale"
                    else:
                        del nodes[node]["matrix"]
                        nodes[node].update(trs)
                        doc.warn(f"nodes[{node}]: matrix written as translation, rotation and scale (it is "
                                 f"animated)")
                if problem is None:
                    problem = _sampler_problem(doc, samplers[si], path, morphs, fixed)
            if problem:
                problems.append(f"channel {ci} ({'nodes[' + str(node) + '] ' if node is not None else ''}"
                                f"{path}): {problem}")
            else:
                channels.append(ch)
                if node is not None:
                    targets[(node, path)] = ci
        for index, values in fixed.items():
            doc.accessors[index] = doc.accessors[index].copy_with(values, normalized=False)
        if fixed:
            doc.warn(f"{label}: rotation quaternions made unit length")
        if problems:
            doc.warn(f"{label}: dropped {'; '.join(problems)}")
        if not channels:
            doc.warn(f"{label}: no playable channel left; animation dropped")
            continue
        used = sorted({ch["sampler"] for ch in channels})
        mapping = {old: new for new, old in enumerate(used)}
        for ch in channels:
            ch["sampler"] = mapping[ch["sampler"]]
        anim["samplers"] = [samplers[i] for i in used]
        anim["channels"] = channels
        kept_animations.append(anim)
    if "animations" in gltf:
        gltf["animations"] = kept_animations
