"""Simplify triangle primitives with meshoptimizer to a triangle ratio, within a measured error bound.

meshoptimizer keeps attribute seams (vertices split by UV or normal) intact and only moves border
vertices along the border; ``lock_border`` pins them entirely (for meshes that must stay joined).
The simplifier only writes new indices into the same vertices, so morph targets stay valid; their
position deltas are passed as attributes so the simplifier keeps what the morphs move.

The error bound is relative to the whole model's diagonal (not each primitive's). With a ``measure``,
it is checked on the result in world space (first instance, skinned meshes at rest), and the
simplifier's error target is lowered until the measured symmetric Hausdorff distance is within it
(the union of primitives is then within it too: the Hausdorff distance between unions is at most the
largest one between parts). The simplifier's greedy choices depend on the triangle order, so the
primitives that decide the model's error are also simplified in a few shuffled orders and the one
with the lowest measured error is kept. The simplifier is passed in, so this module needs no native code.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..document import TRIANGLES, AssetDocument
from ..scene import bounds, mesh_instances, placed_primitives
from .base import Transform

NAME = "simplify"
LOCK_BORDER, ERROR_ABSOLUTE, PERMISSIVE = 1, 4, 32
Simplifier = Callable[..., tuple[np.ndarray, float]]
"""simplifier(indices, positions, target index count, error, flags, attributes, weights) -> (indices, error)."""
BatchSimplifier = Callable[[list[tuple]], list[tuple[np.ndarray, float]]]  # type: ignore[type-arg]
"""batch([(indices, positions, target, error, flags, attributes, weights), ...]) -> [(indices, error), ...]."""
Part = tuple[tuple[int, int], np.ndarray, np.ndarray, np.ndarray]
"""(key naming the primitive, world positions, reference triangles, simplified triangles)."""
Measure = Callable[..., list[float]]
"""measure(parts, stop=inf) -> each part's symmetric Hausdorff distance to the union of the others' reference (world
units; the keys let a reference be built once and reused). With ``stop``, measuring may end as soon as one part's
distance reaches it (the result is exact only when every distance is below ``stop``)."""
MARGIN = 0.9
"""The measured bound is this fraction of ``error``: quantizing afterwards and the final measurement's other
samples add a little."""
STANDS_OUT = 2.0
"""Rebalance only when the largest measured part's distance is this many times the next one's (BrainStem, ToyCar and
SheenChair: 1.1-1.3x, where rebalancing gained nothing at the same count and cost two measurements; the lamp whose
hardware the simplifier underestimates 10x: 3.7x)."""
GRID = 100
"""Ratios bisected over (k / GRID) for a primitive whose results stay above the measured bound."""
MAX_MORPH_ATTRIBUTES = 10
"""meshoptimizer takes at most 32 attribute floats per vertex: the 10 morph targets that move most (3 each)."""


@dataclass(frozen=True, slots=True)
class SimplifyOptions:
    """Simplification target ratio, error bound, border locking and how many candidate orders are tried."""
    ratio: float = 0.5
    """Target fraction of the reference's triangles to keep."""
    error: float = 0.01
    """Largest error allowed, relative to the model's bounding-box diagonal (0.01 = 1 %); a measured bound
    when a measure is given."""
    lock_border: bool = False
    permissive: bool = False
    """Simplify the primitives whose seams (vertices split by normal or UV) stop the simplifier short of the ratio
    across those seams (meshoptimizer 1.x's Permissive mode; a faceted mesh cannot be reduced otherwise)."""
    candidates: int = 3
    """With a measure: simplify the primitives whose error is within ``near`` of the model's largest in this many
    triangle orders and keep the result with the lowest error (on stanford-bunny at 50 % the symmetric
    Hausdorff error varied between 0.053 % and 0.064 % of the diagonal over six orders)."""
    near: float = 0.7
    top: int = 1
    """At most this many primitives (those with the largest errors) are tried in other orders."""
    tries: int = 5
    rebalance: int = 2
    """With a measure: rounds of measuring, weighting each primitive's error by how far its measurement is from the
    others', and fitting the triangle budget again (the best round is kept; none when no part stands out)."""
    """How many times the simplifier's error target is lowered when the measured error is above the bound."""


