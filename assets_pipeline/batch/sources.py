"""Models named by URL in a bucket (``s3://bucket/key``): checked when the manifest is, fetched by the job.

The bucket is reached with the S3 endpoint and credentials of the settings (``PHYGITAL_ASSETS_S3_*``), whatever
the store is. Only single-file models can come from a bucket (.glb, .stl, .ply, and .obj without materials):
a model that names other files needs them beside it, which a path gives.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse

from ..errors import InvalidAsset
from ..settings import AssetSettings

BUCKET_SUFFIXES = (".glb", ".stl", ".ply", ".obj")


def is_bucket_url(source: str) -> bool:
    """True for ``s3://bucket/key``."""
    return source.lower().startswith("s3://")


def split(url: str) -> tuple[str, str]:
    """``s3://bucket/a/b.glb`` -> (``bucket``, ``a/b.glb``); InvalidAsset when either is missing."""
    parsed = urlparse(url)
    bucket, key = parsed.netloc, unquote(parsed.path.lstrip("/"))
    if not bucket or not key or key.endswith("/"):
        raise InvalidAsset(f"{url!r}: expected s3://BUCKET/KEY", field="path")
    return bucket, key


def _store(settings: AssetSettings, bucket: str) -> object:
    from ..store.s3 import S3Store

    return S3Store.from_settings(settings.model_copy(update={"s3_bucket": bucket, "s3_prefix": ""}))


def object_size(settings: AssetSettings, url: str) -> int:
    """Bytes of the object behind ``url``; NotFound or StorageError naming the problem."""
    from ..store.s3 import S3Store

    bucket, key = split(url)
    store = _store(settings, bucket)
    assert isinstance(store, S3Store)
    return store.size(key)


def fetch(settings: AssetSettings, url: str, folder: Path) -> Path:
    """Download the object to ``folder`` under its own file name (temp file + rename); returns the path."""
    from ..store.s3 import S3Store

    bucket, key = split(url)
    store = _store(settings, bucket)
    assert isinstance(store, S3Store)
    data = store.get(key)
    target = folder / Path(key).name
    fd, tmp = tempfile.mkstemp(prefix=".fetch.", dir=folder)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, target)
    return target
