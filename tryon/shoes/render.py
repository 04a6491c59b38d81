"""Composite shoes onto the feet of every person, under the leg.

Per foot (:meth:`ShoeRenderer.apply_people`): its 3D orientation and scale from the pose's world landmarks
(:mod:`tryon.shoes.orientation`), smoothed per person and foot in video (:mod:`tryon.shoes.tracking`); a 3D
model's view for that heading and camera height from its view sphere, turned by the foot's roll and scaled to
the foot (a product without a model: its side, front or back sprite, mirrored for a toe pointing left, never
upside down); views change with hysteresis. A shoe is only drawn where the person mask has the foot: its
heel, toe and ankle on the mask and most of the shoe over it (``MIN_ON_PERSON``), after fitting it to the mask
(shortened and shifted along the foot, ``FIT_SCALES``, ``FIT_SHIFTS``); two shoes on one spot keep the more
visible foot's. Without world landmarks (other providers) the foot's frame comes from the picture
(:mod:`tryon.shoes.feet`).

The real shoe under the new one is erased (:mod:`tryon.shoes.erase`) below the occlusion line; above it the
leg (the person mask: trouser, skin) stays in front. The line is the new shoe's collar, or the ankle when the
collar is higher (a boot), so a boot's shaft goes under the trouser instead of erasing it; a bare leg (the
face's skin colour, :func:`tryon.shoes.occlusion.bare_skin`) goes into the shaft, which is drawn over it. A
cane coming down past the collar (a thin part of the mask) and the other leg's shin when it is nearer the camera
stay in front of the shoe, neither erased nor covered; feet lower in the picture (nearer) are drawn last.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from tryon.errors import InvalidLook
from tryon.landmarks import FootLandmarks, PoseLandmarks
from tryon.look import Look, Product
from tryon.shoes.erase import erase_box, erase_real_shoe, foot_band
from tryon.shoes.feet import FootFrame, foot_below_hips, foot_frame
from tryon.shoes.occlusion import (
    above_collar,
    bare_skin,
    leg_coloured,
    leg_mask,
    real_shoe_above_collar,
    shin_in_front,
    skin_chroma,
    thin_in_front,
)
from tryon.shoes.orientation import rotation
from tryon.shoes.placement import Placement, place, place_matrix
from tryon.shoes.sprite import ShoeViews, procedural_views, side_from_image
from tryon.shoes.tracking import FeetTracker, SmoothFoot, next_sphere_view, next_sprite_view, unsmoothed

SHADOW_STRENGTH = 0.35
"""How much the contact shadow under the sole darkens the ground."""
SHOE_OVER_SHIN = 0.58
"""Shoe length over the knee-to-ankle length: 1.3 times the heel-to-foot-index length
(:data:`tryon.shoes.orientation.KEYPOINTS_OVER_SHIN`, 0.45), whose points lie a little inside the shoe's
ends; 0.65 put the toe past the person mask on the held-out walking video (shoe pixels on the person 61-65 %)."""
SHOE_LENGTH_M = (0.2, 0.34)
"""Shoe lengths are kept within this range (metres)."""
END_WIDTH = 0.38
"""Sole width over shoe length, for the front and back sprites (without a person mask)."""
END_WIDTH_RANGE = (0.3, 0.6)
"""Front and back sprites are as wide as the real shoe in the person mask, within these shares of the length
(a fixed 0.38 left the real shoe showing around a small red block on the street video's walker)."""
PERSON_THRESHOLD = 0.5
"""Segmentation probability from which a pixel belongs to the person."""
KEYPOINT_SLACK = 0.1
"""How far (fraction of the shoe's span) a foot keypoint may lie off the person mask (it is blurred at the
feet of a walking person)."""
MIN_ON_PERSON = 0.7
"""Smallest share of a shoe's pixels over the person mask (dilated a little) for it to be drawn."""
FIT_SCALES = (1.0, 0.9, 0.8, 0.7)
"""Shares of its length the shoe may be shortened to along the foot, to fit the person mask: the foot points
towards or away from the camera more than its keypoints say, or is bare (a sandal), smaller than a shoe."""
FIT_SHIFTS = (-0.2, -0.15, -0.1, -0.05, 0.0, 0.05, 0.1, 0.15, 0.2)
"""Shifts along the foot (shares of the shoe's length) tried to fit the shoe to the person mask (not those that
move it up the leg, which the mask covers too)."""
FIT_LIFTS = (0.0, 0.04, 0.08)
"""Lifts up the leg (shares of the shoe's length) tried: the sole hung below the mask's foot on the held-out
walk (the heel and foot-index keypoints lie inside the foot)."""
FIT_COST = 0.05
"""Share of shoe pixels on the mask a fit must gain per full step away from the foot's own placement (the
largest shift, or the shortest length), so that the keypoints' placement wins a tie."""
FIT_SAMPLES = 300
"""Shoe pixels sampled to score a fit."""
IMPLAUSIBLE = "above the hips, not a foot"
"""The note's words for a foot that :func:`tryon.shoes.feet.foot_below_hips` refuses (counted by the shoe bench)."""
SAME_SPOT = 0.3
DROP_VIEWS = ("front", "back")
"""Sprite views that go down onto the real shoe when the person mask goes on below their sole (:func:`_drop_to_sole`;
the foot's keypoints sat at the ankle of the corpus walker seen from behind, the red block above her white sneaker;
side views stay: going down there left more of the real shoe's top above the new one's collar)."""
SOLE_BINS = 8
"""Stretches along the foot over which the person mask's run below the shoe's sole is measured."""
SOLE_SLACK = 0.04
"""Share of the shoe's span the mask may reach below the sole (its blurred outline) before the shoe goes down."""
MAX_DROP = 0.35
"""Largest share of the shoe's span the shoe goes down onto the real shoe below it."""
DROP_KEEPS_ON = 0.02
"""The shoe goes down only if that loses at most this share of its pixels on the person mask."""
"""Two shoes whose anchors are closer than this fraction of a shoe length are on the same foot."""


@dataclass(frozen=True, slots=True)
class PlacedShoe:
    """Where one shoe went. sole_center : (2,) measured on the warped sprite; target : (2,) heel/toe midpoint."""

    side: str
    view: str
    sole_center: np.ndarray
    target: np.ndarray
    box: tuple[int, int, int, int]
    person: int = -1
    span: float = 0.0
    """Shoe length in pixels (without a 3D pose, for the front and back sprites: their width over ``END_WIDTH``)."""
    yaw: float | None = None
    """The foot's (smoothed) heading in degrees, None without world landmarks."""
    on_person: float | None = None
    """Share of the shoe's pixels (alpha-weighted) on the person mask (> 0.5), None without a mask."""
    raw_yaw: float | None = None
    """This frame's unsmoothed heading of the foot (degrees), None without world landmarks."""

    @property
    def error_px(self) -> float:
        """Return the distance in pixels between the drawn sole center and its target."""
        return float(np.linalg.norm(self.sole_center - self.target))


class ShoeRenderer:
    """Renders one shoe product; views are prepared once at construction."""

    def __init__(
        self, views: ShoeViews, product: Product | None = None, source: str = "drawn", erase: bool = True
    ) -> None:
        self.views = views
        self.product = product
        self.source = source
        """How the views were made: ``drawn``, or for a 3D model ``rendered``, ``memory`` or ``disk`` (cached)."""
        self.erase = erase
        """Fill the real shoe (the person mask under each new shoe's collar) with background first."""
        self.feet = FeetTracker()
        """Per person and foot smoothing and view state (one renderer per stream)."""

    @classmethod
    def from_look(cls, look: Look, look_dir: Path | None = None, cache_dir: Path | None = None) -> ShoeRenderer:
        """Views for the look's (first) shoe product: rendered from its 3D model (once per model and axes,
        cached in memory and in ``cache_dir``, see :mod:`tryon.shoes.cache`), else its side image (front and
        back drawn), else drawn from its shade."""
        from tryon import media

        product = look.shoes[0]

        def resolve(name: str) -> Path:
            path = Path(name)
            return path if path.is_absolute() or look_dir is None else look_dir / path

        if product.model:
            from assets_pipeline.render import MeshItem, mesh_items
            from tryon.shoes.cache import cached_sphere, cached_views
            from tryon.shoes.views import ViewSphere, front_winding, render_views

            path = resolve(product.model)
            sided = path.suffix.lower() in (".glb", ".gltf")  # OBJ, STL, PLY materials have no sides

            def render() -> ShoeViews:
                try:
                    return render_views(media.read_document(path), toe_axis=product.toe_axis,
                                        up_axis=product.up_axis, sided_materials=sided)  # fmt: skip
                except ValueError as exc:
                    raise InvalidLook(str(exc), path=product.model, field="toe_axis/up_axis") from None

            views, source = cached_views(path, product.toe_axis, product.up_axis, render, cache_dir)

            def load() -> tuple[list[MeshItem], int]:
                doc = media.read_document(path)
                items = mesh_items(doc)
                return items, front_winding(doc, items, sided)

            sphere = cached_sphere(path, product.toe_axis, product.up_axis,
                                   lambda: ViewSphere(load, product.toe_axis, product.up_axis))  # fmt: skip
            return cls(ShoeViews(views.side, views.front, views.back, sphere), product, source)
        views = procedural_views(product.shade, product.style)
        if product.image:
            views = ShoeViews(side_from_image(media.read_sprite(resolve(product.image))), views.front, views.back)
        return cls(views, product)

    def apply(
        self, frame: np.ndarray, pose: PoseLandmarks, t: float | None = None
    ) -> tuple[np.ndarray, list[PlacedShoe]]:
        """Return a copy of the RGB frame with a shoe on each visible foot of one person, and where they went."""
        out, placed, _ = self.apply_people(frame, [pose], t)
        return out, placed

    def apply_people(
        self, frame: np.ndarray, people: list[PoseLandmarks], t: float | None = None
    ) -> tuple[np.ndarray, list[PlacedShoe], list[str]]:
        """Return a copy of the RGB frame with shoes on every visible foot of every person, where they went, and
        notes on feet left bare. ``t`` (seconds) smooths each person's feet over the frames (None: a still).

        All real shoes are erased before any new shoe is drawn, so crossing feet never erase a new shoe.
        """
        placements, notes = self.placements(frame.shape, people, t)
        if not placements:
            return frame, [], notes
        out = frame.copy()
        placements.sort(key=lambda item: float(item[0].frame.origin[1]))  # lower feet are nearer: drawn last
        fronts: list[np.ndarray | None] = []
        skins: list[np.ndarray | None] = []
        masks = [m for m in (_segmentation(pose, out.shape) for pose in people) if m is not None]
        chroma: dict[int, np.ndarray | None] = {}
        for p, pose, _ in placements:
            seg = _segmentation(pose, out.shape)
            skins.append(None)
            if seg is None:
                fronts.append(None)
                continue
            if _shaft_above_ankle(p):  # a boot: a bare leg goes into its shaft, a trouser leg stays in front
                key = id(pose)
                if key not in chroma:
                    chroma[key] = skin_chroma(frame, pose.points, pose.visibility)
                if chroma[key] is not None:
                    skins[-1] = bare_skin(frame, chroma[key], p.box)
            box, below = erase_area(p, pose, seg, frame)
            front = _in_front(p, pose, seg, box)
            if self.erase:
                erase_real_shoe(out, seg, below & ~front, box, masks)
            x0, y0, x1, y1 = p.box
            fronts.append(front[y0 - box[1] : y1 - box[1], x0 - box[0] : x1 - box[0]])
        shoes = [
            self._composite(out, p, _segmentation(pose, out.shape), pose.person, sf, front, skin)
            for (p, pose, sf), front, skin in zip(placements, fronts, skins, strict=True)
        ]
        return out, shoes, notes

    def placements(
        self, shape: tuple[int, ...], people: list[PoseLandmarks], t: float | None = None
    ) -> tuple[list[tuple[Placement, PoseLandmarks, SmoothFoot | None]], list[str]]:
        """Where the shoes go on a frame of ``shape``: (placement, its person, the foot's pose) for every foot
        whose shoe lands on its person's leg, and notes on the feet left bare."""
        placements: list[tuple[Placement, PoseLandmarks, SmoothFoot | None]] = []
        notes: list[str] = []
        for pose in people:
            mine: list[tuple[Placement, SmoothFoot | None, float]] = []
            plausible = [foot_below_hips(f, pose) for f in pose.feet]
            feet = [f for f, ok in zip(pose.feet, plausible, strict=True) if ok]
            notes += [f"person {pose.person} {f.side} foot: {IMPLAUSIBLE}: no shoe"
                      for f, ok in zip(pose.feet, plausible, strict=True) if not ok]  # fmt: skip
            tracked = t is not None and pose.person >= 0
            sides = self.feet.sides(pose.person, tuple(feet)) if tracked else [f.side for f in feet]
            for foot, side in zip(feet, sides, strict=True):
                placed = self._place_foot(foot, pose, shape, t, side)
                if placed is None:
                    continue
                why = _off_leg(placed[0], foot, pose.segmentation)
                if why:
                    notes.append(f"person {pose.person} {foot.side} foot: {why}: no shoe")
                    continue
                mine.append((*placed, foot.visibility))
            placements += [(p, pose, sf) for p, sf, _ in _one_per_spot(mine)]
        return placements, notes

    def _place_foot(
        self, foot: FootLandmarks, pose: PoseLandmarks, shape: tuple[int, ...], t: float | None, side: str
    ) -> tuple[Placement, SmoothFoot | None] | None:
        """The foot's placement and (smoothed) pose: from its 3D pose when it has one, else from the picture."""
        if foot.world is None:
            ff = foot_frame(foot)
            placement = None if ff is None else place(self.views.get(ff.view), ff, shape)
            return None if placement is None else (placement, None)
        track = None
        if t is not None and pose.person >= 0:
            smoothed = self.feet.smooth(pose.person, side, foot, t)
            sf, track = smoothed if smoothed is not None else (None, None)
        else:
            sf = unsmoothed(foot)
        if sf is None:
            return None
        length_px = float(np.clip(SHOE_OVER_SHIN * sf.shin_m, *SHOE_LENGTH_M)) * sf.px_per_m
        roll = np.radians(sf.roll)
        up = np.array([np.sin(roll), -np.cos(roll)])  # the foot's up direction in the picture
        sphere = self.views.sphere
        current = None if track is None else track.view
        if sphere is not None:
            now = current if isinstance(current, tuple) else None
            key = next_sphere_view(sf.yaw, sf.pitch, now, sf.recent_yaws, sphere.yaw_step, sphere.pitches)
            if track is not None:
                track.view = key
            sprite = sphere.get(*key)
            k = length_px / sprite.span
            lin = k * np.array([[np.cos(roll), -np.sin(roll)], [np.sin(roll), np.cos(roll)]])
            d = rotation(sf.yaw, sf.pitch, sf.roll) @ np.array([1.0, 0.0, 0.0])
            along = d[:2] / np.linalg.norm(d[:2]) if np.linalg.norm(d[:2]) > 0.2 else np.array([up[1] * -1, up[0]])
            ff = FootFrame(side, "side", sf.anchor.astype(np.float64), along, up, length_px)
            placement = place_matrix(sprite, ff, lin, shape, foot.ankle)
            if placement is not None:
                name = f"y{key[0]}p{key[1]}"
                placement = Placement(ff, sprite, placement.matrix, placement.box, foot.ankle.copy(), name, length_px)
        else:
            now_view = current if isinstance(current, str) else None
            view = next_sprite_view(sf.yaw, now_view, sf.recent_yaws)
            if track is not None:
                track.view = view
            if view == "side":
                toe_right = np.cos(np.radians(sf.yaw)) >= 0
                along = np.array([-up[1], up[0]]) * (1.0 if toe_right else -1.0)
                ff = FootFrame(side, "side", sf.anchor.astype(np.float64), along, up, length_px)
            else:
                along = np.array([-up[1], up[0]])
                width = _foot_width(pose.segmentation, sf.anchor, along, length_px)
                if track is not None:  # the mask's run changes from frame to frame: its recent median
                    track.widths.append(width / length_px)
                    width = float(np.median(track.widths)) * length_px
                ff = FootFrame(side, view, sf.anchor.astype(np.float64), along, up, width)  # type: ignore[arg-type]
            placement = place(self.views.get(ff.view), ff, shape)
            if placement is not None:
                placement = Placement(
                    ff, placement.sprite, placement.matrix, placement.box, foot.ankle.copy(), view, length_px
                )
        if placement is None:
            return None
        return _fitted(placement, _segmentation(pose, shape), None if track is None else track.fits), sf

    def _composite(
        self, out: np.ndarray, p: Placement, seg: np.ndarray | None, person: int = -1, sf: SmoothFoot | None = None,
        front: np.ndarray | None = None, skin: np.ndarray | None = None,
    ) -> PlacedShoe:  # fmt: skip
        x0, y0, x1, y1 = p.box
        m = p.matrix.copy()
        m[:, 2] -= (x0, y0)
        warped = cv2.warpAffine(p.sprite.rgba, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0))  # fmt: skip
        alpha = warped[..., 3].astype(np.float32) * (1.0 / 255.0)
        leg = None if seg is None else leg_mask(seg, p.frame, occlusion_point(p), p.box)
        if leg is not None and skin is not None:
            leg *= 1.0 - skin  # bare skin above the ankle is inside the boot's shaft
        cover = np.ones_like(alpha) if leg is None else 1.0 - leg
        if front is not None:
            cover[front] = 0.0  # a cane or the other leg in front of the shoe
        region = out[y0:y1, x0:x1].astype(np.float32)
        shadow = _contact_shadow(p, (x0, y0), alpha.shape)
        if front is not None:
            shadow[front] = 0.0  # on the ground behind the cane, not on it
        region *= (1.0 - SHADOW_STRENGTH * shadow)[..., None]
        color = warped[..., :3].astype(np.float32)  # premultiplied
        blended = region * (1.0 - alpha * cover)[..., None] + color * cover[..., None]
        out[y0:y1, x0:x1] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
        on_person = None
        if seg is not None and alpha.sum() > 0:
            on_person = float((alpha * (seg[y0:y1, x0:x1] > PERSON_THRESHOLD)).sum() / alpha.sum())
        return PlacedShoe(
            p.frame.side, p.name or p.frame.view, _sole_center(alpha, p, (x0, y0)), p.frame.origin.copy(), p.box,
            person, p.length or (p.frame.span / END_WIDTH if p.frame.view in ("front", "back") else p.frame.span),
            None if sf is None else sf.yaw, on_person, None if sf is None else sf.raw_yaw,
        )  # fmt: skip


