"""Composite shoe sprites onto the feet of a pose, under the leg."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from tryon.errors import InvalidLook
from tryon.landmarks import PoseLandmarks
from tryon.look import Look, Product
from tryon.shoes.erase import erase_box, erase_real_shoe
from tryon.shoes.feet import foot_frame
from tryon.shoes.occlusion import above_collar, leg_mask
from tryon.shoes.placement import Placement, place
from tryon.shoes.sprite import ShoeViews, procedural_views, side_from_image

SHADOW_STRENGTH = 0.35
"""How much the contact shadow under the sole darkens the ground."""


@dataclass(frozen=True, slots=True)
class PlacedShoe:
    """Where one shoe went. sole_center : (2,) measured on the warped sprite; target : (2,) heel/toe midpoint."""

    side: str
    view: str
    sole_center: np.ndarray
    target: np.ndarray
    box: tuple[int, int, int, int]

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
            from tryon.shoes.cache import cached_views
            from tryon.shoes.views import render_views

            path = resolve(product.model)
            sided = path.suffix.lower() in (".glb", ".gltf")  # OBJ, STL, PLY materials have no sides

            def render() -> ShoeViews:
                try:
                    return render_views(media.read_document(path), toe_axis=product.toe_axis,
                                        up_axis=product.up_axis, sided_materials=sided)  # fmt: skip
                except ValueError as exc:
                    raise InvalidLook(str(exc), path=product.model, field="toe_axis/up_axis") from None

            views, source = cached_views(path, product.toe_axis, product.up_axis, render, cache_dir)
            return cls(views, product, source)
        views = procedural_views(product.shade, product.style)
        if product.image:
            views = ShoeViews(side_from_image(media.read_sprite(resolve(product.image))), views.front, views.back)
        return cls(views, product)

    def apply(self, frame: np.ndarray, pose: PoseLandmarks) -> tuple[np.ndarray, list[PlacedShoe]]:
        """Return a copy of the RGB frame with a shoe on each visible foot, and where they went.

        Both real shoes are erased before either new shoe is drawn, so crossing feet never erase a new shoe.
        """
        placements: list[Placement] = []
        for foot in pose.feet:
            ff = foot_frame(foot)
            placement = None if ff is None else place(self.views.get(ff.view), ff, frame.shape)
            if placement is not None:
                placements.append(placement)
        if not placements:
            return frame, []
        out = frame.copy()
        seg = pose.segmentation
        if seg is None or seg.shape[:2] != out.shape[:2]:
            seg = None
        if seg is not None and self.erase:
            for p in placements:
                box = erase_box(p.box, p.frame.span, out.shape)
                erase_real_shoe(out, seg, above_collar(p.frame, _collar(p), box) == 0.0, box)
        return out, [self._composite(out, p, seg) for p in placements]

    def _composite(self, out: np.ndarray, p: Placement, seg: np.ndarray | None) -> PlacedShoe:
        x0, y0, x1, y1 = p.box
        m = p.matrix.copy()
        m[:, 2] -= (x0, y0)
        warped = cv2.warpAffine(p.sprite.rgba, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0))  # fmt: skip
        alpha = warped[..., 3].astype(np.float32) * (1.0 / 255.0)
        cover = np.ones_like(alpha) if seg is None else 1.0 - leg_mask(seg, p.frame, _collar(p), p.box)
        region = out[y0:y1, x0:x1].astype(np.float32)
        region *= (1.0 - SHADOW_STRENGTH * _contact_shadow(p, (x0, y0), alpha.shape))[..., None]
        color = warped[..., :3].astype(np.float32)  # premultiplied
        blended = region * (1.0 - alpha * cover)[..., None] + color * cover[..., None]
        out[y0:y1, x0:x1] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
        return PlacedShoe(p.frame.side, p.frame.view, _sole_center(alpha, p, (x0, y0)), p.frame.origin.copy(), p.box)


def _collar(p: Placement) -> np.ndarray:
    """(2,) frame pixel of the placed shoe's opening."""
    return p.matrix[:, :2] @ p.sprite.collar.astype(np.float64) + p.matrix[:, 2]


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
