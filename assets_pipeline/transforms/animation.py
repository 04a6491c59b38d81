"""Make animations small within a stated error: fewer keys, quantized values, meshopt filters.

For every sampler that animates a node's translation, rotation, scale or morph weights:

1. the curve is evaluated exactly as glTF defines it (STEP holds, LINEAR interpolates, with spherical
   interpolation on the shortest path for rotations, CUBICSPLINE is a Hermite spline; before the first
   key and after the last one the end values hold);
2. values are quantized through the meshopt filter the GLB writer will store them with: rotations to
   normalized int16 quaternions (QUATERNION filter), translations, scales and weights to floats with a
   shortened mantissa (EXPONENTIAL filter). The document holds the decoded values, so what is measured
   here is what a viewer reads back;
3. keys that the interpolation between their neighbours reproduces within the error bound are dropped
   (LINEAR; a CUBICSPLINE curve is first sampled densely into a LINEAR one, STEP keeps STEP and drops a key
   that repeats its predecessor). A constant curve keeps one key. Every animation keeps its start and end
   time, so clip durations do not change.
4. a channel that holds its node at the node's own rest value (within the bound, measured over the whole
   curve) is dropped when nothing else animates that node's property: the node rests there anyway, so it
   plays the same in any viewer (three.js, for one, blends towards the rest value wherever a clip has no
   channel). The channel that keeps its animation's time range is never dropped;
5. key times of LINEAR and CUBICSPLINE curves are stored through the EXPONENTIAL filter too, with the fewest
   mantissa bits that move no key by more than ``time_error`` seconds, keep the keys in order and keep
   every curve reading them within its bound (measured again with the moved keys). STEP keys keep their
   exact times (a jump a moment early is a jump's worth of error).

Error bounds: rotations in radians (angle between the original and the new rotation), translations as a
fraction of the model's bounding-box diagonal in world units (a node's bound in its parent's units is
divided by the parent's rest-pose world scale), scales relative, morph weights absolute. The error is then
measured on the written values against the original curve at every original key, between keys and on a
fine grid, and reported (:class:`~assets_pipeline.report.AnimationReport`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..document import Accessor, AssetDocument
from ..report import AnimationReport
from .base import Transform

NAME = "animation"
PATHS = ("translation", "rotation", "scale", "weights")
CUBIC_STEPS = 16
"""A CUBICSPLINE interval becomes this many LINEAR segments before keys are dropped."""
MEASURE_STEPS = 8
"""Points measured inside every interval between original keys (more inside cubic intervals)."""


@dataclass(frozen=True, slots=True)
class AnimationOptions:
    """Error bounds of animation compression (see the module docstring for their units)."""
    rotation_error: float = 1e-3
    """Radians (0.057 degrees)."""
    translation_error: float = 1e-4
    """Fraction of the model's bounding-box diagonal."""
    scale_error: float = 1e-4
    """Relative to the scale's magnitude."""
    weight_error: float = 1e-3
    """Absolute, on morph target weights."""
    quantization_share: float = 0.25
    """Part of each bound spent on quantization; the rest goes to dropping keys."""
    time_error: float = 1e-4
    """Seconds a key time may move when key times are quantized (clip lengths change by at most this)."""


DEFAULTS = AnimationOptions()


