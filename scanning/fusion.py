"""TSDF fusion of posed RGB-D frames into a colored, watertight mesh standing on the table.

Two methods share one voxel size, chosen from the object's size (``voxels_across`` voxels along its diagonal):

* ``"carve"`` (default): a dense TSDF over the object's region, built in the object frame, where voxels that no
  camera ever saw in front of a surface count as *inside*, and everything below a cut just above the table
  counts as *outside*. Marching cubes on that closed volume gives a watertight mesh by construction; the cut's
  rim is then lowered onto the table so the object keeps its full height.
* ``"scalable"``: Open3D's ``ScalableTSDFVolume`` (hashed blocks, the reference path), with the same voxel size,
  truncation and region crop. It leaves the unseen bottom open; it is kept for differential tests and for
  scenes without a clear object.

Measured here (bunny, 36 views 640x480, Kinect-like noise, given poses, unloaded machine): carve gives F@1 %
0.999 on the visible surface and a watertight mesh in about 2 s; a single dense pass over the whole grid (no
coarse level) took 7.4 s. Scalable takes about 1 s but leaves the bottom open (recall 0.89 on the whole truth).
Open3D 0.20's ScalableTSDFVolume returns empty meshes, hence the 0.19 pin.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from scanning.errors import ReconstructionError
from scanning.frames import Frame, Intrinsics
from scanning.mesh import Mesh
from scanning.parallel import WORKERS, map_threads, thread_safe
from scanning.region import ObjectRegion

logger = logging.getLogger(__name__)

Method = Literal["carve", "scalable"]


@dataclass(frozen=True, slots=True)
class FusionOptions:
    """TSDF fusion settings: voxels across the object, truncation in voxels, margin, method, voxel cap."""
    voxels_across: int = 200
    trunc_voxels: float = 4.0
    margin: float = 0.08
    method: Method = "carve"
    max_voxels: int = 12_000_000


DEFAULTS = FusionOptions()
COARSE = 4


def voxel_size(region: ObjectRegion, options: FusionOptions = DEFAULTS) -> float:
    """Return the TSDF voxel edge in meters for an object region (its diagonal / ``voxels_across``)."""
    return region.size / options.voxels_across


def fuse(
    frames: Sequence[Frame],
    intr: Intrinsics,
    region: ObjectRegion,
    options: FusionOptions = DEFAULTS,
    progress: Callable[[int], object] | None = None,
) -> Mesh:
    """Integrate every posed frame; the mesh is in the object frame (z up, table at z = 0, meters)."""
    if any(f.pose is None for f in frames):
        raise ReconstructionError("every frame needs a pose before fusion")
    if options.method == "scalable":
        return _fuse_scalable(frames, intr, region, options, progress)
    return _fuse_carve(frames, intr, region, options, progress)


def _grid(region: ObjectRegion, voxel: float, options: FusionOptions) -> tuple[np.ndarray, tuple[int, int, int]]:
    pad = options.margin * region.size + 2 * options.trunc_voxels * voxel
    lo = region.lo - pad
    hi = region.hi + pad
    if region.has_table:
        lo[2] = -2 * voxel
    shape = tuple(int(np.ceil(s)) + 1 for s in (hi - lo) / voxel)
    return lo, shape  # type: ignore[return-value]


def cut_height(region: ObjectRegion, voxel: float) -> float:
    """Height above the table below which the volume counts as outside (clear of the table's noise band)."""
    return max(1.5 * voxel, 4.0 * region.noise)


@dataclass(slots=True)
class _Volume:
    tsdf: np.ndarray
    weight: np.ndarray
    behind: np.ndarray
    csum: np.ndarray | None
    cw: np.ndarray | None

    def signed(self) -> np.ndarray:
        """TSDF where seen; -1 where only ever seen behind a surface (inside), +1 where never seen at all."""
        out = self.tsdf.copy()
        unseen = self.weight == 0
        out[unseen] = np.where(self.behind[unseen] > 0, -1.0, 1.0)
        return out


def _integrate(
    pts: np.ndarray,
    frames: Sequence[Frame],
    intr: Intrinsics,
    to_world: np.ndarray,
    trunc: float,
    colors: bool,
    progress: Callable[[int], object] | None,
) -> _Volume:
    """Integrate every frame into the voxels at ``pts`` (n, 3) float32 (object frame)."""
    n = len(pts)
    vol = _Volume(
        np.zeros(n, np.float32),
        np.zeros(n, np.float32),
        np.zeros(n, np.uint16),
        np.zeros((n, 3), np.float32) if colors else None,
        np.zeros(n, np.float32) if colors else None,
    )
    h, w = intr.height, intr.width
    px, py, pz = (np.ascontiguousarray(pts[:, k]) for k in range(3))
    kmat = intr.matrix().astype(np.float32)
    # scratch arrays reused by every frame (one pass per operation, no fancy indexing over all voxels)
    z, u, v, sdf = (np.empty(n, np.float32) for _ in range(4))
    pix = np.empty(n, np.int32)
    ok = np.empty(n, bool)
    tmp = np.empty(n, bool)
    for f in frames:
        assert f.pose is not None
        # K @ (world -> camera) @ (object -> world): pixel * depth = rows 0, 1; depth = row 2
        m = kmat @ (np.linalg.inv(f.pose) @ to_world)[:3].astype(np.float32)
        _affine(px, py, pz, m[2], z)
        _affine(px, py, pz, m[0], u)
        _affine(px, py, pz, m[1], v)
        with np.errstate(divide="ignore", invalid="ignore"):
            np.divide(u, z, out=u)
            np.divide(v, z, out=v)
        # in the image (rounded to the nearest pixel) and in front of the camera; the rest reads pixel h * w,
        # a padding pixel with no depth
        np.greater(z, 1e-3, out=ok)
        ok &= np.greater_equal(u, -0.5, out=tmp)
        ok &= np.less(u, w - 0.5, out=tmp)
        ok &= np.greater_equal(v, -0.5, out=tmp)
        ok &= np.less(v, h - 0.5, out=tmp)
        np.logical_not(ok, out=tmp)
        np.copyto(u, 0.0, where=tmp)
        np.copyto(v, float(h), where=tmp)  # pixel h * w: the padding pixel
        u += 0.5
        v += 0.5
        np.floor(v, out=v)
        np.floor(u, out=u)
        np.copyto(pix, v, casting="unsafe")
        pix *= w
        pix += u.astype(np.int32)
        depth = np.append(f.depth.ravel(), np.float32(0))
        d = np.take(depth, pix)
        np.subtract(d, z, out=sdf)
        measured = d > 0
        hidden = measured & (sdf <= -trunc)
        vol.behind += hidden
        upd = measured & ~hidden
        # running mean: tsdf += (value - tsdf) / new weight, where updated
        vol.weight += upd
        inc = np.minimum(np.divide(sdf, trunc, out=d), 1.0, out=d)
        inc -= vol.tsdf
        inc *= upd
        inc /= np.maximum(vol.weight, 1.0)
        vol.tsdf += inc
        if vol.csum is not None and vol.cw is not None:
            ni = np.nonzero(upd & (np.abs(sdf) < trunc))[0]
            vol.csum[ni] += f.color.reshape(-1, 3)[pix[ni]].astype(np.float32)
            vol.cw[ni] += 1
        if progress is not None:
            progress(1)
    return vol


def _affine(px: np.ndarray, py: np.ndarray, pz: np.ndarray, row: np.ndarray, out: np.ndarray) -> None:
    """out = row[0] * px + row[1] * py + row[2] * pz + row[3], in place (float32)."""
    np.multiply(px, row[0], out=out)
    tmp = py * row[1]
    out += tmp
    np.multiply(pz, row[2], out=tmp)
    out += tmp
    out += row[3]


def _integrate_parts(
    pts: np.ndarray,
    frames: Sequence[Frame],
    intr: Intrinsics,
    to_world: np.ndarray,
    trunc: float,
    colors: bool,
    progress: Callable[[int], object] | None,
    parts: int = WORKERS,
) -> _Volume:
    """:func:`_integrate` on ``parts`` contiguous groups of frames in threads (numpy releases the GIL), merged.

    Each voxel's TSDF is the plain mean of its observations and the other fields are sums, so the merge gives
    the serial result up to float rounding; the split is fixed, so the result does not depend on threads.
    """
    groups = [g for g in np.array_split(np.arange(len(frames)), parts) if len(g)]
    if len(groups) < 2 or len(pts) < 100_000:
        return _integrate(pts, frames, intr, to_world, trunc, colors, progress)
    tick = thread_safe(progress)
    vols = map_threads(
        lambda g: _integrate(pts, [frames[i] for i in g], intr, to_world, trunc, colors, tick), groups, parts
    )
    weight = np.sum([v.weight for v in vols], axis=0)
    tsdf = np.sum([v.tsdf * v.weight for v in vols], axis=0) / np.maximum(weight, 1.0)
    behind = np.sum([v.behind for v in vols], axis=0, dtype=np.uint32)
    out = _Volume(tsdf.astype(np.float32), weight, np.minimum(behind, 65535).astype(np.uint16), None, None)
    if colors:
        out.csum = np.sum([v.csum for v in vols], axis=0)
        out.cw = np.sum([v.cw for v in vols], axis=0)
    return out


def _grid_points(lo: np.ndarray, voxel: float, shape: tuple[int, int, int]) -> np.ndarray:
    axes = [(lo[k] + voxel * np.arange(shape[k])).astype(np.float32) for k in range(3)]
    gx, gy, gz = np.meshgrid(*axes, indexing="ij")
    return np.stack([gx.ravel(), gy.ravel(), gz.ravel()], 1)


def _fuse_carve(
    frames: Sequence[Frame],
    intr: Intrinsics,
    region: ObjectRegion,
    options: FusionOptions,
    progress: Callable[[int], object] | None,
) -> Mesh:
    # Coarse-to-fine: a pass at COARSE x the voxel size classifies space; only coarse cells near the surface
    # get fine voxels (about 1/8 of the grid for the bunny: 7 s -> 1.5 s for 36 frames 640x480).
    from scipy.ndimage import binary_dilation

    voxel = voxel_size(region, options)
    trunc = options.trunc_voxels * voxel
    lo, shape = _grid(region, voxel, options)
    shape = tuple(-(-s // COARSE) * COARSE for s in shape)  # type: ignore[assignment]
    no_floor = not region.has_table and _all_above(frames, region)
    if no_floor and object_only(frames):
        frames = [replace(f, depth=_see_through(f.depth)) for f in frames]
    n = int(np.prod(shape))
    if n > options.max_voxels:
        raise ReconstructionError(f"fusion grid of {n} voxels exceeds the limit of {options.max_voxels}")
    cshape = tuple(s // COARSE for s in shape)
    cvox = voxel * COARSE
    clo = lo + 0.5 * (cvox - voxel)
    coarse = _integrate_parts(
        _grid_points(clo, cvox, cshape),
        frames,
        intr,
        region.to_world,  # type: ignore[arg-type]
        max(trunc, 2.0 * cvox),
        False,
        None,
    )
    csigned = coarse.signed().reshape(cshape)
    band = binary_dilation(np.abs(csigned) < 1.0, iterations=1)
    # fine voxel (i, j, k) belongs to coarse cell (i // C, j // C, k // C)
    fine_band = band.repeat(COARSE, 0).repeat(COARSE, 1).repeat(COARSE, 2).ravel()
    sign = np.sign(csigned).repeat(COARSE, 0).repeat(COARSE, 1).repeat(COARSE, 2).ravel().astype(np.float32)
    sign[sign == 0] = 1.0
    sel = np.nonzero(fine_band)[0]
    all_pts = _grid_points(lo, voxel, shape)  # type: ignore[arg-type]
    fine = _integrate_parts(all_pts[sel], frames, intr, region.to_world, trunc, True, progress)
    del all_pts
    values = sign
    values[sel] = fine.signed()
    csum = np.zeros((n, 3), np.float32)
    cw = np.zeros(n, np.float32)
    assert fine.csum is not None and fine.cw is not None
    csum[sel] = fine.csum
    cw[sel] = fine.cw
    vol = values.reshape(shape)
    if region.has_table:
        k = int(np.floor((cut_height(region, voxel) - lo[2]) / voxel)) + 1
        vol[:, :, :k] = 1.0
    elif no_floor:
        # No table (the background cropped away, as in a turntable capture's object-only frames) and no camera
        # looks from below: what lies under the lowest seen point was never seen, only shadowed by the object;
        # carving keeps it as inside, a skirt down to the grid's bottom (a box 27 cm tall came out 31 cm with
        # twice its volume). Cut there, as at a table.
        vol[:, :, : int(np.floor((region.lo[2] - lo[2]) / voxel)) + 1] = 1.0
    vol = np.pad(vol, 1, constant_values=1.0)
    if vol.min() >= 0:
        raise ReconstructionError("fusion found no surface: the frames do not see a common object")
    from skimage.measure import marching_cubes

    verts, faces, _, _ = marching_cubes(
        vol, 0.0, spacing=(voxel, voxel, voxel), gradient_direction="ascent", allow_degenerate=False
    )
    verts = verts + (lo - voxel)
    colors = _sample_colors(verts, lo, voxel, shape, csum, cw)  # type: ignore[arg-type]
    faces = faces.astype(np.int64)
    if region.has_table:
        low = verts[:, 2] < cut_height(region, voxel) + 0.5 * voxel
        verts[low, 2] = 0.0
    if _signed_volume(verts, faces) < 0:
        faces = faces[:, ::-1].copy()
    return Mesh(verts.astype(np.float64), faces, colors, voxel)


OBJECT_ONLY = 0.5  # frames whose median share of pixels with depth is below this hold the object alone
SILHOUETTE_MARGIN = 0.05  # pixels without depth this far (times the image width) from any with depth: nothing


def object_only(frames: Sequence[Frame]) -> bool:
    """Whether the frames hold the object alone (the background cropped or masked away): most pixels have no
    depth (measured: 12-17 % have depth in the Washington cereal box's frames put back into 640 x 480, about
    20 % in the synthetic turntable box; 85-100 % in captures of a scene)."""
    picks = np.linspace(0, len(frames) - 1, min(8, len(frames))).round().astype(int)
    return float(np.median([np.mean(frames[i].depth > 0) for i in picks])) < OBJECT_ONLY


def _see_through(depth: np.ndarray) -> np.ndarray:
    """Depth where pixels well outside the object's silhouette see through to nothing (a far depth), so that
    carving clears the space they look through: without a background nothing else ever does, and the shadow of
    the object (space behind it from some camera) stayed inside, a skirt around its foot."""
    from scipy.ndimage import binary_dilation

    margin = max(2, round(SILHOUETTE_MARGIN * depth.shape[1]))
    outside = ~binary_dilation(depth > 0, iterations=margin)
    return np.where(outside, np.float32(1e4), depth).astype(np.float32)


def _all_above(frames: Sequence[Frame], region: ObjectRegion) -> bool:
    """Whether every camera is above the region's bottom (object frame, z up)."""
    heights = [(region.to_object @ f.pose)[2, 3] for f in frames if f.pose is not None]
    return bool(heights) and min(heights) > region.lo[2]


def _sample_colors(
    verts: np.ndarray, lo: np.ndarray, voxel: float, shape: tuple[int, int, int], csum: np.ndarray, cw: np.ndarray
) -> np.ndarray:
    """Weighted trilinear average of the voxel colors around each vertex; (v, 3) float64 0..1."""
    g = (verts - lo) / voxel
    base = np.floor(g).astype(np.int64)
    frac = g - base
    acc = np.zeros((len(verts), 3))
    wsum = np.zeros(len(verts))
    for dx in (0, 1):
        for dy in (0, 1):
            for dz in (0, 1):
                ix = np.clip(base + np.array([dx, dy, dz]), 0, np.array(shape) - 1)
                flat = (ix[:, 0] * shape[1] + ix[:, 1]) * shape[2] + ix[:, 2]
                tri = (
                    np.where(dx, frac[:, 0], 1 - frac[:, 0])
                    * np.where(dy, frac[:, 1], 1 - frac[:, 1])
                    * np.where(dz, frac[:, 2], 1 - frac[:, 2])
                )
                acc += tri[:, None] * csum[flat]
                wsum += tri * cw[flat]
    out = np.full((len(verts), 3), 0.5)
    ok = wsum > 1e-6
    out[ok] = acc[ok] / wsum[ok, None] / 255.0
    if ok.any() and not ok.all():
        out[~ok] = np.median(out[ok], axis=0)
    return np.clip(out, 0.0, 1.0)


def _signed_volume(v: np.ndarray, f: np.ndarray) -> float:
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    return float(np.sum(np.einsum("ij,ij->i", a, np.cross(b, c))) / 6.0)


def region_mask(depth: np.ndarray, pose: np.ndarray, intr: Intrinsics, region: ObjectRegion, pad: float) -> np.ndarray:
    """(h, w) bool: pixels whose point lies inside the region's box grown by ``pad`` meters."""
    from scanning.region import backproject

    pts, pix = backproject(depth, intr)
    m = region.to_object @ pose
    local = pts @ m[:3, :3].T + m[:3, 3]
    inside = np.all((local >= region.lo - pad) & (local <= region.hi + pad), axis=1)
    mask = np.zeros(depth.size, bool)
    mask[pix[inside]] = True
    return mask.reshape(depth.shape)


def _fuse_scalable(
    frames: Sequence[Frame],
    intr: Intrinsics,
    region: ObjectRegion,
    options: FusionOptions,
    progress: Callable[[int], object] | None,
) -> Mesh:
    import open3d as o3d

    voxel = voxel_size(region, options)
    trunc = options.trunc_voxels * voxel
    pad = options.margin * region.size
    volume = o3d.pipelines.integration.ScalableTSDFVolume(
        voxel_length=voxel, sdf_trunc=trunc, color_type=o3d.pipelines.integration.TSDFVolumeColorType.RGB8
    )
    o3d_intr = intr.to_open3d()
    for f in frames:
        assert f.pose is not None
        depth = np.where(region_mask(f.depth, f.pose, intr, region, pad), f.depth, 0.0).astype(np.float32)
        rgbd = o3d.geometry.RGBDImage.create_from_color_and_depth(
            o3d.geometry.Image(f.color),
            o3d.geometry.Image(depth),
            depth_scale=1.0,
            depth_trunc=1e3,
            convert_rgb_to_intensity=False,
        )
        volume.integrate(rgbd, o3d_intr, np.linalg.inv(f.pose))
        if progress is not None:
            progress(1)
    mesh = volume.extract_triangle_mesh()
    verts = np.asarray(mesh.vertices)
    if len(verts) == 0:
        raise ReconstructionError("fusion found no surface: the frames do not see a common object")
    verts = verts @ region.to_object[:3, :3].T + region.to_object[:3, 3]
    faces = np.asarray(mesh.triangles).astype(np.int64)
    colors = np.asarray(mesh.vertex_colors) if mesh.has_vertex_colors() else np.full(verts.shape, 0.5)
    if region.has_table:
        keep_v = verts[:, 2] >= cut_height(region, voxel)
        keep_f = keep_v[faces].all(axis=1)
        faces = faces[keep_f]
    return Mesh(verts, faces, colors, voxel).compact()
