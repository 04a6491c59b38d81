"""Settings of the asset pipeline, read once at the entry point (env prefix ``PHYGITAL_ASSETS_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from .limits import Limits


class AssetSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PHYGITAL_ASSETS_", env_nested_delimiter="__")

    max_file_mb: float = 512.0
    max_image_pixels: int = 8192 * 8192
    node_tools: Path | None = None
    """Folder holding the npm tools (gltf-validator); default: tools/node of the checkout."""

    def limits(self) -> Limits:
        return Limits(max_file_bytes=int(self.max_file_mb * 1024 * 1024), max_image_pixels=self.max_image_pixels)
