"""Builds a ready :class:`tryon.pipeline.TryOn` from a look and settings (used by the CLI and live router)."""

from __future__ import annotations

from pathlib import Path

from tryon.landmarks import LandmarkProvider
from tryon.look import Look
from tryon.pipeline import TryOn
from tryon.settings import TryOnSettings
from tryon.tracking import FaceTracker


def mediapipe_provider(settings: TryOnSettings, mode: str) -> LandmarkProvider:
    """Return a MediaPipe landmark provider for ``mode`` ("video" tracks, else "image") from the settings."""
    from tryon.providers.mediapipe import MediaPipeProvider  # heavy import, kept out of --help

    return MediaPipeProvider(
        "video" if mode == "video" else "image",
        max_faces=settings.max_faces,
        detect_every=settings.detect_every,
        min_face_confidence=settings.min_face_confidence,
        min_pose_confidence=settings.min_pose_confidence,
        max_people=settings.max_people,
    )


def create_tryon(
    look: Look,
    settings: TryOnSettings,
    mode: str = "image",
    *,
    look_dir: Path | None = None,
    provider: LandmarkProvider | None = None,
) -> TryOn:
    """A TryOn for stills (``mode="image"``) or streams (``"video"``: face tracks, fades, One Euro smoothing)."""
    from tryon.shoes.render import ShoeRenderer

    tracker = None
    if mode == "video":
        smoothing = (settings.smoothing_min_cutoff, settings.smoothing_beta) if settings.smoothing else None
        tracker = FaceTracker(settings.track_confirm_frames, settings.track_patience_frames,
                              settings.fade_frames, smoothing)  # fmt: skip
    shoes = ShoeRenderer.from_look(look, look_dir, settings.cache_dir) if look.shoes else None
    return TryOn(
        provider or mediapipe_provider(settings, mode),
        look,
        tracker=tracker,
        min_image_side=settings.min_image_side,
        shoes=shoes,
    )