DEFAULTS = SimplifyOptions()


@dataclass(slots=True)
class _Job:
    """One primitive being simplified: its data, target and the best result so far."""
    key: tuple[int, int]
    prim: dict[str, object]
    name: str
    """Which primitive, for warnings: ``meshes[i].primitives[j]`` with the mesh's and material's names."""
    pos: np.ndarray
    world: np.ndarray
    """Positions in world space, for measuring."""
    base: np.ndarray
    """The reference's triangles (what the ratio counts and the error is measured against)."""
    current: np.ndarray
    """The indices simplified from (the reference's, or the previous LOD's)."""
    target: int
    bound: float
    """The error bound in world units."""
    scale: float
    flags: int
    attrs: np.ndarray | None
    weights: np.ndarray | None
    out: np.ndarray | None = None
    goal: float = 0.0
    """The simplifier's error target that gave ``out``."""
    distance: float = 0.0
    rel: float = 1.0
    reached: float = 0.0
    """The error (world units) the simplifier reported for the last result."""
    free: int = 0
    """Indices left when simplified to the target without a bound."""
    """How far the measured error exceeded the simplifier's estimate (the goal is divided by it)."""


def simplify(options: SimplifyOptions, simplifier: Simplifier, measure: Measure | None = None,
             reference: AssetDocument | None = None, batch: BatchSimplifier | None = None,
             prepare: Callable[[list[Part]], None] | None = None) -> Transform:
    """Return the transform that simplifies the triangle primitives with ``simplifier`` (or ``batch``, many at once)
    to ``options.ratio`` of the triangles of the same primitives in ``reference`` (default: the document itself),
    measuring the error against it with ``measure`` when given; warns when the model cannot be reduced that far.
    ``prepare(parts)``, when given, is told the parts (with their current triangles) the first measurement will
    take, before the simplifier runs (to build what measuring them needs meanwhile)."""
    ahead: list[tuple[list[tuple], Future[list[tuple[np.ndarray, float]]]]] = []  # type: ignore[type-arg]
    """Simplifications started before they were asked for (their calls, their answers to come)."""

    def calls_of(jobs: list[tuple[_Job, np.ndarray, float]], targets: bool | list[int]) -> list[tuple]:  # type: ignore[type-arg]
        counts = targets if isinstance(targets, list) else [j.target if targets else 0 for j, _, _ in jobs]
        return [(order, j.pos, count, goal / j.scale, j.flags, j.attrs, j.weights)
                for (j, order, goal), count in zip(jobs, counts, strict=True)]

    def many(jobs: list[tuple[_Job, np.ndarray, float]], targets: bool | list[int] = False) -> list[np.ndarray]:
        calls = calls_of(jobs, targets)
        known = next((k for k, (early, _) in enumerate(ahead) if _same_calls(early, calls)), None)
        if known is not None:
            done = ahead.pop(known)[1].result()
        else:
            done = batch(calls) if batch is not None else [simplifier(*c) for c in calls]
        for (job, _, _), (_, err) in zip(jobs, done, strict=True):
            job.reached = float(err) * job.scale
        return [out.astype(np.uint32) for out, _ in done]

    def _apply(doc: AssetDocument) -> None:
        try:
            _simplify(doc)
        finally:
            while ahead:  # nothing started here goes on after the step (an answer not asked for is dropped)
                with contextlib.suppress(Exception):
                    ahead.pop()[1].result()

    def _simplify(doc: AssetDocument) -> None:
        jobs = _jobs(doc, reference or doc, options)
        if not jobs:
            return
        if measure is not None and prepare is not None:
            prepare([(j.key, j.world, j.base, j.current.reshape(-1, 3)) for j in jobs])
        budget = sum(j.target for j in jobs)
        bound = jobs[0].bound
        # each primitive at its own target without a bound: whether its seams stop it (then permissive), and
        # the error it reaches there (the range the model's error level lies in)
        free = many([(j, j.current, 1e30 * bound) for j in jobs], targets=True)
        if options.permissive:
            stuck = [j for j, o in zip(jobs, free, strict=True) if len(o) > j.target * 1.1 + 3]
            for job in stuck:
                job.flags |= PERMISSIVE
            for job, out in zip(stuck, many([(j, j.current, 1e30 * bound) for j in stuck], targets=True),
                                strict=True):
                free[jobs.index(job)] = out
        for job, out in zip(jobs, free, strict=True):
            job.free = len(out)
            job.out, job.goal = out, job.reached
        if len(jobs) > 1 or jobs[0].reached > bound:
            _fit(jobs, many, budget, bound)
            if measure is not None and options.rebalance and len(jobs) > 1:
                _rebalance(jobs, measure, many, budget, bound, options.rebalance)
        if measure is not None:
            if batch is not None and len(jobs) == 1 and options.candidates > 1 and jobs[0].out is not jobs[0].current:
                # one primitive: the other triangle orders are simplified (in the simplifier's processes) while its
                # result is measured; used if the measurement changes nothing they depend on (the bound holds)
                calls = calls_of(_order_calls(jobs, options), True)
                ahead.append((calls, _in_thread(batch, calls)))
            _bound_measured(jobs, measure, many, options)
            _best_orders(jobs, measure, many, options, prepare)
        for job in jobs:
            assert job.out is not None
            job.prim["indices"] = doc.add_accessor(job.out.astype(np.uint32))
        kept = sum(len(j.out) for j in jobs if j.out is not None)
        if kept > budget * 1.05 + 3:
            doc.warn(_stuck_warning(jobs, options, budget))

    return Transform(NAME, _apply)


