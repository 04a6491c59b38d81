"""Try-on settings, read once at the entry point (CLI, live router) and passed down."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class TryOnSettings(BaseSettings):
    """Settings for :mod:`tryon`; every field can be set as ``PHYGITAL_TRYON_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="PHYGITAL_TRYON_", env_nested_delimiter="__", extra="ignore")

    max_faces: int = Field(8, ge=1, le=32, description="most faces painted per frame (the largest; a note says "
                           "when more were found)")
    detect_every: int = Field(15, ge=1, description="video: look for faces the tracker misses every this many frames")
    track_confirm_frames: int = Field(2, ge=1, description="video: frames in a row a face must be seen to be painted")
    track_patience_frames: int = Field(3, ge=0, description="video: frames a painted face may be missing")
    fade_frames: int = Field(3, ge=1, description="video: frames over which makeup fades in and out")
    min_face_confidence: float = Field(0.5, gt=0.0, lt=1.0, description="face detector score threshold")
    min_pose_confidence: float = Field(0.5, gt=0.0, lt=1.0, description="pose detector score threshold")
    max_people: int = Field(8, ge=1, le=16, description="most people given shoes per frame (largest first)")
    min_image_side: int = Field(48, ge=8, description="smaller images are returned unchanged")
    smoothing: bool = Field(True, description="One Euro smoothing of landmarks in video and live mode")
    smoothing_min_cutoff: float = Field(1.0, gt=0.0, description="One Euro min cutoff (Hz)")
    smoothing_beta: float = Field(0.3, ge=0.0, description="One Euro speed coefficient (s/px)")
    jpeg_quality: int = Field(85, ge=10, le=100, description="JPEG quality of written and live frames")
    live_max_frame_bytes: int = Field(4_000_000, ge=1024, description="largest JPEG accepted by /tryon/live")
    live_default_look: Path | None = Field(None, description="look JSON used by /tryon/live until a client sends one")
    cache_dir: Path | None = Field(
        Path(".phygital/tryon-cache"),
        description="shoe views rendered from 3D models and catalog models fetched from the asset store, kept "
        "across processes (None: in memory only)",
    )
