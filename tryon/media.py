"""Image, video and look files: the only file I/O of :mod:`tryon` (OpenCV codecs).

Frames are returned and accepted as RGB uint8 (h, w, 3). Outputs are written to a temporary file in
the target folder and renamed into place, so a failure never leaves a half-written file.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from tryon.errors import InvalidLook, InvalidMedia, ProcessingError
from tryon.look import Look, ProductSource, parse_look

if TYPE_CHECKING:
    from assets_pipeline.document import AssetDocument
    from tryon.shoes.sprite import ShoeViews

logger = logging.getLogger(__name__)

MAX_LOOK_BYTES = 1_000_000
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def _existing(path: Path) -> None:
    if not path.exists():
        raise InvalidMedia("file not found", path=str(path))
    if not path.is_file():
        raise InvalidMedia("is not a file", path=str(path))


def decode_image(data: bytes, source: str = "frame") -> np.ndarray:
    """Encoded image bytes (JPEG, PNG...) -> RGB uint8 (h, w, 3); grayscale files are expanded to RGB."""
    if not data:
        raise InvalidMedia("is empty", path=source)
    buf = np.frombuffer(data, dtype=np.uint8)
    img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if img is None:
        raise InvalidMedia("is not a readable image (corrupt or unsupported format)", path=source)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def encode_jpeg(frame: np.ndarray, quality: int = 85) -> bytes:
    """RGB uint8 frame -> JPEG bytes."""
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ProcessingError("JPEG encoding failed")
    return buf.tobytes()


def read_image(path: Path) -> np.ndarray:
    """Read an image file as RGB uint8 (h, w, 3)."""
    _existing(path)
    return decode_image(path.read_bytes(), str(path))


def _temp_for(path: Path) -> Path:
    return path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")


def write_image(path: Path, frame: np.ndarray, quality: int = 90) -> None:
    """Write an RGB uint8 frame; the format follows the suffix. Atomic (temp file + rename)."""
    from assets_pipeline import write_bytes_atomic

    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise InvalidMedia(f"unsupported image suffix {path.suffix!r}", path=str(path))
    if not path.parent.is_dir():
        raise InvalidMedia("output folder does not exist", path=str(path))
    ok, buf = cv2.imencode(path.suffix, cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ProcessingError("image encoding failed", path=str(path))
    write_bytes_atomic(path, buf.tobytes())


def read_look(path: Path, catalog: ProductSource | None = None) -> Look:
    """Read and validate a look JSON file; entries naming only a SKU are resolved against ``catalog``."""
    if not path.is_file():
        raise InvalidLook("file not found", path=str(path))
    if path.stat().st_size > MAX_LOOK_BYTES:
        raise InvalidLook(f"is larger than {MAX_LOOK_BYTES} bytes", path=str(path))
    return parse_look(path.read_bytes(), str(path), catalog)


def write_file(path: Path, data: bytes) -> None:
    """Write bytes atomically (temp file + rename), creating the folder; concurrent writers of the same
    content are harmless (the last rename wins)."""
    from assets_pipeline import write_bytes_atomic

    write_bytes_atomic(path, data)


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    _existing(path)
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


_VIEW_NAMES = ("side", "front", "back")
_SPRITE_ARRAYS = ("rgba", "anchor", "collar", "sole_center", "span")


def write_views(path: Path, views: ShoeViews) -> None:
    """Save rendered shoe views as one ``.npz`` (atomic)."""
    arrays = {
        f"{name}.{field}": np.asarray(getattr(views.get(name), field))  # type: ignore[arg-type]
        for name in _VIEW_NAMES
        for field in _SPRITE_ARRAYS
    }
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # type: ignore[arg-type]
    write_file(path, buf.getvalue())


def read_views(path: Path) -> ShoeViews | None:
    """Shoe views saved by :func:`write_views`; None if the file is missing or unreadable (then re-render)."""
    from tryon.shoes.sprite import ShoeSprite, ShoeViews

    try:
        with np.load(io.BytesIO(path.read_bytes()), allow_pickle=False) as z:
            parts = [{field: z[f"{name}.{field}"] for field in _SPRITE_ARRAYS} for name in _VIEW_NAMES]
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        logger.warning("ignoring an unreadable shoe view cache file %s", path)
        return None
    sprites = [ShoeSprite(name, **{**p, "span": float(p["span"])}) for name, p in zip(_VIEW_NAMES, parts, strict=True)]
    return ShoeViews(*sprites)


def read_sprite(path: Path) -> np.ndarray:
    """Read a product image with transparency as RGBA uint8 (h, w, 4)."""
    _existing(path)
    img = cv2.imdecode(np.frombuffer(path.read_bytes(), dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise InvalidMedia("is not a readable image (corrupt or unsupported format)", path=str(path))
    if img.ndim != 3 or img.shape[2] != 4:
        raise InvalidMedia("needs an alpha channel (transparent background)", path=str(path))
    if img.dtype != np.uint8:
        img = (img >> 8).astype(np.uint8)
    return cv2.cvtColor(img, cv2.COLOR_BGRA2RGBA)


def read_document(path: Path) -> AssetDocument:
    """Read a product's 3D model (GLB, glTF, OBJ, STL, PLY) with the asset pipeline's public reader, which reads
    what its publishing writes (meshopt, quantized attributes, WebP) and keeps glTF vertex colours."""
    _existing(path)
    from assets_pipeline import AssetError, read

    try:
        return read(path)
    except AssetError as exc:
        raise InvalidMedia(f"is not a readable 3D model ({exc.problem})", path=str(path)) from None


@dataclass(frozen=True, slots=True)
class VideoInfo:
    """A video's frame size, frame rate and frame count."""
    width: int
    height: int
    fps: float
    frames: int