Many = Callable[..., list[np.ndarray]]


def _fit(jobs: list[_Job], many: Many, budget: int, bound: float) -> None:
    """Simplify every job at one error level (each job's goal: the level over its weight ``rel``, at most the
    bound), the largest level whose results fit the triangle budget (index count): every primitive stops at the
    same weighted error, so the triangles go where they matter (a small part is not flattened to meet the ratio
    on its own). The level lies between the smallest and the largest error the jobs reach at their own targets
    (``reached``, from the last call with targets)."""
    def goals(level: float) -> list[float]:
        return [min(bound, level / j.rel) for j in jobs]

    levels = [max(j.reached * j.rel, 1e-12 * bound) for j in jobs]
    cap = bound * max(j.rel for j in jobs)
    hi, lo = min(max(levels) * 1.01, cap), min(levels) * 0.99
    outs = many([(j, j.current, g) for j, g in zip(jobs, goals(hi), strict=True)])
    if sum(len(o) for o in outs) <= budget and lo < hi:
        for _ in range(16):
            if hi / lo < 1.02:
                break
            mid = float(np.sqrt(lo * hi))
            trial = many([(j, j.current, g) for j, g in zip(jobs, goals(mid), strict=True)])
            if sum(len(o) for o in trial) <= budget:
                hi, outs = mid, trial
            else:
                lo = mid
    for job, out, goal in zip(jobs, outs, goals(hi), strict=True):
        job.out, job.goal = out, goal


