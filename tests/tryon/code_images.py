"""Camera-like frames holding barcodes and QR codes, generated (python-barcode, OpenCV's QR encoder), seeded."""

from __future__ import annotations

import cv2
import numpy as np


def barcode_patch(kind: str, digits: str, module_px: int = 3) -> np.ndarray:
    """A printed 1-D barcode (ean13, upca, code128) with its quiet zone, as a BGR image."""
    import barcode
    from barcode.writer import ImageWriter

    dpi = round(module_px * 25.4 / 0.33)
    img = barcode.get(kind, digits, writer=ImageWriter()).render(
        {"write_text": False, "module_width": 0.33, "module_height": 15.0, "quiet_zone": 4.0, "dpi": dpi})
    return cv2.cvtColor(np.array(img.convert("RGB")), cv2.COLOR_RGB2BGR)


def qr_patch(text: str, module_px: int = 6) -> np.ndarray:
    """A QR code with a white border, as a BGR image."""
    code = cv2.QRCodeEncoder.create().encode(text)
    code = cv2.resize(code, None, fx=module_px, fy=module_px, interpolation=cv2.INTER_NEAREST)
    code = cv2.copyMakeBorder(code, 4 * module_px, 4 * module_px, 4 * module_px, 4 * module_px, cv2.BORDER_CONSTANT,
                              value=255)
    return cv2.cvtColor(code, cv2.COLOR_GRAY2BGR)


def camera_frame(patches: list[tuple[np.ndarray, tuple[int, int]]], size: tuple[int, int] = (720, 960),
                 seed: int = 0, angle: float = 3.0, background: np.ndarray | None = None) -> np.ndarray:
    """Patches pasted at (x, y) on a textured background, turned by ``angle`` degrees, blurred, noised and
    JPEG-compressed like a mirror camera's frame."""
    rng = np.random.default_rng(seed)
    h, w = size
    if background is None:
        frame = cv2.GaussianBlur(rng.normal(140, 30, (h, w, 3)).clip(0, 255).astype(np.uint8), (9, 9), 0)
    else:
        frame = cv2.resize(background, (w, h))
    for patch, (x, y) in patches:
        ph, pw = patch.shape[:2]
        frame[y:y + ph, x:x + pw] = patch
    rot = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    frame = cv2.warpAffine(frame, rot, (w, h), borderMode=cv2.BORDER_REPLICATE)
    frame = cv2.GaussianBlur(frame, (3, 3), 0)
    frame = (frame + rng.normal(0, 3, frame.shape)).clip(0, 255).astype(np.uint8)
    ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok
    return cv2.imdecode(jpeg, cv2.IMREAD_COLOR)