# --- curve evaluation ---------------------------------------------------------------------------------
def _normalize(q: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(q, axis=-1, keepdims=True)
    return q / np.where(n > 0, n, 1.0)


def _slerp(a: np.ndarray, b: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Spherical interpolation on the shortest path, row by row; u : (n,)."""
    d = np.sum(a * b, axis=1)
    b = np.where(d[:, None] < 0, -b, b)
    d = np.abs(d)
    theta = np.arccos(np.clip(d, -1.0, 1.0))
    s = np.sin(theta)
    small = s < 1e-6
    safe = np.where(small, 1.0, s)
    wa = np.where(small, 1.0 - u, np.sin((1.0 - u) * theta) / safe)
    wb = np.where(small, u, np.sin(u * theta) / safe)
    return _normalize(wa[:, None] * a + wb[:, None] * b)


def evaluate(interpolation: str, times: np.ndarray, values: np.ndarray, t: np.ndarray, rotation: bool) -> np.ndarray:
    """Values of a glTF sampler at times ``t``.

    values : (keys, k) for STEP and LINEAR, (keys, 3, k) (in-tangent, value, out-tangent) for CUBICSPLINE.
    """
    times = np.asarray(times, np.float64)
    t = np.asarray(t, np.float64)
    v = np.asarray(values, np.float64)
    n = len(times)
    points = v[:, 1] if interpolation == "CUBICSPLINE" else v
    if n == 1:
        return np.repeat(points[:1], len(t), axis=0)
    if interpolation == "STEP":
        return points[np.clip(np.searchsorted(times, t, side="right") - 1, 0, n - 1)]
    i = np.clip(np.searchsorted(times, t, side="right") - 1, 0, n - 2)
    dt = times[i + 1] - times[i]
    u = np.clip((t - times[i]) / np.where(dt > 0, dt, 1.0), 0.0, 1.0)
    if interpolation == "CUBICSPLINE":
        u2, u3 = u * u, u * u * u
        h00, h10 = 2 * u3 - 3 * u2 + 1, u3 - 2 * u2 + u
        h01, h11 = -2 * u3 + 3 * u2, u3 - u2
        out = (h00[:, None] * v[i, 1] + (h10 * dt)[:, None] * v[i, 2] + h01[:, None] * v[i + 1, 1]
               + (h11 * dt)[:, None] * v[i + 1, 0])
        return _normalize(out) if rotation else out
    if rotation:
        return _slerp(points[i], points[i + 1], u)
    return points[i] + u[:, None] * (points[i + 1] - points[i])


def _errors(path: str, a: np.ndarray, b: np.ndarray, a_normalized: np.ndarray | None = None) -> np.ndarray:
    """Per-row error between two value sets, in the unit of the path's bound (before scaling); rotations may come
    with ``_normalize(a)`` computed already."""
    if path == "rotation":
        d = np.abs(np.sum((_normalize(a) if a_normalized is None else a_normalized) * _normalize(b), axis=1))
        return 2.0 * np.arccos(np.clip(d, 0.0, 1.0))
    if path == "translation":
        return np.linalg.norm(a - b, axis=1)  # type: ignore[no-any-return]
    if path == "scale":
        return np.max(np.abs(a - b) / np.maximum(np.abs(a), 1e-6), axis=1)  # type: ignore[no-any-return]
    return np.max(np.abs(a - b), axis=1)  # type: ignore[no-any-return]


# --- quantization -------------------------------------------------------------------------------------
def _quantizer(path: str, bound: float, values: np.ndarray) -> tuple[str, int]:
    """(filter, bits): the fewest bits whose rounding of ``values`` stays within ``bound`` (measured)."""
    filt, top = ("QUATERNION", 16) if path == "rotation" else ("EXPONENTIAL", 24)
    for bits in range(8, top + 1):
        stored, _ = _quantize(path, values, filt, bits)
        if not values.size or float(_errors(path, values, _as_float(path, stored)).max()) <= bound:
            return filt, bits
    return filt, top


def _quantize(path: str, values: np.ndarray, filt: str, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """(decoded values as stored, filtered rows) for (keys, k) values."""
    from ..codecs import meshopt

    if filt == "QUATERNION":
        rows = meshopt.encode_filter_quat(_normalize(values).astype(np.float32), bits)
        return meshopt.decode_filter(rows, filt), rows
    rows = meshopt.encode_filter_exp(values.astype(np.float32), bits)
    return meshopt.decode_filter(rows, filt), rows


def _as_float(path: str, stored: np.ndarray) -> np.ndarray:
    if stored.dtype == np.int16:
        return np.maximum(stored.astype(np.float64) / 32767.0, -1.0)
    return stored.astype(np.float64)


def _add_rows(x: np.ndarray) -> np.ndarray:
    """Row sums of a 2-d array: what ``np.sum(x, axis=1)`` computes, without its dispatch."""
    return np.add.reduce(x, 1)  # type: ignore[no-any-return]


# --- key reduction ------------------------------------------------------------------------------------
def _span_error(path: str, times: np.ndarray, ref: np.ndarray, refn: np.ndarray, q: np.ndarray, i: int,
                j: int) -> float:
    """Largest error of interpolating the quantized keys i and j against the reference keys between them."""
    u = (times[i + 1: j] - times[i]) / (times[j] - times[i])
    a, b = q[i], q[j]
    if path != "rotation":
        approx = a[None] + u[:, None] * (b - a)[None]
        return float(_errors(path, approx, ref[i + 1: j]).max())
    # slerp between two keys, written out for speed (this runs once per candidate)
    d = float(np.dot(a, b))
    if d < 0:
        b, d = -b, -d
    theta = math.acos(min(1.0, d))
    st = math.sin(theta)
    if st < 1e-6:
        approx = a[None] * (1.0 - u)[:, None] + b[None] * u[:, None]
    else:
        approx = (np.sin((1.0 - u) * theta)[:, None] * a[None] + np.sin(u * theta)[:, None] * b[None]) / st
    # |cos| of the angle to the reference: np.sum and np.linalg.norm's own arithmetic, without their
    # dispatch (add.reduce along the rows; the norm is the root of the summed squares)
    dots = np.abs(_add_rows(approx * refn[i + 1: j])) / np.sqrt(_add_rows(approx * approx))
    return 2.0 * math.acos(min(1.0, float(dots.min())))


def _skip_one_errors(path: str, times: np.ndarray, ref: np.ndarray, refn: np.ndarray, q: np.ndarray) -> list[float]:
    """For every key i, ``_span_error(..., i, i + 2)`` (most of ``_reduce``'s checks on dense curves, where
    most keys stay) in one batch.

    Bit for bit the same arithmetic as the one-pair check: dot products through ``np.matmul`` of 1x4 by 4x1
    (the BLAS dot that ``np.dot`` calls), ``math.acos``/``math.sin`` on scalars (NumPy's vector ``arccos``
    rounds differently), element-wise NumPy arithmetic and ``sin`` otherwise (the same per element at any
    length), row sums through ``np.add.reduce``.
    """
    if len(times) < 3:
        return []
    a, b = q[:-2], q[2:]
    u = (times[1:-1] - times[:-2]) / (times[2:] - times[:-2])
    if path != "rotation":
        approx = a + u[:, None] * (b - a)
        return _errors(path, approx, ref[1:-1]).tolist()  # type: ignore[no-any-return]
    d = np.matmul(a[:, None, :], b[:, :, None])[:, 0, 0]
    b = np.where((d < 0)[:, None], -b, b)
    theta = np.array([math.acos(min(1.0, x)) for x in np.abs(d).tolist()])
    st = np.array([math.sin(x) for x in theta.tolist()])
    small = st < 1e-6
    lerp = a * (1.0 - u)[:, None] + b * u[:, None]
    arc = (np.sin((1.0 - u) * theta)[:, None] * a + np.sin(u * theta)[:, None] * b) / np.where(small, 1.0, st)[:, None]
    approx = np.where(small[:, None], lerp, arc)
    dots = np.abs(_add_rows(approx * refn[1:-1])) / np.sqrt(_add_rows(approx * approx))
    return [2.0 * math.acos(min(1.0, x)) for x in dots.tolist()]


def _reduce(path: str, interpolation: str, times: np.ndarray, ref: np.ndarray, q: np.ndarray,
            bound: float, keep_ends: bool = False) -> np.ndarray:
    """Indices of the keys to keep so that interpolating the kept quantized keys ``q`` stays within
    ``bound`` of ``ref`` at every key time."""
    n = len(times)
    if n <= 1:
        return np.arange(n)
    if interpolation == "STEP":
        keep = [0]
        for k in range(1, n):
            if _errors(path, q[keep[-1]][None], ref[k][None])[0] > bound or (keep_ends and k == n - 1):
                keep.append(k)
        return np.array(keep)
    if float(_errors(path, np.repeat(q[:1], n, axis=0), ref).max()) <= bound:
        return np.array([0, n - 1] if keep_ends else [0])  # constant
    if interpolation == "CONSTANT":  # only a constant curve loses keys
        return np.arange(n)
    rotation = path == "rotation"
    refn = _normalize(ref) if rotation else ref
    known: dict[int, bool] = {}  # fits(i, j) of the current i: the search below asks for some ends twice (its
    # last check is often the end the gallop or the bisection just refused)
    skip_one = [e <= bound for e in _skip_one_errors(path, times, ref, refn, q)]  # fits(i, i + 2), every i

    def fits(i: int, j: int) -> bool:
        if j == i + 1:
            return True
        if j == i + 2:
            return skip_one[i]
        if j in known:
            return known[j]
        ok = _span_error(path, times, ref, refn, q, i, j) <= bound
        known[j] = ok
        return ok

    keep = [0]
    i = 0
    while i < n - 1:
        known.clear()
        step, j = 1, i + 1
        while j + step < n and fits(i, j + step):  # gallop, then bisect
            j += step
            step *= 2
        lo, hi = j, min(n - 1, j + step)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if fits(i, mid):
                lo = mid
            else:
                hi = mid
        j = hi if hi > lo and fits(i, hi) else lo
        keep.append(j)
        i = j
    return np.array(keep)


# --- scene helpers ------------------------------------------------------------------------------------
def _parent_scales(doc: AssetDocument) -> dict[int, float]:
    """node -> largest world scale of its parent at rest (1 for roots)."""
    from ..scene import local_matrix

    nodes = doc.gltf.get("nodes", [])
    parent: dict[int, int] = {}
    for p, node in enumerate(nodes):
        for c in node.get("children", []):
            parent[c] = p
    world: dict[int, np.ndarray] = {}

    def world_of(n: int, depth: int = 0) -> np.ndarray:
        if n not in world:
            m = local_matrix(nodes[n])
            world[n] = world_of(parent[n], depth + 1) @ m if n in parent and depth < 1000 else m
        return world[n]

    out: dict[int, float] = {}
    for n in range(len(nodes)):
        if n in parent:
            out[n] = float(np.linalg.norm(world_of(parent[n])[:3, :3], axis=0).max()) or 1.0
        else:
            out[n] = 1.0
    return out


def _model_size(doc: AssetDocument) -> float:
    from ..scene import bounds

    lo, hi = bounds(doc)
    return float(np.linalg.norm(hi - lo)) or 1.0


# --- the transform ------------------------------------------------------------------------------------
@dataclass(slots=True)
class _Track:
    anim: dict[str, Any]
    sampler: dict[str, Any]
    path: str
    node: int
    input_users: int = 1
    """Samplers reading the same input accessor (their time stream is shared)."""
    channels: int = 1
    """Channels playing this sampler."""


def _tracks(doc: AssetDocument) -> list[_Track]:
    """Samplers used by exactly one kind of node channel (translation, rotation, scale or weights)."""
    tracks = []
    for anim in doc.gltf.get("animations", []):
        users: dict[int, set[tuple[str, int]]] = {}
        for ch in anim.get("channels", []):
            target = ch.get("target", {})
            if "node" in target and target.get("path") in PATHS and not target.get("extensions"):
                users.setdefault(ch.get("sampler", -1), set()).add((target["path"], target["node"]))
            else:
                users.setdefault(ch.get("sampler", -1), set()).add(("", -1))
        for si, s in enumerate(anim.get("samplers", [])):
            u = users.get(si, set())
            paths = {p for p, _ in u}
            if len(paths) == 1 and "" not in paths:
                played = sum(1 for ch in anim.get("channels", []) if ch.get("sampler") == si)
                tracks.append(_Track(anim, s, next(iter(paths)), min(n for _, n in u), channels=played))
    count: dict[int, int] = {}
    for tr in tracks:
        count[tr.sampler["input"]] = count.get(tr.sampler["input"], 0) + 1
    for tr in tracks:
        tr.input_users = count[tr.sampler["input"]]
    return tracks


def compress_animation(options: AnimationOptions = DEFAULTS,
                       on_report: Callable[[AnimationReport], None] | None = None) -> Transform:
    """Return the transform that drops redundant keys and quantizes animation within ``options``' bounds."""

    def _apply(doc: AssetDocument) -> None:
        tracks = _tracks(doc)
        if not tracks:
            return
        report = AnimationReport(rotation_bound_rad=options.rotation_error,
                                 translation_bound=options.translation_error,
                                 scale_bound=options.scale_error, weight_bound=options.weight_error)
        size = _model_size(doc)
        parent_scale = _parent_scales(doc)
        inputs: dict[bytes, int] = {}
        ends = _end_keepers(doc, tracks)
        targets = _animated_targets(doc)
        results: list[_Result] = []
        for k, tr in enumerate(tracks):
            rest = None
            if k not in ends and tr.channels == 1 and targets is not None and targets[(tr.node, tr.path)] == 1:
                rest = _rest_value(doc, tr.node, tr.path)
            result = _compress_track(doc, tr, options, size, parent_scale.get(tr.node, 1.0), inputs, report,
                                     k in ends, rest)
            if result is not None:
                results.append(result)
        _quantize_times(doc, [r for r in results if not r.dropped], set(inputs.values()), options.time_error)
        for r in results:
            _record(report, r.track.path, r.error, r.parent_scale, size)
        dropped = {id(r.track.sampler) for r in results if r.dropped}
        if dropped:
            _drop_samplers(doc, dropped)
        if on_report is not None:
            on_report(report)

    return Transform(NAME, _apply)


@dataclass(slots=True)
class _Result:
    """A compressed (or dropped) track, with what it takes to measure it again."""
    track: _Track
    error: float
    parent_scale: float
    dropped: bool = False
    curve: tuple[str, np.ndarray, np.ndarray] | None = None
    """The original curve: interpolation, key times, values."""
    stored: tuple[str, np.ndarray] | None = None
    """The stored curve: interpolation, values as read back (its key times are its sampler's input)."""
    bound: float = 0.0
    samples: list[tuple[np.ndarray, ...]] | None = None
    """The original curve where it is measured, and its values there (``_measure``'s cache)."""


def _quantize_times(doc: AssetDocument, results: list[_Result], ours: set[int], time_error: float) -> None:
    """Key times through the EXPONENTIAL filter: per input accessor this transform wrote, the fewest bits that
    move no key more than ``time_error`` seconds, keep keys increasing and every curve reading the accessor
    within its bound; the accessor is left exact when no such bits exist (or STEP curves read it)."""
    from ..codecs import meshopt

    groups: dict[int, list[_Result]] = {}
    for r in results:
        groups.setdefault(r.track.sampler["input"], []).append(r)
    for acc_index, group in groups.items():
        acc = doc.accessors[acc_index]
        t = acc.array.reshape(-1)
        if acc_index not in ours or len(t) < 4 or acc.filtered is not None or any(
                r.curve is None or r.stored is None or "STEP" in (r.curve[0], r.stored[0]) for r in group):
            continue
        plain = _encoded_size(t)
        for bits in range(12, 24, 2):
            rows = meshopt.encode_filter_exp(t[:, None], bits, meshopt.EXP_SHARED_COMPONENT)
            moved = meshopt.decode_filter(rows, "EXPONENTIAL").reshape(-1)
            if (np.abs(moved.astype(np.float64) - t).max() > time_error or np.any(np.diff(moved) <= 0)
                    or _encoded_size(rows) >= plain):
                continue
            errors: list[float] = []
            times64 = moved.astype(np.float64)
            for r in group:  # the first curve past its bound rejects these bits: the rest are not measured
                assert r.curve is not None and r.stored is not None
                errors.append(_measure(r.track.path, r.curve[0], r.curve[1], r.curve[2], r.stored[0],
                                       times64, r.stored[1], r.track.path == "rotation", r.samples))
                if errors[-1] > r.bound:
                    break
            else:
                doc.accessors[acc_index] = Accessor(moved.copy(), "SCALAR", filtered=("EXPONENTIAL", rows))
                for e, r in zip(errors, group, strict=True):
                    r.error = e
                break


def _animated_targets(doc: AssetDocument) -> dict[tuple[int, str], int] | None:
    """How many channels, over all animations, animate each (node, path); None when some channel targets
    something else (KHR_animation_pointer), which could animate a node behind the paths' back."""
    count: dict[tuple[int, str], int] = {}
    for anim in doc.gltf.get("animations", []):
        for ch in anim.get("channels", []):
            target = ch.get("target", {})
            if "node" not in target or target.get("extensions") or target.get("path") not in PATHS:
                return None
            key = (target["node"], target["path"])
            count[key] = count.get(key, 0) + 1
    return count


def _rest_value(doc: AssetDocument, node: int, path: str) -> np.ndarray | None:
    """The value ``path`` has on ``node`` when no animation plays (None when it cannot be told)."""
    nodes = doc.gltf.get("nodes", [])
    if not 0 <= node < len(nodes) or "matrix" in nodes[node]:
        return None
    n = nodes[node]
    if path == "weights":
        meshes = doc.gltf.get("meshes", [])
        mesh = meshes[n["mesh"]] if isinstance(n.get("mesh"), int) and n["mesh"] < len(meshes) else None
        if mesh is None:
            return None
        targets = max((len(p.get("targets", [])) for p in mesh.get("primitives", [])), default=0)
        weights = n.get("weights", mesh.get("weights", [0.0] * targets))
        return np.array(weights, np.float64) if len(weights) == targets else None
    default = {"translation": [0.0, 0.0, 0.0], "rotation": [0.0, 0.0, 0.0, 1.0], "scale": [1.0, 1.0, 1.0]}[path]
    return np.array(n.get(path, default), np.float64)


def _drop_samplers(doc: AssetDocument, samplers: set[int]) -> None:
    """Remove the samplers (by identity) and the channels playing them; accessors are left to prune."""
    for anim in doc.gltf.get("animations", []):
        old = anim.get("samplers", [])
        keep = [i for i, s in enumerate(old) if id(s) not in samplers]
        if len(keep) == len(old):
            continue
        new_index = {o: n for n, o in enumerate(keep)}
        anim["channels"] = [dict(ch, sampler=new_index[ch["sampler"]]) for ch in anim.get("channels", [])
                            if ch.get("sampler") in new_index]
        anim["samplers"] = [old[i] for i in keep]


def _bound(path: str, options: AnimationOptions, size: float, parent_scale: float) -> float:
    if path == "rotation":
        return options.rotation_error
    if path == "translation":
        return options.translation_error * size / max(parent_scale, 1e-12)
    if path == "scale":
        return options.scale_error
    return options.weight_error


def _compress_track(doc: AssetDocument, tr: _Track, options: AnimationOptions, size: float, parent_scale: float,
                    inputs: dict[bytes, int], report: AnimationReport, keep_ends: bool = False,
                    rest: np.ndarray | None = None) -> _Result | None:
    """Replace the track's keys with fewer, quantized ones within the bound, or mark it dropped when the curve
    stays within the bound of ``rest`` (the node's value without it); None when the curve is left as it was."""
    s = tr.sampler
    interp = s.get("interpolation", "LINEAR")
    tin, tout = doc.accessors[s["input"]], doc.accessors[s["output"]]
    times = tin.as_float().astype(np.float64).reshape(-1)
    n = len(times)
    raw = tout.as_float().astype(np.float64)
    width = raw.size // max(1, n * (3 if interp == "CUBICSPLINE" else 1))
    if n == 0 or width == 0 or raw.size != n * width * (3 if interp == "CUBICSPLINE" else 1) or \
            np.any(np.diff(times) <= 0) or interp not in ("STEP", "LINEAR", "CUBICSPLINE"):
        return None  # not a curve this transform understands: left as it is
    rotation = tr.path == "rotation"
    values = raw.reshape(n, 3, width) if interp == "CUBICSPLINE" else raw.reshape(n, width)
    report.channels += 1
    report.keys_in += n
    report.bytes_in += tin.array.nbytes + tout.array.nbytes
    bound = _bound(tr.path, options, size, parent_scale)
    samples: list[tuple[np.ndarray, ...]] = []  # the original curve's values where candidates are measured
    if rest is not None and rest.shape == (width,):
        err = _measure(tr.path, interp, times, values, "STEP", times[:1], rest[None], rotation, samples)
        if err <= bound:  # the node rests there anyway: the channel moves nothing
            report.channels_dropped += 1
            return _Result(tr, err, parent_scale, dropped=True)
    # the reference curve as LINEAR/STEP keys: a cubic one sampled densely
    if interp == "CUBICSPLINE" and n > 1:
        ref_t, ref = _densify(tr.path, times, values, rotation, bound * 0.25)
        new_interp = "LINEAR"
    else:
        ref_t = times
        ref = values[:, 1] if interp == "CUBICSPLINE" else values
        new_interp = "LINEAR" if interp == "CUBICSPLINE" else interp
    if rotation:
        ref = _normalize(ref)
        # the same rotations with continuous signs: smaller deltas to compress
        flip = np.cumprod(np.where(np.sum(ref[1:] * ref[:-1], axis=1) < 0, -1.0, 1.0))
        ref[1:] *= flip[:, None]
    # candidates: (estimated bytes, key times, values to store, filtered rows, filter, interpolation, error when
    # measured already: the same curve measured again gives the same number)
    candidates: list[tuple[float, np.ndarray, np.ndarray, np.ndarray, str, str, float | None]] = []
    if new_interp == "LINEAR" and interp == "LINEAR":  # every key (the input stays shared), or constant
        filt, bits = _quantizer(tr.path, bound, ref)
        stored, rows = _quantize(tr.path, ref, filt, bits)
        keep = _reduce(tr.path, "CONSTANT", ref_t, ref, _as_float(tr.path, stored), bound, keep_ends)
        if len(keep) < 3:
            stored, rows = _quantize(tr.path, ref[keep], filt, bits)
        cost = _encoded_size(rows) + (_encoded_size(ref_t[keep]) if len(keep) < 3 else
                                      _encoded_size(ref_t) / max(1, tr.input_users))
        candidates.append((cost, ref_t[keep], stored, rows, filt, "LINEAR", None))
    if interp == "CUBICSPLINE":  # the spline itself, its values and tangents as short-mantissa floats
        flat = values.reshape(n * 3, width)
        for bits in range(10, 25, 2):
            stored, rows = _quantize("cubic", flat, "EXPONENTIAL", bits)
            err = _measure(tr.path, interp, times, values, interp, times,
                           stored.astype(np.float64).reshape(n, 3, width), rotation, samples)
            if err <= bound:
                candidates.append((_encoded_size(rows) + _encoded_size(times), times, stored, rows, "EXPONENTIAL",
                                   interp, err))
                break
    share = 1.0 - options.quantization_share
    filt, bits = _quantizer(tr.path, bound * options.quantization_share, ref)
    q_all = _as_float(tr.path, _quantize(tr.path, ref, filt, bits)[0])
    for attempt in range(3):
        keep = _reduce(tr.path, new_interp, ref_t, ref, q_all, bound * share * (0.5 ** attempt), keep_ends)
        stored, rows = _quantize(tr.path, ref[keep], filt, bits)
        err = _measure(tr.path, interp, times, values, new_interp, ref_t[keep], _as_float(tr.path, stored), rotation,
                       samples)
        if err <= bound:
            candidates.append((_encoded_size(rows) + _encoded_size(ref_t[keep]), ref_t[keep], stored, rows, filt,
                               new_interp, err))
            break
    for _cost, kt, stored, rows, filt, out_interp, measured in sorted(candidates, key=lambda c: c[0]):
        kept = stored.astype(np.float64) if filt == "EXPONENTIAL" else _as_float(tr.path, stored)
        if out_interp == "CUBICSPLINE":
            kept = kept.reshape(len(kt), 3, width)
        err = measured if measured is not None else _measure(tr.path, interp, times, values, out_interp, kt, kept,
                                                             rotation, samples)
        if err <= bound:
            _store(doc, tr, kt, stored, rows, filt, out_interp, inputs, report)
            return _Result(tr, err, parent_scale, curve=(interp, times, values), stored=(out_interp, kept),
                           bound=bound, samples=samples)
    report.keys_out += n  # the bound cannot be met through these filters: the curve stays as it was
    report.bytes_out += tin.array.nbytes + tout.array.nbytes
    return None


def _densify(path: str, times: np.ndarray, values: np.ndarray, rotation: bool,
             bound: float) -> tuple[np.ndarray, np.ndarray]:
    """A cubic curve as LINEAR keys: every interval split into as many steps as keep the chords within
    ``bound`` of the curve (checked at each step's middle), from CUBIC_STEPS up to 16 times that."""
    steps = CUBIC_STEPS
    while True:
        sub = np.linspace(0.0, 1.0, steps, endpoint=False)
        t = np.append((times[:-1, None] + sub[None] * np.diff(times)[:, None]).reshape(-1), times[-1])
        v = evaluate("CUBICSPLINE", times, values, t, rotation)
        mid = (t[:-1] + t[1:]) / 2
        chord = evaluate("LINEAR", t, v, mid, rotation)
        if steps >= 16 * CUBIC_STEPS or float(_errors(path, chord, evaluate("CUBICSPLINE", times, values, mid,
                                                                              rotation)).max()) <= bound:
            return t, v
        steps *= 2


def _encoded_size(rows: np.ndarray) -> int:
    """Bytes of ``rows`` through meshopt's vertex codec (what the writer will spend on them, about)."""
    from ..codecs import meshopt

    r = np.ascontiguousarray(rows)
    if r.dtype == np.float64:
        r = r.astype(np.float32)
    data = r.reshape(len(r), -1).view(np.uint8)
    return len(meshopt.encode_vertex_buffer(data)) if len(data) else 0


def _store(doc: AssetDocument, tr: _Track, kt: np.ndarray, stored: np.ndarray, rows: np.ndarray, filt: str,
           interp: str, inputs: dict[bytes, int], report: AnimationReport) -> None:
    s = tr.sampler
    tout = doc.accessors[s["output"]]
    kt32 = kt.astype(np.float32)
    key = kt32.tobytes()
    if key not in inputs:
        doc.accessors.append(Accessor(kt32, "SCALAR"))
        inputs[key] = len(doc.accessors) - 1
        report.bytes_out += kt32.nbytes
    s["input"] = inputs[key]
    out = stored if tr.path != "weights" else stored.reshape(-1)
    doc.accessors.append(Accessor(np.ascontiguousarray(out), tout.type, stored.dtype == np.int16, tout.name,
                                  filtered=(filt, rows if tr.path != "weights" else rows.reshape(-1, 1))))
    s["output"] = len(doc.accessors) - 1
    if interp == "LINEAR":
        s.pop("interpolation", None)
    else:
        s["interpolation"] = interp
    report.keys_out += len(kt)
    report.bytes_out += out.nbytes


def _record(report: AnimationReport, path: str, err: float, parent_scale: float, size: float) -> None:
    if path == "rotation":
        report.rotation_error_rad = max(report.rotation_error_rad, err)
    elif path == "translation":
        report.translation_error = max(report.translation_error, err * parent_scale / size)
    elif path == "scale":
        report.scale_error = max(report.scale_error, err)
    else:
        report.weight_error = max(report.weight_error, err)


def _measure(path: str, interp: str, times: np.ndarray, values: np.ndarray, new_interp: str, new_times: np.ndarray,
             new_values: np.ndarray, rotation: bool, samples: list[tuple[np.ndarray, ...]] | None = None) -> float:
    """Largest error of the new curve against the original one: at keys, inside intervals, past the ends, and at
    the new curve's keys.

    The original curve's values at its own measuring times are the same for every candidate: ``samples`` (one
    list per original curve, empty at first) keeps them. Every time is evaluated on its own (element-wise
    arithmetic, row sums of four), so splitting the times changes no bit of the largest error.
    """
    if samples:
        t, a, an = samples[0]
    else:
        if len(times) > 1:
            steps = MEASURE_STEPS * (4 if interp == "CUBICSPLINE" else 1)
            sub = np.linspace(0.0, 1.0, steps, endpoint=False)
            t = (times[:-1, None] + sub[None] * np.diff(times)[:, None]).reshape(-1)
            t = np.concatenate([t, times, [times[0] - 1.0, times[-1] + 1.0]])
        else:
            t = np.concatenate([times, [times[0] - 1.0, times[0] + 1.0]])
        if interp == "STEP":  # just before each key the previous value still holds
            t = np.concatenate([t, times - 1e-6 * max(1.0, float(np.abs(times).max()))])
        a = evaluate(interp, times, values, t, rotation)
        an = _normalize(a) if path == "rotation" else a
        if samples is not None:
            samples.append((t, a, an))
    b = evaluate(new_interp, new_times, new_values, t, rotation)
    at_keys = _errors(path, evaluate(interp, times, values, new_times, rotation),
                      evaluate(new_interp, new_times, new_values, new_times, rotation))
    return float(np.concatenate([_errors(path, a, b, an), at_keys]).max())


def _end_keepers(doc: AssetDocument, tracks: list[_Track]) -> set[int]:
    """Per animation, the track that keeps its first and last keys even when constant, so that the clip
    keeps its time range (players take a clip's duration from its keys): of those spanning the longest time,
    one whose values change (it keeps its keys anyway), else the first."""
    best: dict[int, tuple[float, bool, int]] = {}
    for k, tr in enumerate(tracks):
        t = doc.accessors[tr.sampler["input"]].array
        if t.size:
            span = float(t.max()) - float(t.min())
            out = doc.accessors[tr.sampler["output"]].array
            varies = bool(np.any(out != out[:1]))
            if id(tr.anim) not in best or (span, varies) > best[id(tr.anim)][:2]:
                best[id(tr.anim)] = (span, varies, k)
    return {k for _, _, k in best.values()}


__all__ = ["DEFAULTS", "AnimationOptions", "compress_animation", "evaluate"]
