from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tryon import media
from tryon.errors import InvalidMedia


def test_read_corpus_image_as_rgb(corpus: Path) -> None:
    img = media.read_image(corpus / "images" / "face_man_suit.jpg")
    bgr = cv2.imread(str(corpus / "images" / "face_man_suit.jpg"))
    assert img.dtype == np.uint8 and img.shape == bgr.shape
    assert np.array_equal(img[..., ::-1], bgr)


def test_grayscale_file_is_expanded_to_rgb(tmp_path: Path) -> None:
    gray = np.tile(np.arange(64, dtype=np.uint8), (64, 1))
    cv2.imwrite(str(tmp_path / "g.png"), gray)
    img = media.read_image(tmp_path / "g.png")
    assert img.shape == (64, 64, 3) and np.array_equal(img[..., 0], gray)


@pytest.mark.parametrize(
    ("content", "message"), [(b"", "is empty"), (b"\xff\xd8\xff\xe0garbage" * 20, "not a readable image")]
)
def test_corrupt_and_empty_files(tmp_path: Path, content: bytes, message: str) -> None:
    p = tmp_path / "bad.jpg"
    p.write_bytes(content)
    with pytest.raises(InvalidMedia, match=message) as exc:
        media.read_image(p)
    assert str(p) in str(exc.value)


def test_truncated_jpeg_is_rejected_or_decoded(corpus: Path, tmp_path: Path) -> None:
    data = (corpus / "images" / "face_man_suit.jpg").read_bytes()
    p = tmp_path / "cut.jpg"
    p.write_bytes(data[:200])
    with pytest.raises(InvalidMedia):
        media.read_image(p)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidMedia, match="file not found"):
        media.read_image(tmp_path / "nope.jpg")


def test_write_is_atomic_and_leaves_no_temp(tmp_path: Path) -> None:
    frame = np.full((32, 48, 3), 200, np.uint8)
    media.write_image(tmp_path / "out.jpg", frame)
    assert [p.name for p in tmp_path.iterdir()] == ["out.jpg"]
    assert media.read_image(tmp_path / "out.jpg").shape == (32, 48, 3)
    with pytest.raises(InvalidMedia, match="unsupported image suffix"):
        media.write_image(tmp_path / "out.xyz", frame)
    with pytest.raises(InvalidMedia, match="output folder does not exist"):
        media.write_image(tmp_path / "no" / "out.jpg", frame)
    assert [p.name for p in tmp_path.iterdir()] == ["out.jpg"]


def test_video_read_and_write(corpus: Path, tmp_path: Path) -> None:
    src = corpus / "images" / "street_walking_720p50.avi"
    info = media.video_info(src)
    assert (info.width, info.height, info.frames) == (1280, 720, 205)
    assert info.fps == pytest.approx(50, abs=0.5)
    frames = list(media.read_video(src, limit=3))
    assert [round(t, 3) for t, _ in frames] == [0.0, 0.02, 0.04]
    with media.VideoWriter(tmp_path / "o.mp4", info.fps, (info.width, info.height)) as w:
        for _, f in frames:
            w.write(f)
    assert media.video_info(tmp_path / "o.mp4").frames == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.mp4"]


def test_failed_video_write_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), media.VideoWriter(tmp_path / "o.mp4", 25, (64, 48)) as w:
        w.write(np.zeros((48, 64, 3), np.uint8))
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_corrupt_video(tmp_path: Path) -> None:
    p = tmp_path / "bad.avi"
    p.write_bytes(b"RIFF" + b"\x00" * 500)
    with pytest.raises(InvalidMedia):
        list(media.read_video(p))


def test_sprite_needs_alpha(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "rgb.png"), np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(InvalidMedia, match="alpha"):
        media.read_sprite(tmp_path / "rgb.png")
    rgba = np.zeros((10, 20, 4), np.uint8)
    rgba[2:8, 3:15] = (0, 0, 255, 255)
    cv2.imwrite(str(tmp_path / "s.png"), rgba)
    s = media.read_sprite(tmp_path / "s.png")
    assert s.shape == (10, 20, 4) and tuple(s[5, 5]) == (255, 0, 0, 255)
