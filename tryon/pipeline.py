"""The try-on pipeline: landmarks -> region masks -> rendering (+ shoes), per frame, with stage timings.

``TryOn(provider, look).process(frame, t)`` takes an RGB uint8 frame and returns a
:class:`TryOnResult`; it does no file I/O. Frames it cannot work on (too small, no face) come back
unchanged with a note saying why.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from tryon.errors import InvalidMedia
from tryon.finishes import SHININESS
from tryon.landmarks import FaceLandmarks, LandmarkProvider, PoseLandmarks
from tryon.look import Look, Product
from tryon.masks import Mask, clipped, rasterize
from tryon.regions import BOTH, REGION_NAMES, SIDED, mouth_width, region, visibility, yaw_degrees
from tryon.render import Light, Paint, render
from tryon.shoes.render import PlacedShoe, ShoeRenderer
from tryon.surface import face_light, lip_specular
from tryon.tracking import FaceTracker, TrackedFace

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StageTimings:
    """Milliseconds spent per stage of one frame."""

    landmarks: float = 0.0
    masks: float = 0.0
    render: float = 0.0
    pose: float = 0.0
    shoes: float = 0.0

    @property
    def total(self) -> float:
        """Return the whole frame's time in milliseconds (the sum of the stages)."""
        return self.landmarks + self.masks + self.render + self.pose + self.shoes


@dataclass(frozen=True, slots=True)
class TryOnResult:
    """frame : (h, w, 3) uint8 RGB, the input unchanged when nothing could be applied."""

    frame: np.ndarray
    timings: StageTimings
    faces: tuple[FaceLandmarks, ...] = ()
    pose: PoseLandmarks | None = None
    """The largest person (one of ``people``)."""
    shoes_placed: tuple[PlacedShoe, ...] = ()
    notes: tuple[str, ...] = field(default=())
    people: tuple[PoseLandmarks, ...] = ()
    """Every person found when the look has shoes, largest first (``person``: track id in video)."""


