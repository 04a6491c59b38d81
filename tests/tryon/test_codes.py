"""tryon.codes: QR codes and EAN-13 / UPC-A / Code 128 barcodes in camera-like frames, with both decoders."""

from __future__ import annotations

import numpy as np
import pytest

from tryon.codes import Code, available_decoders, decode_codes
from tryon.errors import InvalidMedia

from .code_images import barcode_patch, camera_frame, qr_patch

URL = "https://shop.example/p/TSH-100?size=M&colour=navy"
DECODERS = available_decoders()
CASES = [("ean13", "400638133393", "ean13", "4006381333931"),
         ("upca", "03600029145", "upca", "036000291452"),
         ("code128", "TSH-100/M/white", "code128", "TSH-100/M/white")]


def test_zxing_is_installed_and_the_default() -> None:
    assert DECODERS == ["zxing", "opencv"]


@pytest.mark.parametrize("decoder", DECODERS)
@pytest.mark.parametrize(("kind", "data", "want_kind", "want_text"), CASES)
def test_one_barcode_in_a_frame(decoder: str, kind: str, data: str, want_kind: str, want_text: str) -> None:
    frame = camera_frame([(barcode_patch(kind, data), (200, 300))], seed=len(data))
    found = decode_codes(frame, decoder=decoder)  # type: ignore[arg-type]
    if decoder == "opencv" and kind == "code128":
        assert found == []  # OpenCV's barcode detector reads EAN/UPC only (see docs/benchmarks-codes.md)
        return
    assert [(c.kind, c.text) for c in found] == [(want_kind, want_text)]
    x, y, w, h = found[0].box
    assert 150 < x < 350 and 250 < y < 450 and w > 100 and h > 20


@pytest.mark.parametrize("decoder", DECODERS)
def test_a_qr_code_in_a_frame(decoder: str) -> None:
    frame = camera_frame([(qr_patch(URL), (500, 150))], seed=3)
    found = decode_codes(frame, decoder=decoder)  # type: ignore[arg-type]
    assert [(c.kind, c.text) for c in found] == [("qr", URL)]
    x, y, w, h = found[0].box
    assert 480 < x < 600 and 130 < y < 250 and 150 < w < 300 and 150 < h < 300


def test_several_codes_top_left_first() -> None:
    frame = camera_frame([(qr_patch("QR:SNK-500/42/white", 5), (600, 60)),
                          (barcode_patch("ean13", "400638133393"), (60, 300)),
                          (barcode_patch("code128", "JEA-300/32/denim"), (200, 520))], seed=7, angle=-2)
    found = decode_codes(frame)
    assert [(c.kind, c.text) for c in found] == [("qr", "QR:SNK-500/42/white"), ("ean13", "4006381333931"),
                                                 ("code128", "JEA-300/32/denim")]
    assert all(isinstance(c, Code) for c in found)


@pytest.mark.parametrize("decoder", DECODERS)
def test_frames_without_codes(decoder: str) -> None:
    from skimage import data

    face = np.ascontiguousarray(data.astronaut()[:, :, ::-1])  # a face, no code
    assert decode_codes(face, decoder=decoder) == []  # type: ignore[arg-type]
    assert decode_codes(camera_frame([], seed=11), decoder=decoder) == []  # type: ignore[arg-type]
    assert decode_codes(np.zeros((64, 64), np.uint8), decoder=decoder) == []  # type: ignore[arg-type]


def test_a_code_next_to_a_face_and_the_frame_is_left_as_it_was() -> None:
    from skimage import data

    face = np.ascontiguousarray(data.astronaut()[:, :, ::-1])
    frame = camera_frame([(qr_patch(URL, 4), (40, 40))], background=face, seed=5, angle=0)
    before = frame.copy()
    assert [c.text for c in decode_codes(frame)] == [URL]
    assert np.array_equal(frame, before)
    grey = np.ascontiguousarray(frame[:, :, 0])
    assert [c.text for c in decode_codes(grey)] == [URL]
    bgra = np.dstack([frame, np.full(frame.shape[:2], 255, np.uint8)])
    assert [c.text for c in decode_codes(bgra)] == [URL]


@pytest.mark.parametrize(("image", "words"), [
    (np.zeros((32, 32, 3), np.float32), "uint8"),
    ("not an image", "uint8"),
    (np.zeros((32, 32, 2), np.uint8), "shape"),
    (np.zeros((4, 400, 3), np.uint8), "too small"),
    (np.zeros((5000, 4000), np.uint8), "exceeds"),
])
def test_bad_images(image: object, words: str) -> None:
    with pytest.raises(InvalidMedia, match=words) as info:
        decode_codes(image)  # type: ignore[arg-type]
    assert info.value.field == "image"


def test_unknown_decoder() -> None:
    with pytest.raises(InvalidMedia, match="unknown decoder 'zbar'"):
        decode_codes(np.zeros((64, 64), np.uint8), decoder="zbar")  # type: ignore[arg-type]
