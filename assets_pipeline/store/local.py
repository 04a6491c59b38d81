"""LocalStore: objects as files in a folder, written to a temporary name and renamed into place."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from pathlib import Path

from ..errors import NotFound, StorageError
from .base import CHUNK, Progress, StoredObject, file_sha256, object_key, sha_of_key

logger = logging.getLogger(__name__)


class LocalStore:
    """An asset store in a local folder: files at ``<root>/xx/<sha256>``."""
    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def describe(self) -> str:
        """Return the store's folder, for messages."""
        return str(self.root.resolve())

    def path_of(self, key: str) -> Path:
        """Return the file path of a key (only valid ``xx/<sha256>`` keys: no path escapes)."""
        sha_of_key(key)  # refuses anything that is not <xx>/<sha256>: no path escapes
        return self.root / key

    def put(self, path: Path, *, content_type: str = "application/octet-stream",
            progress: Progress | None = None) -> StoredObject:
        """Copy a file into the store under its sha256 key (temp file + rename); returns the StoredObject."""
        sha = file_sha256(path)
        key = object_key(sha)
        target = self.path_of(key)
        size = path.stat().st_size
        if target.is_file() and target.stat().st_size == size:
            if progress:
                progress(size)
            return StoredObject(key, sha, size, created=False)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{sha[:16]}.", suffix=".part", dir=target.parent)
        except OSError as exc:
            raise StorageError(f"cannot write to the store folder: {exc.strerror}", path=self.root) from None
        try:
            with os.fdopen(fd, "wb") as out, path.open("rb") as src:
                while chunk := src.read(CHUNK):
                    out.write(chunk)
                    if progress:
                        progress(len(chunk))
                out.flush()
                os.fsync(out.fileno())
            if file_sha256(Path(tmp)) != sha:
                raise StorageError("checksum mismatch after copy", path=path)
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        logger.debug("stored %s (%d bytes)", key, size)
        return StoredObject(key, sha, size, created=True)

    def get(self, key: str) -> bytes:
        """Return the bytes stored under ``key``; NotFound when missing."""
        try:
            return self.path_of(key).read_bytes()
        except FileNotFoundError:
            raise NotFound("no such object in the store", field=key) from None

    def exists(self, key: str) -> bool:
        """True when a file is stored under ``key``."""
        return self.path_of(key).is_file()

    def size(self, key: str) -> int:
        """Return the size in bytes of the file under ``key``; NotFound when missing."""
        try:
            return self.path_of(key).stat().st_size
        except FileNotFoundError:
            raise NotFound("no such object in the store", field=key) from None

    def presign(self, key: str, seconds: int) -> str | None:
        """Return None: a local store has no presigned URLs (the API serves the file itself)."""
        return None

    def delete(self, key: str) -> None:
        """Delete the file under ``key`` (no error when missing)."""
        with contextlib.suppress(FileNotFoundError):
            self.path_of(key).unlink()

    def clear(self) -> None:
        """Remove the whole folder (tests)."""
        shutil.rmtree(self.root, ignore_errors=True)
