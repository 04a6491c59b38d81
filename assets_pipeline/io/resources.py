"""Resolve the external files an asset names (buffers, images, MTL libraries) safely.

Only files inside the asset's own folder are read: absolute paths, drive letters, ``..`` segments that
climb out, and links leaving the folder are refused with :class:`UnsafeURI`. Sizes are capped by
:class:`Limits`. ``data:`` URIs are decoded here too.
"""

from __future__ import annotations

import base64
import binascii
import re
from pathlib import Path
from urllib.parse import unquote

from ..errors import InvalidAsset, LimitExceeded, UnsafeURI
from ..limits import Limits

_DATA_URI = re.compile(r"^data:([^;,]*)(;base64)?,", re.IGNORECASE)
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


class ResourceResolver:
    """Reads files a model refers to, only inside the model's folder and within the limits."""

    def __init__(self, asset_path: Path, limits: Limits) -> None:
        self.asset_path = asset_path
        self.root = asset_path.parent.resolve()
        self.limits = limits

    def read_uri(self, uri: str, field: str) -> tuple[bytes, str | None]:
        """Bytes behind a glTF URI and the MIME type a data URI declares."""
        m = _DATA_URI.match(uri)
        if m:
            payload = uri[m.end():]
            if len(payload) * 3 // 4 > self.limits.max_file_bytes:
                raise LimitExceeded("data URI bytes", len(payload) * 3 // 4, self.limits.max_file_bytes,
                                    path=self.asset_path, field=field)
            try:
                data = base64.b64decode(payload, validate=True) if m.group(2) else unquote(payload).encode()
            except (binascii.Error, ValueError) as exc:
                raise InvalidAsset(f"malformed data URI ({exc})", path=self.asset_path, field=field) from None
            return data, m.group(1) or None
        return self.read_relative(unquote(uri), field), None

    def locate(self, name: str, field: str, *, lenient: bool = False) -> Path:
        """Path of a file named relative to the asset; refuses anything outside the asset's folder.

        ``lenient`` (OBJ/MTL): backslashes are folder separators and, when the named path does not exist,
        the bare file name is looked up in the asset's folder (exporters often write their own paths).
        """
        raw = name.strip()
        if lenient:
            raw = raw.replace("\\", "/")
        if (raw.startswith(("/", "\\")) or re.match(r"^[a-zA-Z]:[\\/]", raw) or _SCHEME.match(raw)) and not lenient:
            raise UnsafeURI(f"refusing absolute or remote URI {name!r}", path=self.asset_path, field=field)
        if raw.startswith("/") or re.match(r"^[a-zA-Z]:", raw):
            raw = raw.rsplit("/", 1)[-1]  # lenient: an absolute path from the exporter's disk; try the bare name
        candidate = (self.root / raw).resolve()
        if not candidate.is_relative_to(self.root):
            raise UnsafeURI(f"refusing URI {name!r} that points outside the asset's folder",
                            path=self.asset_path, field=field)
        if lenient and not candidate.is_file():
            alt = (self.root / raw.rsplit("/", 1)[-1]).resolve()
            if alt.is_file() and alt.is_relative_to(self.root):
                candidate = alt
        if not candidate.is_file():
            raise InvalidAsset(f"file {name!r} not found", path=self.asset_path, field=field)
        return candidate

    def read_relative(self, name: str, field: str, *, lenient: bool = False) -> bytes:
        """Return the bytes of a file named relative to the asset (see ``locate``); LimitExceeded when too large."""
        path = self.locate(name, field, lenient=lenient)
        size = path.stat().st_size
        if size > self.limits.max_file_bytes:
            raise LimitExceeded("file bytes", size, self.limits.max_file_bytes, path=self.asset_path, field=field)
        return path.read_bytes()


def check_input_file(path: Path, expected: str = "a file") -> None:
    """Raise InvalidAsset unless ``path`` is a file: it is missing, a folder, or something else."""
    if path.is_file():
        return
    if path.is_dir():
        raise InvalidAsset(f"is a folder, not a file (expected {expected})", path=path)
    if not path.exists():
        raise InvalidAsset("file not found", path=path)
    raise InvalidAsset("not a regular file", path=path)


def check_input_size(path: Path, limits: Limits) -> int:
    """The input file's size; InvalidAsset when it is not a file or empty, LimitExceeded past the limit."""
    check_input_file(path)
    size = path.stat().st_size
    if size > limits.max_file_bytes:
        raise LimitExceeded("file bytes", size, limits.max_file_bytes, path=path)
    if size == 0:
        raise InvalidAsset("file is empty", path=path)
    return size


def read_input(path: Path, limits: Limits) -> bytes:
    """The input file's bytes, after the size limit is checked."""
    check_input_size(path, limits)
    return path.read_bytes()
