"""The AssetStore protocol: objects addressed by the sha256 of their bytes.

A key is ``<first two hex digits>/<sha256>``; putting the same bytes twice stores nothing new.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from ..errors import InvalidAsset

Progress = Callable[[int], None]
"""Called with the number of bytes just transferred."""

_SHA = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 1024 * 1024
CACHE_IMMUTABLE = "public, max-age=31536000, immutable"
"""Cache-Control of every stored object: a key is its content's sha256, so its bytes never change."""


@dataclass(frozen=True, slots=True)
class StoredObject:
    """A stored file: key, sha256, bytes, and whether this put created it."""
    key: str
    sha256: str
    bytes: int
    created: bool
    """False when the store already held these bytes."""


def object_key(sha256: str) -> str:
    """Return the storage key ``xx/<sha256>`` of a sha256 hex digest; InvalidAsset otherwise."""
    if not _SHA.match(sha256):
        raise InvalidAsset(f"{sha256!r} is not a sha256 hex digest", field="sha256")
    return f"{sha256[:2]}/{sha256}"


def sha_of_key(key: str) -> str:
    """Return the sha256 of a storage key; InvalidAsset when it is not ``xx/<sha256>``."""
    head, _, sha = key.partition("/")
    if not _SHA.match(sha) or head != sha[:2]:
        raise InvalidAsset(f"{key!r} is not an object key", field="key")
    return sha


def file_sha256(path: Path) -> str:
    """Return the sha256 hex digest of a file, read in chunks."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


@runtime_checkable
class AssetStore(Protocol):
    """put/get/exists/presign/delete by sha256 key. Implementations raise StorageError when the
    service fails and NotFound for a missing key."""

    name: str

    def put(self, path: Path, *, content_type: str = "application/octet-stream",
            progress: Progress | None = None) -> StoredObject:
        """Store a file under its sha256 key (nothing new when it is there); returns the StoredObject."""

    def get(self, key: str) -> bytes:
        """Return the bytes stored under ``key``; NotFound when missing."""

    def exists(self, key: str) -> bool:
        """True when an object is stored under ``key``."""

    def size(self, key: str) -> int:
        """Return the size in bytes of the object under ``key``; NotFound when missing."""

    def presign(self, key: str, seconds: int) -> str | None:
        """A URL a client can GET without credentials, or None when the store has none (local)."""
        ...

    def delete(self, key: str) -> None:
        """Delete the object under ``key`` (no error when missing)."""

    def describe(self) -> str:
        """Where the objects live, for summaries (a folder or s3://bucket/prefix)."""
        ...
