"""Settings of the asset pipeline, read once at the entry point (env prefix ``PHYGITAL_ASSETS_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from .limits import Limits


class AssetSettings(BaseSettings):
    """Asset pipeline settings from ``PHYGITAL_ASSETS_*``: limits, store, S3, catalog, API tokens."""
    model_config = SettingsConfigDict(env_prefix="PHYGITAL_ASSETS_", env_nested_delimiter="__")

    max_file_mb: float = 512.0
    max_image_pixels: int = 8192 * 8192
    node_tools: Path | None = None
    """Folder holding the npm packages the simplifier and validator import (``node_modules``); default:
    ``share/phygital/node-tools`` of the Python environment. Filled by ``phygital-assets node-tools --install``."""

    # --- store and catalog (publish, CLI upload/list/show, HTTP API) ---
    store: Literal["local", "s3"] = "local"
    """Where published objects go: a local folder (default) or an S3-compatible bucket."""
    store_path: Path = Path(".phygital/objects")
    """Folder of the local store."""
    s3_bucket: str = ""
    s3_prefix: str = "phygital/"
    s3_region: str | None = None
    s3_endpoint_url: str | None = None
    """For MinIO, moto or any S3-compatible service, e.g. http://127.0.0.1:9000."""
    s3_access_key_id: str | None = None
    """Default: boto3's usual chain (AWS_ACCESS_KEY_ID, ~/.aws, instance role)."""
    s3_secret_access_key: SecretStr | None = None
    s3_multipart_threshold_mb: float = 16.0
    s3_part_size_mb: float = 8.0
    s3_max_attempts: int = 5
    s3_connect_timeout_s: float = 5.0
    presign_seconds: int = 3600
    catalog_url: str | None = None
    """SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db. Default: SQLite at ``catalog_path``."""
    catalog_path: Path = Path(".phygital/catalog.sqlite")
    api_token_secret: SecretStr | None = None
    """HMAC secret for API tokens (``python -m assets_pipeline token``). Unset: HTTP uploads are refused."""
    api_read_token_required: bool = False
    """Ask for a token (any role) on reads too."""
    max_upload_mb: float = 256.0

    # --- batch publishing (``batch``, ``worker``; see assets_pipeline/batch/) ---
    batch_broker_url: str | None = None
    """Redis URL of the task broker, e.g. redis://127.0.0.1:6379/0. Unset: ``batch`` runs the jobs in local
    worker processes (one per core) instead of enqueuing them."""
    batch_namespace: str = "phygital"
    """Prefix of every broker key (one namespace per deployment or test)."""
    batch_queue: str = "publish"
    batch_time_limit_s: float = 900.0
    """A job still running after this long is stopped and fails (dead-letter list)."""
    batch_max_retries: int = 4
    """Retries of a job after a transient store/database/broker error (bad input is never retried)."""
    batch_min_backoff_s: float = 5.0
    batch_max_backoff_s: float = 300.0
    batch_heartbeat_timeout_s: float = 60.0
    """A worker silent this long is presumed dead; its unacknowledged jobs go back to the queue."""
    batch_maintenance_chance: int = 10_000
    """Out of a million broker calls, how many also run the broker's maintenance (requeue dead workers' jobs)."""

    def catalog_database_url(self) -> str:
        """Return the catalog's database URL (``CATALOG_URL``, else SQLite at ``CATALOG_PATH``)."""
        return self.catalog_url or f"sqlite:///{self.catalog_path}"

    def limits(self) -> Limits:
        """Return the reader limits these settings allow."""
        return Limits(max_file_bytes=int(self.max_file_mb * 1024 * 1024), max_image_pixels=self.max_image_pixels)