def _collar(p: Placement) -> np.ndarray:
    """(2,) frame pixel of the placed shoe's opening."""
    return p.matrix[:, :2] @ p.sprite.collar.astype(np.float64) + p.matrix[:, 2]


def occlusion_point(p: Placement) -> np.ndarray:
    """(2,) frame pixel the occlusion line goes through: the collar, or the ankle's height when the collar is
    higher up the leg (a boot: its shaft stays under the trouser)."""
    collar = _collar(p)
    if p.ankle is None:
        return collar
    above = float(np.dot(collar - p.ankle, p.frame.up))
    return collar - above * p.frame.up if above > 0 else collar


def erase_area(
    p: Placement, pose: PoseLandmarks, seg: np.ndarray, frame: np.ndarray
) -> tuple[tuple[int, int, int, int], np.ndarray]:
    """(box, (h, w) bool in it): where the real shoe under placement ``p`` is erased (within the person mask):
    under the occlusion line in the new shoe's box grown by :data:`tryon.shoes.erase.MARGIN`, and in the band
    along the foot's heel -> toe under the same line (:func:`tryon.shoes.erase.foot_band`) and behind the heel
    keypoint above it too (the heel counter of a real shoe taller than the new one), plus the top of a taller
    real shoe beside the shin (:func:`tryon.shoes.occlusion.real_shoe_above_collar`); not where the pixel has
    the leg's colour (:func:`tryon.shoes.occlusion.leg_coloured`: a trouser hem over the real shoe)."""
    shape = frame.shape
    inner = erase_box(p.box, p.frame.span, shape)
    mine = _own_foot(p, pose)
    box, band_box, band = inner, inner, None
    if mine is not None:
        band_box, band = foot_band(mine.heel, mine.toe, mine.ankle, p.frame.up, p.length or p.frame.span, shape)
        if band.size:
            box = (min(inner[0], band_box[0]), min(inner[1], band_box[1]),
                   max(inner[2], band_box[2]), max(inner[3], band_box[3]))  # fmt: skip
    x0, y0, x1, y1 = box
    region = np.zeros((y1 - y0, x1 - x0), bool)
    region[inner[1] - y0 : inner[3] - y0, inner[0] - x0 : inner[2] - x0] = True
    below = above_collar(p.frame, occlusion_point(p), box) == 0.0
    heel = np.zeros_like(region)
    if mine is not None and band is not None and band.size:
        bx0, by0, bx1, by1 = band_box
        region[by0 - y0 : by1 - y0, bx0 - x0 : bx1 - x0] |= band
        heel[by0 - y0 : by1 - y0, bx0 - x0 : bx1 - x0] = band
        toe = (mine.toe - mine.heel).astype(np.float64)
        xs = np.arange(x0, x1, dtype=np.float64) - float(mine.heel[0])
        ys = np.arange(y0, y1, dtype=np.float64) - float(mine.heel[1])
        heel &= (ys[:, None] * toe[1] + xs[None, :] * toe[0]) < 0.0  # behind the heel: the heel counter, not the leg
    below &= region
    if mine is None:
        return box, below
    below |= real_shoe_above_collar(seg, mine, below, box) & region
    return box, (below | heel) & ~leg_coloured(frame, seg, mine, box)