def _rebalance(jobs: list[_Job], measure: Measure, many: Many, budget: int, bound: float, rounds: int) -> None:
    """meshoptimizer's error estimate can be far below the measured distance on some primitives (10x on a lamp's
    hardware): weight each primitive by how far (half-way, on a log scale), fit the budget again, and keep the
    fit with the smallest largest measured distance (the weights are not constant across levels: reweighting
    can overshoot)."""
    best = ([(j.out, j.goal, j.rel) for j in jobs], np.inf)
    for _ in range(rounds):
        dists = _measure(jobs, measure)
        if max(dists) < best[1]:
            best = ([(j.out, j.goal, j.rel) for j in jobs], max(dists))
        level = float(np.mean(dists))
        second = sorted(dists)[-2]
        if level <= 0 or max(dists) < STANDS_OUT * second:  # no part stands out: the weights would change little
            break
        for job, d in zip(jobs, dists, strict=True):
            job.rel = float(np.clip(job.rel * np.sqrt(max(d, 1e-12) / level), 0.05, 100.0))
        many([(j, j.current, 1e30 * bound) for j in jobs], targets=True)  # errors at target, weighted
        _fit(jobs, many, budget, bound)
    dists = _measure(jobs, measure)
    if max(dists) > best[1]:
        for job, (out, goal, rel) in zip(jobs, best[0], strict=True):
            job.out, job.goal, job.rel = out, goal, rel


def _measure(jobs: list[_Job], measure: Measure, outs: list[np.ndarray] | None = None,
             stop: float = np.inf) -> list[float]:
    """Each job's measured distance with its result (or ``outs``), the jobs measured together (until one reaches
    ``stop``)."""
    outs = outs if outs is not None else [j.out for j in jobs]  # type: ignore[misc]
    parts = [(j.key, j.world, j.base, o.reshape(-1, 3)) for j, o in zip(jobs, outs, strict=True)]
    return measure(parts, stop=stop) if np.isfinite(stop) else measure(parts)


def _bound_measured(jobs: list[_Job], measure: Measure, many: Many, options: SimplifyOptions) -> None:
    """Measure the results together; lower the simplifier's error target of those above the bound until they are
    within it (without permissive mode when that is not enough); then, for those still above, bisect over the
    triangle counts of the ratios ``k / GRID`` of the reference (each simplified to its count as at its own ratio;
    about log2(GRID) measurements) for the lowest within (at last keep their input). Of every result measured, the
    one with the fewest triangles within the bound is kept: the measured error does not always fall as the target
    is lowered, and a lower ratio must not keep more triangles than a higher one."""
    best: tuple[int, list[np.ndarray]] | None = None

    def measured() -> None:
        nonlocal best
        alone = len(jobs) == 1  # one part: a result above the bound need not be measured to the end
        for job, d in zip(jobs, _measure(jobs, measure, stop=jobs[0].bound if alone else np.inf), strict=True):
            job.distance = d
        size = sum(len(j.out) for j in jobs)  # type: ignore[arg-type]
        if all(j.distance <= j.bound for j in jobs) and (best is None or size < best[0]):
            best = (size, [j.out for j in jobs])  # type: ignore[misc]

    measured()
    lowered: set[int] = set()
    for attempt in range(2 * options.tries):
        over = [j for j in jobs if j.distance > j.bound]
        if not over:
            break
        if attempt == options.tries:  # collapsing across seams (permissive) may be what breaks the bound
            for j in over:
                if j.flags & PERMISSIVE:
                    j.flags &= ~PERMISSIVE
                    j.goal = j.bound
        for j in over:
            j.goal *= max(0.1, min(0.7, j.bound / j.distance))
            lowered.add(id(j))
        for j, out in zip(over, many([(j, j.current, j.goal) for j in over]), strict=True):
            j.out = out
        measured()
    if best is not None:  # the fewest within the bound so far, then the counts of the ratios above the targets
        for job, out in zip(jobs, best[1], strict=True):
            job.out = out
    kept = {id(j): j.out if j.distance <= j.bound or best is not None else j.current for j in jobs}
    # the primitives the bound held back, when the model is short of its budget
    short = sum(len(o) for o in kept.values()) > sum(j.target for j in jobs) * 1.05 + 3  # type: ignore[arg-type]
    scan = [j for j in jobs if short and id(j) in lowered and len(kept[id(j)]) > j.target]  # type: ignore[arg-type]
    # a bisection over the grid, from 0 to GRID for every target (a count below the primitive's own target counts
    # as above the bound, one at least as large as what is kept as within): the probes depend only on the results,
    # so a lower ratio, whose predicate holds wherever a higher one's does, never ends above it
    span = {id(j): [0, GRID] for j in scan}
    while True:
        tried: list[tuple[_Job, int, int]] = []
        for j in scan:
            lo, hi = span[id(j)]
            while hi - lo > 1:
                mid = (lo + hi) // 2
                count = _grid_count(j, mid)
                if count < j.target:
                    lo = mid
                elif count >= len(kept[id(j)]):  # type: ignore[arg-type]
                    hi = mid
                else:
                    tried.append((j, mid, count))
                    break
            span[id(j)] = [lo, hi]
        if not tried:
            break
        for (j, _, _), out in zip(tried, many([(j, j.current, 1e30 * j.bound) for j, _, _ in tried],
                                              targets=[c for _, _, c in tried]), strict=True):
            j.out = out
        measured()
        for j, mid, _ in tried:
            if j.distance <= j.bound:
                kept[id(j)], span[id(j)][1] = j.out, mid
            else:
                span[id(j)][0] = mid
        for j in jobs:
            j.out = kept[id(j)]
    for job in jobs:
        job.out = kept[id(job)]
    measured()
    if best is not None and any(j.distance > j.bound for j in jobs):
        for job, out in zip(jobs, best[1], strict=True):
            job.out = out
        for job, d in zip(jobs, _measure(jobs, measure), strict=True):
            job.distance = d


