"""Write files all-or-nothing: temporary files in the target folders, renamed over the targets only when
every one of them is complete; on any failure the temporary files are removed and no target changes."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_files_atomic(files: list[tuple[Path, bytes]]) -> None:
    """Write several files together (an output and its LODs): all of them appear, or none."""
    temps: list[tuple[str, Path]] = []
    mode = 0o666 & ~_umask()
    try:
        for path, data in files:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
            temps.append((tmp, path))
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, mode)
        for tmp, path in temps:
            os.replace(tmp, path)
    except BaseException:
        for tmp, _ in temps:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        raise


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write one file all-or-nothing (temporary file in its folder, then renamed over it)."""
    write_files_atomic([(path, data)])
