"""Camera frames of the mirror -> QR and 1-D codes, in memory only.

The frame's bytes are decoded with OpenCV into an array, searched by ``tryon.codes.decode_codes`` and
dropped; nothing of the image is written, logged, stored or sent anywhere. Errors name the problem,
never the content.
"""

from __future__ import annotations

from typing import Any

from .errors import RetailError

JPEG = b"\xff\xd8\xff"
PNG = b"\x89PNG\r\n\x1a\n"


def decode_frame(data: bytes, max_bytes: int, max_pixels: int) -> list[dict[str, Any]]:
    """Codes found in a JPEG or PNG frame: ``[{"kind", "text", "box"}]`` (box: [x, y, w, h] pixels)."""
    import cv2
    import numpy as np

    if len(data) > max_bytes:
        raise RetailError("too_large", f"frame of {len(data)} bytes exceeds {max_bytes}", field="frame")
    if not (data.startswith(JPEG) or data.startswith(PNG)):
        raise RetailError("bad_frame", "the frame must be a JPEG or PNG image", field="frame")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise RetailError("bad_frame", "the frame is not a decodable image", field="frame")
    h, w = image.shape[:2]
    if h * w > max_pixels:
        raise RetailError("too_large", f"frame of {w}x{h} pixels exceeds {max_pixels} pixels", field="frame")
    from tryon.codes import decode_codes

    found = []
    for code in decode_codes(image):
        box = getattr(code, "box", None)
        found.append({"kind": str(code.kind), "text": str(code.text),
                      "box": [int(v) for v in box] if box is not None else None})
    del image
    return found