def _grid_count(job: _Job, k: int) -> int:
    """The index count of ``k / GRID`` of the job's reference triangles."""
    return int(len(job.base) * (k / GRID)) * 3


def _best_orders(jobs: list[_Job], measure: Measure, many: Many, options: SimplifyOptions,
                 prepare: Callable[[list[Part]], None] | None = None) -> None:
    """Simplify the primitives that decide the model's error in shuffled triangle orders and keep the order with
    the lowest error (each measured alone against its reference, which ``prepare`` is told of while the
    simplifier runs)."""
    worst = max(j.distance for j in jobs)
    if worst <= 0 or options.candidates < 2:
        return
    top = sorted((j for j in jobs if j.distance >= options.near * worst and j.out is not j.current),
                 key=lambda j: -j.distance)[:options.top]
    calls = _order_calls(top, options)
    if prepare is not None and len(jobs) > 1:
        for job in top:
            prepare([(job.key, job.world, job.base, job.out.reshape(-1, 3))])  # type: ignore[union-attr]
    candidates = many(calls, targets=len(jobs) == 1)
    alone = {id(j): j.distance if len(jobs) == 1 else _measure([j], measure)[0] for j in top}
    before = [(j.out, j.distance) for j in jobs]
    for (job, _, _), cand in zip(calls, candidates, strict=True):
        assert job.out is not None
        if len(cand) > len(job.out):  # never trade triangles for error
            continue
        d = _measure([job], measure, [cand], stop=alone[id(job)])[0]  # a worse order is left half-measured
        if d < alone[id(job)]:
            job.out, alone[id(job)] = cand, d
    if len(jobs) == 1:
        jobs[0].distance = alone.get(id(jobs[0]), jobs[0].distance)
    elif any(j.out is not out for j, (out, _) in zip(jobs, before, strict=True)):
        for job, d in zip(jobs, _measure(jobs, measure), strict=True):
            job.distance = d
        if any(j.distance > j.bound for j in jobs):  # measured alone it was better, with the others it is not
            for job, (out, d) in zip(jobs, before, strict=True):
                job.out, job.distance = out, d