def as_rgb(frame: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Accept RGB, RGBA, (h, w) or (h, w, 1) grayscale uint8 frames; return RGB and notes on conversions."""
    if not isinstance(frame, np.ndarray):
        raise InvalidMedia(f"frame must be a numpy array, got {type(frame).__name__}", field="frame")
    if frame.dtype != np.uint8:
        raise InvalidMedia(f"frame must be uint8, got {frame.dtype}", field="frame")
    if frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] == 1):
        gray = frame.reshape(frame.shape[0], frame.shape[1])
        return np.repeat(gray[:, :, None], 3, axis=2), ["grayscale frame converted to RGB"]
    if frame.ndim == 3 and frame.shape[2] == 4:
        return np.ascontiguousarray(frame[:, :, :3]), ["alpha channel dropped"]
    if frame.ndim == 3 and frame.shape[2] == 3:
        return np.ascontiguousarray(frame), []
    raise InvalidMedia(f"frame must be (h, w, 3) RGB, got shape {frame.shape}", field="frame")


TURNED_LIPS_DEG = 30.0
"""From this head yaw (the mesh's, which reads full profiles as 45-47 degrees) the lips are clipped to the
person's silhouette: seen from the side, the mesh's lip contour reaches past the real lips onto the background."""
Silhouette = Callable[[np.ndarray, FaceLandmarks], tuple[tuple[int, int, int, int], np.ndarray]]


def face_layers(
    faces: list[TrackedFace] | list[FaceLandmarks], products: list[Product], frame: np.ndarray,
    silhouette: Silhouette | None = None,
) -> list[tuple[Mask, Paint, Light]]:  # fmt: skip
    """Masks, paints and the light they are painted under for every face and product, base regions first.

    Regions of a face turned too far from the camera are left out (:func:`tryon.regions.visibility`),
    the sided ones (eyes, brows, cheeks) per side. The lips of a face turned ``TURNED_LIPS_DEG`` or more are
    clipped to the person's outline (``silhouette``: the provider's segmentation around the face, run only then).
    """
    order = {name: i for i, name in enumerate(REGION_NAMES)}
    ranked = sorted(products, key=lambda p: order[p.region or "lips"])
    layers = []
    for item in faces:
        tracked = item if isinstance(item, TrackedFace) else TrackedFace(item)
        face = tracked.face
        light = face_light(frame, face)
        outline = None
        for product in ranked:
            name = product.region
            assert name is not None
            paint = Paint.from_hex(product.shade, product.finish, product.intensity, name)
            for sides in ((s,) for s in BOTH) if name in SIDED else (BOTH,):
                seen = visibility(face, name, sides[0] if name in SIDED else None)
                if seen <= 0.0:
                    continue
                mask = rasterize(region(face, name, wing=product.wing, sides=sides), frame.shape)
                if mask is None:
                    continue
                if name == "lips" and silhouette is not None and abs(yaw_degrees(face)) >= TURNED_LIPS_DEG:
                    outline = outline or silhouette(frame, face)
                    mask = clipped(mask, *outline)
                spec = None
                if name == "lips" and product.finish in SHININESS:
                    blur = max(0.7, 0.025 * mouth_width(face))
                    spec = lip_specular(face, light.light, mask.box, SHININESS[product.finish], blur, light.lips)
                layers.append((mask, paint, Light(light.exposure, spec, tracked.opacity * seen)))
    return layers


class TryOn:
    """Applies a look to frames. Use one instance per stream: video providers and smoothing keep state."""

    def __init__(
        self,
        provider: LandmarkProvider,
        look: Look,
        *,
        tracker: FaceTracker | None = None,
        min_image_side: int = 48,
        shoes: ShoeRenderer | None = None,
    ) -> None:
        self.provider = provider
        self.look = look
        self.tracker = tracker
        self.min_image_side = min_image_side
        self.shoes = shoes

    def process(self, frame: np.ndarray, t: float | None = None) -> TryOnResult:
        """Apply the look to an RGB uint8 frame taken at time ``t`` seconds (None for a still image)."""
        rgb, notes = as_rgb(frame)
        h, w = rgb.shape[:2]
        if min(h, w) < self.min_image_side:
            notes.append(f"frame {w}x{h} is smaller than {self.min_image_side} px: returned unchanged")
            return TryOnResult(rgb, StageTimings(), notes=tuple(notes))
        out = rgb
        t_lm = t_mask = t_render = 0.0
        faces: list[FaceLandmarks] = []
        if self.look.makeup:
            t0 = time.perf_counter()
            found = self.provider.faces(rgb, t)
            dropped = int(getattr(self.provider, "dropped_faces", 0))
            tracked = (self.tracker(found, t) if self.tracker is not None and t is not None
                       else [TrackedFace(f) for f in found])  # fmt: skip
            faces = [tf.face for tf in tracked]
            t1 = time.perf_counter()
            layers = face_layers(tracked, self.look.makeup, rgb, getattr(self.provider, "silhouette", None))
            t2 = time.perf_counter()
            if layers:
                out = render(rgb, layers)
            t3 = time.perf_counter()
            t_lm, t_mask, t_render = (t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3
            if not found:
                notes.append("no face found: makeup not applied")
            if dropped:
                notes.append(f"{len(found) + dropped} faces found, makeup on the {len(found)} largest (face cap "
                             "PHYGITAL_TRYON_MAX_FACES)")  # fmt: skip
        t_pose = t_shoes = 0.0
        people: list[PoseLandmarks] = []
        placed: list[PlacedShoe] = []
        if self.shoes is not None:
            t0 = time.perf_counter()
            people = self.provider.people(rgb, t)
            t1 = time.perf_counter()
            if not people:
                notes.append("no person found: shoes not placed")
            elif not any(p.feet for p in people):
                notes.append("no foot visible: shoes not placed")
            else:
                out, placed, shoe_notes = self.shoes.apply_people(out, people, t)
                notes += shoe_notes
            t_pose, t_shoes = (t1 - t0) * 1e3, (time.perf_counter() - t1) * 1e3
        timings = StageTimings(landmarks=t_lm, masks=t_mask, render=t_render, pose=t_pose, shoes=t_shoes)
        return TryOnResult(
            out, timings, faces=tuple(faces), pose=people[0] if people else None, shoes_placed=tuple(placed),
            notes=tuple(notes), people=tuple(people),
        )  # fmt: skip
