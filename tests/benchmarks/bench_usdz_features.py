"""What a published USDZ keeps of a glTF: skins, animation, variants (markdown table).

Each model goes through what ``upload`` does for LOD 0 (``optimize_for_publish`` with no LODs: animation
resampled and quantized, geometry quantized) and then ``write_usdz``, once with every variant in a
``materialVariant`` variant set and once per variant. Reported: the source's skins, clips, key count and
variants; the USDZ's joints, clips on its timeline, time range, time samples, blend shapes and their weight
samples, variant set and per-variant packages; the largest distance between the skinned points UsdSkel
computes and the glTF's own skinning of the same optimized document, at rest and at the middle of the clip (as
a fraction of the bounding-box diagonal); UsdValidation errors; the warnings (what the USDZ cannot carry).

Usage::

    .venv/bin/python tests/benchmarks/bench_usdz_features.py /work/heldout/usdz [--out FILE.md]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from assets_pipeline.io.formats import read  # noqa: E402
from assets_pipeline.io.usdz import variant_names, write_usdz  # noqa: E402
from assets_pipeline.io.usdz_skel import parents, timeline, world_matrices  # noqa: E402
from assets_pipeline.publish import PublishOptions, optimize_for_publish  # noqa: E402
from assets_pipeline.scene import node_instances  # noqa: E402


def gltf_skinned(doc: Any, tl: Any, at: float | None) -> list[np.ndarray]:
    """Skinned points of every skinned primitive as glTF defines them, at rest (``at`` None) or at ``at`` s."""
    up = parents(doc)
    sub = None
    if at is not None and tl is not None:
        sub = type(tl)(tl.animation, np.array([at]), {n: m[[int(np.argmin(np.abs(tl.times - at)))]]
                                                      for n, m in tl.local.items()})
    cache: dict[int, np.ndarray] = {}
    out = []
    for node, mesh, _world, posable in node_instances(doc):
        skin_index = doc.gltf["nodes"][node].get("skin")
        if skin_index is None or not posable:
            continue
        skin = doc.gltf["skins"][skin_index]
        ibm = doc.accessors[skin["inverseBindMatrices"]].as_float().astype(float).reshape(-1, 4, 4)
        joints = np.array([world_matrices(doc, sub, j, up, cache)[0] for j in skin["joints"]]) @ ibm.transpose(0, 2, 1)
        for prim in doc.gltf["meshes"][mesh]["primitives"]:
            a = prim["attributes"]
            if "JOINTS_0" not in a:
                continue
            p = doc.accessors[a["POSITION"]].as_float().astype(float)
            ji = doc.accessors[a["JOINTS_0"]].array.astype(int)
            w = doc.accessors[a["WEIGHTS_0"]].as_float().astype(float)
            w = w / np.maximum(w.sum(axis=1, keepdims=True), 1e-12)
            pts = np.zeros_like(p)
            for c in range(ji.shape[1]):
                m = joints[ji[:, c]]
                pts += w[:, c:c + 1] * (np.einsum("nij,nj->ni", m[:, :3, :3], p) + m[:, :3, 3])
            out.append(pts)
    return out


def usd_skinned(stage: Any, code: float | None) -> list[np.ndarray]:
    """Skinned points of every skinned mesh as UsdSkel computes them (rest pose when ``code`` is None)."""
    from pxr import Usd, UsdGeom, UsdSkel

    out = []
    for prim in stage.Traverse():
        if not prim.IsA(UsdSkel.Root) or prim.GetName().endswith("_morph"):  # a morphed mesh's one-joint skeleton
            continue
        cache = UsdSkel.Cache()
        root = UsdSkel.Root(prim)
        cache.Populate(root, Usd.TraverseInstanceProxies())
        for binding in cache.ComputeSkelBindings(root, Usd.TraverseInstanceProxies()):
            query = cache.GetSkelQuery(binding.GetSkeleton())
            time = Usd.TimeCode.Default() if code is None else Usd.TimeCode(code)
            if code is None:
                rest = query.ComputeJointSkelTransforms(time, True)
                bind = binding.GetSkeleton().GetBindTransformsAttr().Get()
                xforms = [b.GetInverse() * r for b, r in zip(bind, rest, strict=True)]
            else:
                xforms = query.ComputeSkinningTransforms(time)
            for target in binding.GetSkinningTargets():
                points = UsdGeom.Mesh(target.GetPrim()).GetPointsAttr().Get()
                target.ComputeSkinnedPoints(xforms, points, time)
                out.append(np.array(points, np.float64))
    return out


def counts(values: list[int]) -> str:
    """``24``, ``18/5``, or ``84 x 10`` for many equal counts; ``-`` for none."""
    if len(values) > 3 and len(set(values)) == 1:
        return f"{len(values)} x {values[0]}"
    return "/".join(str(v) for v in values) or "-"


def deviation(a: list[np.ndarray], b: list[np.ndarray], diag: float) -> str:
    if not a:
        return "-"
    if len(a) != len(b):
        return f"{len(b)}/{len(a)} meshes"
    return f"{max(float(np.abs(x - y).max()) for x, y in zip(a, b, strict=True)) / diag:.1e}"


def measure(path: Path, work: Path) -> dict[str, Any]:
    from pxr import Usd, UsdSkel, UsdValidation

    src = read(path)
    g = src.gltf
    keys = max((src.accessors[s["input"]].count for a in g.get("animations", [])[:1] for s in a["samplers"]),
               default=0)
    row: dict[str, Any] = {
        "model": path.name, "skins": counts([len(s["joints"]) for s in g.get("skins", [])]),
        "clips": len(g.get("animations", [])), "keys": keys, "variants": len(variant_names(src))}
    doc = optimize_for_publish(src, "0" * 64, PublishOptions(lods=())).lods[0].doc
    out = work / f"{path.stem}.usdz"
    t0 = time.perf_counter()
    write_usdz(doc, out)
    row["write_s"] = time.perf_counter() - t0
    per_variant = 0
    for i in range(len(variant_names(doc))):
        write_usdz(doc, work / f"{path.stem}.v{i}.usdz", variant=i)
        per_variant += 1
    stage = Usd.Stage.Open(str(out))
    validators = list(UsdValidation.ValidationRegistry().GetOrLoadAllValidators())
    row["errors"] = sum(e.GetType() == UsdValidation.ValidationErrorType.Error
                        for e in UsdValidation.ValidationContext(validators).Validate(stage))
    skels = [UsdSkel.Skeleton(p) for p in stage.Traverse() if p.IsA(UsdSkel.Skeleton)]
    anims = [UsdSkel.Animation(p) for p in stage.Traverse() if p.IsA(UsdSkel.Animation)]
    row["joints"] = counts([len(s.GetJointsAttr().Get()) for s in skels
                            if not s.GetPrim().GetParent().GetName().endswith("_morph")])
    row["shapes"] = sum(p.IsA(UsdSkel.BlendShape) for p in stage.Traverse())
    row["weight_samples"] = max((a.GetBlendShapeWeightsAttr().GetNumTimeSamples() for a in anims), default=0)
    tcps = stage.GetTimeCodesPerSecond()
    row["range_s"] = (f"{stage.GetStartTimeCode() / tcps:.2f}-{stage.GetEndTimeCode() / tcps:.2f}"
                      if stage.HasAuthoredTimeCodeRange() else "-")
    clips = dict(stage.GetRootLayer().customLayerData.get("phygitalAnimationClips", {}))
    row["usdz_clips"] = len(clips) or int(stage.HasAuthoredTimeCodeRange())
    row["samples"] = max((a.GetRotationsAttr().GetNumTimeSamples() for a in anims), default=0)
    vset = stage.GetDefaultPrim().GetVariantSet("materialVariant")
    row["variant_set"] = ", ".join(vset.GetVariantNames()) or "-"
    row["per_variant"] = per_variant
    lo = np.min([p.min(axis=0) for p in gltf_skinned(doc, None, None)] or [np.zeros(3)], axis=0)
    hi = np.max([p.max(axis=0) for p in gltf_skinned(doc, None, None)] or [np.ones(3)], axis=0)
    diag = float(np.linalg.norm(hi - lo)) or 1.0
    row["rest_dev"] = deviation(gltf_skinned(doc, None, None), usd_skinned(stage, None), diag)
    tl = timeline(doc)
    if tl is not None and anims:
        mid = float(tl.times[len(tl.times) // 2])
        row["posed_dev"] = deviation(gltf_skinned(doc, tl, mid), usd_skinned(stage, mid * tcps), diag)
    else:
        row["posed_dev"] = "-"
    row["bytes"] = out.stat().st_size
    row["warnings"] = "; ".join(w.removeprefix("USDZ: ") for w in doc.warnings if w.startswith("USDZ:")) or "-"
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path, help="folder of .glb/.gltf models (searched recursively)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    models = sorted(p for p in args.folder.rglob("*") if p.suffix in (".glb", ".gltf"))
    cols = ["model", "skins", "clips", "keys", "variants", "joints", "usdz_clips", "range_s", "samples", "shapes",
            "weight_samples", "variant_set",
            "per_variant", "rest_dev", "posed_dev", "errors", "bytes", "write_s", "warnings"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    with tempfile.TemporaryDirectory() as tmp:
        for path in models:
            row = measure(path, Path(tmp))
            lines.append("| " + " | ".join(f"{row[c]:.2f}" if isinstance(row[c], float) else str(row[c])
                                           for c in cols) + " |")
            print(lines[-1], flush=True)
    load = Path("/proc/loadavg").read_text().split()[:3]
    text = "\n".join(lines) + f"\n\nload average: {' '.join(load)}\n"
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