def _order_calls(top: list[_Job], options: SimplifyOptions) -> list[tuple[_Job, np.ndarray, float]]:
    """The simplifications of :func:`_best_orders` for the jobs ``top``: each in ``options.candidates - 1`` shuffled
    triangle orders (the same orders for the same input), at its error target."""
    calls = []
    for job in top:
        rng = np.random.default_rng(len(job.current))  # deterministic: same input, same output
        tris = job.current.reshape(-1, 3)
        calls += [(job, tris[rng.permutation(len(tris))].reshape(-1), job.goal) for _ in range(options.candidates - 1)]
    return calls


def _same_calls(a: list[tuple], b: list[tuple]) -> bool:  # type: ignore[type-arg]
    """True when two lists of simplifier calls ask for the same: the same indices (by value), counts, targets and
    flags, on the same positions and attributes."""
    def same(x: object, y: object) -> bool:
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            return x is y or (isinstance(x, np.ndarray) and isinstance(y, np.ndarray) and np.array_equal(x, y))
        return x == y

    return len(a) == len(b) and all(len(x) == len(y) and all(same(u, w) for u, w in zip(x, y, strict=True))
                                    for x, y in zip(a, b, strict=True))


def _in_thread(fn: Callable[..., Any], *args: Any) -> Future[Any]:
    """``fn(*args)`` started in a thread of its own; its result (or exception) in the future."""
    future: Future[Any] = Future()

    def run() -> None:
        try:
            future.set_result(fn(*args))
        except BaseException as exc:  # handed to whoever asks for the result
            future.set_exception(exc)

    threading.Thread(target=run, name="simplify-ahead", daemon=True).start()
    return future


