"""Mirror camera frames: QR codes and barcodes read in memory into the room; bad frames refused clearly."""

from __future__ import annotations

import cv2
import httpx
import numpy as np

from tests.session_server.conftest import run

from .conftest import Shop
from .flows import Watcher, bearer, device, token


def qr_frame(text: str, ext: str = ".jpg") -> bytes:
    """A 640x480 frame holding a QR code of ``text``."""
    code = cv2.QRCodeEncoder.create().encode(text)
    code = cv2.resize(code, (code.shape[1] * 8, code.shape[0] * 8), interpolation=cv2.INTER_NEAREST)
    frame = np.full((480, 640, 3), 230, np.uint8)
    frame[60:60 + code.shape[0], 150:150 + code.shape[1]] = cv2.cvtColor(code, cv2.COLOR_GRAY2BGR)
    ok, data = cv2.imencode(ext, frame)
    assert ok
    return data.tobytes()


def test_qr_code_in_a_frame_becomes_an_item(shop: Shop) -> None:
    srv = shop.start()

    async def main() -> None:
        async with httpx.AsyncClient(base_url=srv.http) as http:
            mirror = await token(http, shop.keys["mirror"])
            async with Watcher(srv.http, mirror["room"], mirror["token"]) as m:
                r = await http.post("/api/rooms/paris-01/3/frame", headers=bearer(mirror["token"]),
                                    content=qr_frame("0614140000235"))
                assert r.status_code == 200, r.text
                assert [(c["kind"], c["text"]) for c in r.json()["codes"]] == [("qr", "0614140000235")]
                assert r.json()["results"][0]["status"] == "added"
                added = await m.wait(lambda op, d: op == "item.added")
                assert (added["sku"], added["source"]) == ("LIP-800", "qr")
                url = "https://shop.example/p/DRS-400?size=S&colour=red"  # a QR code holding a shop URL
                png = await http.post("/api/rooms/paris-01/3/frame", headers=device(shop.keys["mirror"]),
                                      content=qr_frame(url, ".png"))
                assert png.status_code == 200 and png.json()["results"][0]["sku"] == "DRS-400"
                empty = await http.post("/api/rooms/paris-01/3/frame", headers=bearer(mirror["token"]),
                                        content=cv2.imencode(".jpg", np.zeros((120, 160, 3), np.uint8))[1].tobytes())
                assert empty.status_code == 200 and empty.json() == {"codes": [], "results": []}

    run(main())


def test_bad_frames_are_refused(shop: Shop) -> None:
    srv = shop.start(max_frame_bytes=200_000, frames_per_second=1000)

    async def main() -> None:
        async with httpx.AsyncClient(base_url=srv.http) as http:
            mirror = await token(http, shop.keys["mirror"])
            h = bearer(mirror["token"])
            url = "/api/rooms/paris-01/3/frame"
            cases = [
                (h, b"\xff\xd8\xff\xe0 truncated jpeg", 422, "bad_frame"),
                (h, b"GIF89a......", 422, "bad_frame"),
                (h, b"", 422, "bad_frame"),
                (h, b"\xff\xd8\xff" + b"\0" * 300_000, 413, "too_large"),
                (device(shop.keys["reader"]), qr_frame("x"), 403, "forbidden"),
                (device(shop.keys["mirror4"]), qr_frame("x"), 403, "wrong_room"),
            ]
            for headers, body, status, code in cases:
                r = await http.post(url, headers=headers, content=body)
                assert (r.status_code, r.json()["error"]) == (status, code), r.text
                assert r.json()["field"] in ("frame", "room", "authorization")
                assert "truncated" not in r.text  # the frame's content is never echoed
            state = (await http.get("/api/rooms/paris-01/3", headers=h)).json()["state"]
            assert state["items"] == {}

    run(main())


def test_frame_flood_is_refused(shop: Shop) -> None:
    srv = shop.start(frames_per_second=1)

    async def main() -> None:
        async with httpx.AsyncClient(base_url=srv.http) as http:
            mirror = await token(http, shop.keys["mirror"])
            frame = qr_frame("nothing known")
            codes = [(await http.post("/api/rooms/paris-01/3/frame", headers=bearer(mirror["token"]),
                                      content=frame)).status_code for _ in range(3)]
            assert codes[0] == 200 and 429 in codes

    run(main())


def test_a_body_without_a_length_is_cut_off_at_the_limit(shop: Shop) -> None:
    srv = shop.start(max_frame_bytes=100_000)

    async def main() -> None:
        async def chunks():  # type: ignore[no-untyped-def]
            for _ in range(50):
                yield b"\xff\xd8\xff" + b"\0" * 10_000

        async with httpx.AsyncClient(base_url=srv.http) as http:
            mirror = await token(http, shop.keys["mirror"])
            r = await http.post("/api/rooms/paris-01/3/frame", headers=bearer(mirror["token"]), content=chunks())
            assert (r.status_code, r.json()["error"], r.json()["field"]) == (413, "too_large", "frame")
            big = await http.post("/api/readers/reads", headers=device(shop.keys["reader"]),
                                  content=b'{"reads": [' + b'{"tag": "A"},' * 30_000 + b'{"tag": "B"}]}')
            assert (big.status_code, big.json()["error"], big.json()["field"]) == (413, "too_large", "body")

    run(main())
