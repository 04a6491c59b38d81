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


@dataclass(frozen=True, slots=True)
class StoredObject:
    key: str
    sha256: str
    bytes: int
    created: bool
    """False when the store already held these bytes."""


def object_key(sha256: str) -> str:
    if not _SHA.match(sha256):
        raise InvalidAsset(f"{sha256!r} is not a sha256 hex digest", field="sha256")
    return f"{sha256[:2]}/{sha256}"


def sha_of_key(key: str) -> str:
    head, _, sha = key.partition("/")
    if not _SHA.match(sha) or head != sha[:2]:
        raise InvalidAsset(f"{key!r} is not an object key", field="key")
    return sha


def file_sha256(path: Path) -> str:
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
            progress: Progress | None = None) -> StoredObject: ...

    def get(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...

    def size(self, key: str) -> int: ...

    def presign(self, key: str, seconds: int) -> str | None:
        """A URL a client can GET without credentials, or None when the store has none (local)."""
        ...

    def delete(self, key: str) -> None: ...

    def describe(self) -> str:
        """Where the objects live, for summaries (a folder or s3://bucket/prefix)."""
        ...