def video_info(path: Path) -> VideoInfo:
    """Return a video file's size, fps and frame count; InvalidMedia when it is not a readable video."""
    _existing(path)
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise InvalidMedia("is not a readable video", path=str(path))
        info = VideoInfo(
            int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            float(cap.get(cv2.CAP_PROP_FPS)) or 30.0,
            int(cap.get(cv2.CAP_PROP_FRAME_COUNT)),
        )
    finally:
        cap.release()
    if info.width <= 0 or info.height <= 0:
        raise InvalidMedia("is not a readable video", path=str(path))
    return info


def read_video(path: Path, limit: int | None = None) -> Iterator[tuple[float, np.ndarray]]:
    """Yield (time in seconds, RGB frame) for each frame, at most ``limit`` frames."""
    info = video_info(path)
    cap = cv2.VideoCapture(str(path))
    try:
        i = 0
        while limit is None or i < limit:
            ok, bgr = cap.read()
            if not ok:
                break
            yield i / info.fps, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            i += 1
        if i == 0:
            raise InvalidMedia("has no decodable frames", path=str(path))
    finally:
        cap.release()


class VideoWriter:
    """MP4 (mp4v) writer that renames into place on :meth:`close` and removes the temp file on failure."""

    def __init__(self, path: Path, fps: float, size: tuple[int, int]) -> None:
        if not path.parent.is_dir():
            raise InvalidMedia("output folder does not exist", path=str(path))
        self.path = path
        self._tmp = _temp_for(path)
        fourcc = cv2.VideoWriter_fourcc(*("mp4v" if path.suffix.lower() in {".mp4", ".m4v", ".mov"} else "MJPG"))
        self._writer = cv2.VideoWriter(str(self._tmp), fourcc, fps, size)
        if not self._writer.isOpened():
            raise ProcessingError("cannot open a video encoder", path=str(path))
        self.size = size

    def write(self, frame: np.ndarray) -> None:
        """Append one RGB (h, w, 3) uint8 frame."""
        self._writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))

    def close(self, ok: bool = True) -> None:
        """Finish the file: renamed into place when ``ok``, the temporary file removed otherwise."""
        self._writer.release()
        if ok:
            self._tmp.replace(self.path)
        else:
            with contextlib.suppress(FileNotFoundError):
                self._tmp.unlink()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.close(ok=exc_type is None)