def _shaft_above_ankle(p: Placement) -> bool:
    """Whether the placed shoe's collar is above its ankle keypoint (a boot's shaft)."""
    return p.ankle is not None and float(np.dot(_collar(p) - p.ankle, p.frame.up)) > 0


def _own_foot(p: Placement, pose: PoseLandmarks) -> FootLandmarks | None:
    """The pose's foot the placement was made for: the nearest ankle keypoint (the nearest heel-toe midpoint to
    the shoe's origin for a placement from the picture alone), None without feet."""
    if not pose.feet:
        return None
    if p.ankle is not None:
        ankle = p.ankle
        return min(pose.feet, key=lambda f: float(np.linalg.norm(f.ankle - ankle)))
    return min(pose.feet, key=lambda f: float(np.linalg.norm((f.heel + f.toe) / 2.0 - p.frame.origin)))


def _in_front(p: Placement, pose: PoseLandmarks, seg: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """(h, w) bool in ``box``: the person's pixels in front of the shoe: thin parts coming down past its collar (a
    cane) and the other leg's shin when it is nearer the camera (:mod:`tryon.shoes.occlusion`)."""
    front = thin_in_front(seg, p.frame, occlusion_point(p), box)
    if p.ankle is not None and len(pose.feet) == 2:
        ankle = p.ankle
        mine = min(pose.feet, key=lambda f: float(np.linalg.norm(f.ankle - ankle)))
        other = pose.feet[1] if mine is pose.feet[0] else pose.feet[0]
        front |= shin_in_front(seg, mine, other, box)
    return front


def _foot_width(seg: np.ndarray | None, anchor: np.ndarray, along: np.ndarray, length_px: float) -> float:
    """Width of a shoe seen from the front or back: the person mask's run through the foot's anchor across
    the foot (the real shoe, which the new one must cover), within ``END_WIDTH_RANGE`` of the shoe's length;
    ``END_WIDTH`` of it without a mask."""
    lo, hi = END_WIDTH_RANGE[0] * length_px, END_WIDTH_RANGE[1] * length_px
    if seg is None:
        return END_WIDTH * length_px
    h, w = seg.shape[:2]
    steps = np.arange(-hi, hi + 1.0)
    pts = np.round(anchor[None, :] + steps[:, None] * along[None, :]).astype(int)
    inside = (pts[:, 0] >= 0) & (pts[:, 0] < w) & (pts[:, 1] >= 0) & (pts[:, 1] < h)
    on = np.zeros(len(steps), bool)
    on[inside] = seg[pts[inside, 1], pts[inside, 0]] > PERSON_THRESHOLD
    mid = len(steps) // 2
    if not on[mid]:
        return END_WIDTH * length_px
    left = mid - int(np.argmin(on[mid::-1])) if not on[: mid + 1].all() else 0
    right = mid + int(np.argmin(on[mid:])) if not on[mid:].all() else len(steps)
    return float(np.clip(right - left, lo, hi))


def _fitted(p: Placement, seg: np.ndarray | None, recent: deque[tuple[float, float, float]] | None = None) -> Placement:
    """The placement shortened along the foot (``FIT_SCALES``), shifted along it (``FIT_SHIFTS``) and lifted
    (``FIT_LIFTS``) to put most of the shoe's pixels on the person mask; in video (``recent``: the foot's last
    fits) the mean of the last ``FIT_FRAMES`` fits, so that the shoe's size changes by at most a ninth of a
    step between frames instead of pulsing with the mask's outline."""
    if seg is None:
        return p
    x0, y0, x1, y1 = p.box
    m = p.matrix.copy()
    m[:, 2] -= (x0, y0)
    alpha = cv2.warpAffine(np.ascontiguousarray(p.sprite.rgba[..., 3]), m, (x1 - x0, y1 - y0), flags=cv2.INTER_NEAREST)
    ys, xs = np.nonzero(alpha > 127)
    if xs.size == 0:
        return p
    step = max(1, xs.size // FIT_SAMPLES)
    pts = np.stack([xs[::step] + x0, ys[::step] + y0], axis=1).astype(np.float64) - p.frame.origin
    f = p.frame
    t = pts @ f.along  # position along the foot
    rest = pts - t[:, None] * f.along + f.origin
    cands = np.array(list(itertools.product(FIT_SCALES, FIT_SHIFTS, FIT_LIFTS)))
    climb = float(np.dot(f.along, f.up))  # shifting along the foot must not move the shoe up the leg
    cands = cands[cands[:, 1] * climb <= 0.3 * np.abs(cands[:, 1])]
    k, sh, lift = (cands[:, i : i + 1] for i in range(3))
    reach = k * t[None, :] + sh * f.span  # (candidates, points) along the foot
    h, w = seg.shape[:2]
    xi = (rest[None, :, 0] + reach * f.along[0] + lift * f.span * f.up[0] + 0.5).astype(np.int32)
    yi = (rest[None, :, 1] + reach * f.along[1] + lift * f.span * f.up[1] + 0.5).astype(np.int32)
    inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
    on = inside & (seg[np.minimum(yi, h - 1) * inside, np.minimum(xi, w - 1) * inside] > PERSON_THRESHOLD)
    steps = np.abs(sh[:, 0]) / FIT_SHIFTS[-1] + (1.0 - k[:, 0]) / (1.0 - FIT_SCALES[-1]) + lift[:, 0] / FIT_LIFTS[-1]
    score = on.mean(axis=1) - FIT_COST * steps
    i = int(np.argmax(score))
    best = tuple(float(v) for v in cands[i])
    if f.view in DROP_VIEWS:
        reach_best = reach[i]
        here = rest + reach_best[:, None] * f.along + best[2] * f.span * f.up
        drop = _drop_to_sole(seg, here, reach_best, f)
        q = np.round(here - drop * f.up).astype(np.int32)
        inside_q = (q[:, 0] >= 0) & (q[:, 0] < w) & (q[:, 1] >= 0) & (q[:, 1] < h)
        on_q = inside_q & (seg[np.minimum(q[:, 1], h - 1) * inside_q, np.minimum(q[:, 0], w - 1) * inside_q] > 0.5)
        if drop > 0 and on_q.mean() >= on[i].mean() - DROP_KEEPS_ON:  # not off the person (a sandal's toe)
            best = (best[0], best[1], best[2] - drop / f.span)
    if recent is not None:
        recent.append(best)
        best = tuple(float(v) for v in np.mean(np.array(recent), axis=0))  # type: ignore[assignment]
    scale, shift, up = best
    if scale == 1.0 and shift == 0.0 and up == 0.0:
        return p
    squash = np.eye(2) + (scale - 1.0) * np.outer(f.along, f.along)
    origin = f.origin + f.span * (shift * f.along + up * f.up)
    frame = FootFrame(f.side, f.view, origin, f.along, f.up, f.span * scale)
    fitted = place_matrix(p.sprite, frame, squash @ p.matrix[:, :2], seg.shape, p.ankle)
    if fitted is None:
        return p
    return Placement(frame, p.sprite, fitted.matrix, fitted.box, p.ankle, p.name, (p.length or f.span) * scale)


def _drop_to_sole(seg: np.ndarray, pixels: np.ndarray, along: np.ndarray, f: FootFrame) -> float:
    """How far (pixels, down the leg) the person mask goes on below the shoe's sole: the median, over
    ``SOLE_BINS`` stretches along the foot, of the mask's run down from the shoe's lowest pixel there, less
    ``SOLE_SLACK``, at most ``MAX_DROP`` of the span. ``pixels`` (n, 2): the shoe's sampled pixels in the frame,
    ``along`` (n,): their position along the foot. The foot's keypoints sometimes sit at the ankle (the corpus
    walker's white sneakers showed under the new shoe): the shoe then goes down onto the real one."""
    if along.size == 0:
        return 0.0
    h, w = seg.shape[:2]
    height = pixels @ f.up
    edges = np.linspace(float(along.min()), float(along.max()) + 1e-6, SOLE_BINS + 1)
    steps = np.arange(0.0, MAX_DROP * f.span + SOLE_SLACK * f.span + 1.0)
    runs = []
    for lo, hi in itertools.pairwise(edges):
        here = np.nonzero((along >= lo) & (along < hi))[0]
        if here.size == 0:
            continue
        start = pixels[here[int(np.argmin(height[here]))]]
        pts = np.round(start[None, :] - steps[:, None] * f.up[None, :]).astype(int)
        inside = (pts[:, 0] >= 0) & (pts[:, 0] < w) & (pts[:, 1] >= 0) & (pts[:, 1] < h)
        on = np.zeros(len(steps), bool)
        on[inside] = seg[pts[inside, 1], pts[inside, 0]] > PERSON_THRESHOLD
        runs.append(float(np.argmin(on)) if not on.all() else float(len(steps)))
    if not runs:
        return 0.0
    return float(np.clip(np.median(runs) - SOLE_SLACK * f.span, 0.0, MAX_DROP * f.span))


def _segmentation(pose: PoseLandmarks, shape: tuple[int, ...]) -> np.ndarray | None:
    seg = pose.segmentation
    return seg if seg is not None and seg.shape[:2] == shape[:2] else None


def _off_leg(p: Placement, foot: FootLandmarks, seg: np.ndarray | None) -> str:
    """Why the placement is not on this person's leg ('' when it is): two of the foot's heel, toe and ankle
    must be on the person mask (within ``KEYPOINT_SLACK`` of the shoe's span), and ``MIN_ON_PERSON`` of the
    shoe over the (as much dilated) mask."""
    if seg is None:
        return ""
    h, w = seg.shape[:2]
    r = max(2, round(KEYPOINT_SLACK * p.frame.span))
    off = []
    for name, pt in (("heel", foot.heel), ("toe", foot.toe), ("ankle", foot.ankle)):
        x, y = round(float(pt[0])), round(float(pt[1]))
        inside = 0 <= x < w and 0 <= y < h
        if not inside or seg[max(0, y - r) : y + r + 1, max(0, x - r) : x + r + 1].max() <= PERSON_THRESHOLD:
            off.append(name)
    if len(off) > 1:
        return " and ".join(off) + " off the person mask"
    x0, y0, x1, y1 = p.box
    m = p.matrix.copy()
    m[:, 2] -= (x0, y0)
    alpha = cv2.warpAffine(np.ascontiguousarray(p.sprite.rgba[..., 3]), m, (x1 - x0, y1 - y0), flags=cv2.INTER_NEAREST)
    shoe = alpha > 127
    if not shoe.any():
        return "shoe outside the frame"
    grown = cv2.dilate(
        (seg[y0:y1, x0:x1] > PERSON_THRESHOLD).astype(np.uint8), np.ones((2 * r + 1, 2 * r + 1), np.uint8)
    )
    share = float(grown[shoe].mean())
    return "" if share >= MIN_ON_PERSON else f"only {share:.0%} of the shoe on the person mask"


def _one_per_spot(
    placed: list[tuple[Placement, SmoothFoot | None, float]],
) -> list[tuple[Placement, SmoothFoot | None, float]]:
    """Drop a shoe whose foot's anchor (its keypoints', before the fit to the mask moved the shoe) lies within
    ``SAME_SPOT`` of a shoe length of a more visible foot's (both feet's keypoints on one foot)."""

    def anchor(p: Placement, sf: SmoothFoot | None) -> np.ndarray:
        return p.frame.origin if sf is None else sf.anchor.astype(np.float64)

    kept: list[tuple[Placement, SmoothFoot | None, float]] = []
    for item in sorted(placed, key=lambda it: -it[2]):
        p, sf = item[0], item[1]
        if all(
            np.linalg.norm(anchor(p, sf) - anchor(q, qf)) > SAME_SPOT * max(p.length or p.frame.span,
                                                                             q.length or q.frame.span)
            for q, qf, _ in kept
        ):  # fmt: skip
            kept.append(item)
    return kept


def _contact_shadow(p: Placement, origin: tuple[int, int], shape: tuple[int, ...]) -> np.ndarray:
    """(h, w) float32 soft ellipse under the sole, so the shoe stands on the ground instead of floating."""
    h, w = shape[:2]
    sole = p.matrix[:, :2] @ p.sprite.sole_center.astype(np.float64) + p.matrix[:, 2] - origin
    half = 0.5 * p.frame.span * (1.0 if p.frame.view == "side" else 1.1)
    canvas = np.zeros((h, w), np.uint8)
    angle = float(np.degrees(np.arctan2(p.frame.along[1], p.frame.along[0])))
    axes = (max(1, round(half * 16)), max(1, round(0.12 * half * 16)))
    center = (round(sole[0] * 16), round(sole[1] * 16))
    cv2.ellipse(canvas, center, axes, angle, 0, 360, 255, -1, cv2.LINE_AA, shift=4)
    sigma = max(1.0, 0.06 * half)
    return cv2.GaussianBlur(canvas.astype(np.float32) * (1.0 / 255.0), (0, 0), sigma)


def _sole_center(alpha: np.ndarray, p: Placement, origin: tuple[int, int]) -> np.ndarray:
    """Measure the warped shoe's sole centre: middle of its extent along the foot, at its lowest point."""
    ys, xs = np.nonzero(alpha > 0.5)
    if xs.size == 0:
        return p.frame.origin.copy()
    pts = np.stack([xs + origin[0], ys + origin[1]], axis=1).astype(np.float64) - p.frame.origin
    a = pts @ p.frame.along
    u = pts @ p.frame.up
    return p.frame.origin + p.frame.along * (a.min() + a.max()) / 2 + p.frame.up * (u.min() - 0.5)
