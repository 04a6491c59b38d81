"""Write files all-or-nothing: temporary files in the target folders, renamed over the targets only when
every one of them is complete; on any failure the temporary files are removed and no target changes."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from ..errors import AssetError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_target(path: Path, field: str | None = None, example: str | None = None) -> None:
    """Raise AssetError if ``path`` cannot be a file to write: it is an existing folder."""
    if Path(path).is_dir():
        name = example or f"model{Path(path).suffix or '.glb'}"
        raise AssetError(f"is a folder; give the file to write, e.g. {Path(path) / name}", path=path, field=field)


def write_files_atomic(files: list[tuple[Path, bytes]],
                       check: Callable[[list[tuple[Path, Path]]], None] | None = None) -> None:
    """Write several files together (an output and its LODs): all of them appear, or none.

    A target that is a folder, or a folder that cannot be written, raises AssetError and nothing is written.
    ``check`` is called with (temporary file, target) pairs once every file is written and before any is
    renamed; whatever it raises leaves nothing behind.
    """
    for path, _ in files:
        check_target(path)
    temps: list[tuple[str, Path]] = []
    mode = 0o666 & ~_umask()
    current = files[0][0] if files else Path()
    try:
        for path, data in files:
            current = path
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
            temps.append((tmp, path))
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, mode)
        if check is not None:
            check([(Path(tmp), path) for tmp, path in temps])
        for tmp, path in temps:
            current = path
            os.replace(tmp, path)
    except BaseException as exc:
        for tmp, _ in temps:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        if isinstance(exc, OSError):
            raise AssetError(f"cannot write: {exc.strerror or exc}", path=current) from None
        raise


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write one file all-or-nothing (temporary file in its folder, then renamed over it)."""
    write_files_atomic([(path, data)])