def _jobs(doc: AssetDocument, reference: AssetDocument, options: SimplifyOptions) -> list[_Job]:
    """The primitives to simplify: triangle lists with indices and positions still above their target."""
    lo, hi = bounds(reference)
    diag = float(np.linalg.norm(hi - lo)) or 1.0
    scales: dict[int, float] = {}
    for mesh, world in mesh_instances(doc):
        s = float(np.linalg.norm(world[:3, :3], 2)) or 1.0
        scales[mesh] = max(scales.get(mesh, 0.0), s)
    placed = placed_primitives(doc)
    flags = ERROR_ABSOLUTE | (LOCK_BORDER if options.lock_border else 0)
    ref_meshes = reference.gltf.get("meshes", [])
    jobs = []
    for mi, pi, prim in doc.primitives():
        attrs = prim.get("attributes", {})
        if prim.get("mode", TRIANGLES) != TRIANGLES or "indices" not in prim or "POSITION" not in attrs:
            continue
        ref_prims = ref_meshes[mi].get("primitives", []) if mi < len(ref_meshes) else []
        ref = ref_prims[pi] if pi < len(ref_prims) else prim
        if ref.get("attributes", {}).get("POSITION") != attrs["POSITION"] or "indices" not in ref:
            ref = prim  # not the same vertices: count and measure against this document's own triangles
        base = reference.accessors[ref["indices"]].array.reshape(-1) if ref is not prim else \
            doc.accessors[prim["indices"]].array.reshape(-1)
        current = doc.accessors[prim["indices"]].array.reshape(-1)
        target = max(3, int(len(base) // 3 * options.ratio) * 3)
        if target >= len(current):
            continue
        pos = doc.accessors[attrs["POSITION"]].as_float().astype(np.float32)
        scale = scales.get(mi, 1.0)
        morph, weights = _morph_attributes(doc, prim, pos)
        name = _primitive_label(doc, mi, pi)
        world = placed[mi, pi].astype(np.float32) if (mi, pi) in placed else pos * scale
        jobs.append(_Job((mi, pi), prim, name, pos, world, base.astype(np.uint32).reshape(-1, 3),
                         current.astype(np.uint32), target, options.error * diag * MARGIN, scale, flags, morph,
                         weights))
    return jobs


def _morph_attributes(doc: AssetDocument, prim: dict[str, object], pos: np.ndarray
                      ) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Position deltas of the morph targets that move most, as simplifier attributes weighted like positions."""
    targets = prim.get("targets") or []
    assert isinstance(targets, list)
    deltas = [doc.accessors[t["POSITION"]].as_float().astype(np.float32) for t in targets if "POSITION" in t]
    deltas = [d for d in deltas if len(d) == len(pos) and np.abs(d).max() > 0]
    if not deltas:
        return None, None
    deltas.sort(key=lambda d: -float(np.abs(d).max()))
    kept = deltas[:MAX_MORPH_ATTRIBUTES]
    extent = float((pos.max(axis=0) - pos.min(axis=0)).max()) or 1.0
    return np.concatenate(kept, axis=1), np.full(3 * len(kept), 1.0 / extent, np.float32)


def _primitive_label(doc: AssetDocument, mi: int, pi: int) -> str:
    """``meshes[mi].primitives[pi]``, followed by the mesh's name and the material's name when they have one."""
    names = []
    if doc.gltf["meshes"][mi].get("name"):
        names.append(f"mesh {doc.gltf['meshes'][mi]['name']!r}")
    material = doc.gltf["meshes"][mi]["primitives"][pi].get("material")
    materials = doc.gltf.get("materials", [])
    if isinstance(material, int) and 0 <= material < len(materials) and materials[material].get("name"):
        names.append(f"material {materials[material]['name']!r}")
    return f"meshes[{mi}].primitives[{pi}]" + (f" ({', '.join(names)})" if names else "")


def _stuck_warning(jobs: list[_Job], options: SimplifyOptions, budget: int) -> str:
    """One line: how far the model was reduced, whether the error bound or the topology stopped it (the results
    without a bound would have fitted, or not), and the primitives that kept the most of their triangles."""
    kept = sum(len(j.out) for j in jobs if j.out is not None) // 3
    total = sum(len(j.base) for j in jobs)
    if sum(j.free for j in jobs) <= budget * 1.05 + 3:
        why = f"the error bound ({options.error:.2%} of the diagonal, --error) stops it"
    else:
        why = "the meshes' topology (seams, borders, separate parts) stops the simplifier"
    order = sorted(jobs, key=lambda j: -(len(j.out) if j.out is not None else 0) / max(1, 3 * len(j.base)))
    names = ", ".join(f"{j.name} kept {len(j.out) // 3 if j.out is not None else 0:,} of {len(j.base):,}"
                      for j in order[:3])
    return (f"simplify: could not reduce to {options.ratio:.0%}: kept {kept:,} of {total:,} triangles "
            f"({budget // 3:,} asked); {why}; least reduced: {names}")


_STUCK = re.compile(r"simplify: could not reduce to (\S+): kept (\S+) of (\S+) triangles \((\S+) asked\); (.*)", re.S)


def merge_stuck_warnings(warnings: list[tuple[str, str]]) -> list[str]:
    """(output label, warning) pairs as lines: could-not-reduce warnings that differ only in the ratio asked
    become one naming each output, its ratio and its count asked; the rest stay as they are, in order."""
    groups: dict[tuple[str, ...], list[tuple[str, re.Match[str]]]] = {}
    order: list[str | tuple[str, ...]] = []
    for label, warning in warnings:
        m = _STUCK.fullmatch(warning)
        key = (m[2], m[3], m[5]) if m else None
        if m is None or key is None:
            order.append(warning)
            continue
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append((label, m))
    lines: list[str] = []
    for item in order:
        if isinstance(item, str):
            lines.append(item)
            continue
        group = groups[item]
        if len(group) == 1:
            lines.append(group[0][1][0])
            continue
        names, ratios, asked = (", ".join(x) for x in zip(*((lb, m[1], m[4]) for lb, m in group), strict=True))
        lines.append(f"simplify: could not reduce {names} to {ratios}: kept {item[0]} of {item[1]} triangles "
                     f"({asked} asked); {item[2]}")
    return lines
