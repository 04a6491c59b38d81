"""One whole visit to smart fitting room 3 of store paris-01, played against a running session server.

    python -m session_server &                                   # in this folder (same .phygital/ catalog)
    python samples/fitting_room_visit.py --url http://127.0.0.1:8700 [--frames DIR]

It seeds what it needs through the CLIs, in this folder (store, fitting rooms, stock and tags from
samples/fitting/*.csv, a try-on shade for the lipstick, device keys for a mirror, a reader and a staff
tablet), then plays every part:

1. the reader reads three garments (and an unknown tag) again and again: each becomes one item;
2. the mirror's camera sees a QR code (its own frames, or the JPEGs in --frames): one more item;
3. the mirror shows recommendations for each item;
4. a phone pairs through the mirror's one-time code and sees the same items; a second phone is refused;
5. "bring me size S": the staff tablet sees it, accepts it, delivers it; the mirror shows each state;
   delivering it again is refused;
6. the shopper agrees to keep a wishlist, saves a look, reads it back and deletes everything;
7. the lipstick is tried on: the mirror's frames come back rendered with the room's look;
8. the visit ends on the mirror: the room is cleared and the phone unpaired;
9. the store's analytics count the visit without any identifier.

Prints one line per step and exits 0 only if every step was seen.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect

from session_server.client import SessionClient

HERE = Path(__file__).resolve().parent
STORE, ROOM = "paris-01", "3"
TAGS = {  # from samples/fitting/tags.csv and the barcodes of samples/fitting/stock.csv
    "3034257BF0000280000003E9": "JEA-300",
    "3034257BF0000440000007D1": "SNK-500",
    "0614140000020": "TSH-100",
}
UNKNOWN_TAG = "E28011606000020000000001"
QR_TEXT = "0614140000235"  # the lipstick LIP-800's barcode, shown to the camera as a QR code


class Steps:
    """What was seen, in order."""

    def __init__(self) -> None:
        self.results: list[tuple[str, bool, str]] = []

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        """Record and print one step."""
        self.results.append((name, ok, detail))
        print(f"{'ok     ' if ok else 'MISSING'} {name}{': ' + detail if detail else ''}", flush=True)
        return ok


def cli(*args: str) -> str:
    """Run a CLI of this checkout in this folder; its stdout (exit on failure)."""
    out = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        sys.exit(f"error: {' '.join(args[:3])}: {out.stderr.strip() or out.stdout.strip()}")
    return out.stdout


def seed() -> dict[str, str]:
    """Store, stock, tags, a try-on shade and three device keys; returns the keys by device kind."""
    fitting = HERE / "fitting"
    cli("assets_pipeline", "stores", "import", str(fitting / "stores.csv"))
    cli("assets_pipeline", "stores", "stock", "import", str(fitting / "stock.csv"))
    cli("assets_pipeline", "stores", "tags", "import", str(fitting / "tags.csv"))
    cli("assets_pipeline", "tryon", "LIP-800", "--kind", "lipstick", "--shade", "#A3162B", "--finish", "matte")
    keys = {}
    for kind in ("mirror", "reader", "staff"):
        room = ["--room", ROOM] if kind != "staff" else []
        keys[kind] = json.loads(cli("session_server", "devices", "add", "--store", STORE, "--kind", kind, *room,
                                    "--label", f"sample {kind}", "--json"))["key"]
    return keys


def qr_frame(text: str) -> bytes:
    """A 640x480 JPEG of a shelf with a QR code holding ``text`` (what a mirror camera would see)."""
    import cv2
    import numpy as np

    code = cv2.QRCodeEncoder.create().encode(text)
    code = cv2.resize(code, (code.shape[1] * 8, code.shape[0] * 8), interpolation=cv2.INTER_NEAREST)
    frame = np.full((480, 640, 3), 235, np.uint8)
    h, w = code.shape[:2]
    frame[100:100 + h, 200:200 + w] = cv2.cvtColor(code, cv2.COLOR_GRAY2BGR)
    ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return jpeg.tobytes()


class Watcher:
    """A room client that remembers every delta it saw."""

    def __init__(self, ws_url: str, room: str, token: str) -> None:
        self.deltas: list[tuple[str, dict[str, Any]]] = []
        self.client = SessionClient(ws_url, room, token, on_delta=self._seen)
        self.changed = asyncio.Event()

    def _seen(self, delta: Any) -> None:
        self.deltas.append((delta.op, dict(delta.data)))
        self.changed.set()

    async def wait(self, pred: Callable[[str, dict[str, Any]], bool], timeout: float = 10.0) -> dict[str, Any] | None:
        """The first delta (seen so far or within ``timeout``) for which ``pred(op, data)`` holds."""
        deadline = time.monotonic() + timeout
        while True:
            for op, data in self.deltas:
                if pred(op, data):
                    return data
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), left)

    def state(self) -> dict[str, Any]:
        """The mirrored room state as a dict."""
        st = self.client.mirror.state
        snap = getattr(st, "snapshot", None)
        return dict(snap()) if callable(snap) else {}


def _item_of(data: dict[str, Any]) -> dict[str, Any]:
    item = data.get("item")
    return item if isinstance(item, dict) else data


async def visit(url: str, frames_dir: Path | None, keys: dict[str, str]) -> Steps:
    """Play the visit; every step's outcome in the returned Steps."""
    steps = Steps()
    ws_url = url.replace("http", "ws", 1).rstrip("/") + "/ws"
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        dev = {k: {"Authorization": f"Device {v}"} for k, v in keys.items()}
        mirror_tok = (await http.post("/api/devices/token", headers=dev["mirror"])).json()
        staff_tok = (await http.post("/api/devices/token", headers=dev["staff"])).json()
        mirror = Watcher(ws_url, mirror_tok["room"], mirror_tok["token"])
        staff = Watcher(ws_url, staff_tok["room"], staff_tok["token"])
        await mirror.client.connect()
        await staff.client.connect()
        as_mirror = {"Authorization": f"Bearer {mirror_tok['token']}"}
        as_staff = {"Authorization": f"Bearer {staff_tok['token']}"}
        room_api = f"/api/rooms/{STORE}/{ROOM}"
        await http.post(f"{room_api}/visit/end", headers=as_mirror)  # a clean room to start with

        # 1. the reader, for a few seconds: a read every 0.3 s of each garment
        statuses: list[str] = []
        for _ in range(10):
            r = await http.post("/api/readers/reads", headers=dev["reader"],
                                json={"reads": [{"tag": t, "rssi": -50} for t in [*TAGS, UNKNOWN_TAG]]})
            statuses += [x["status"] for x in r.json().get("results", [])]
            await asyncio.sleep(0.3)
        for sku in TAGS.values():
            seen = await mirror.wait(lambda op, d, sku=sku: op == "item.added" and _item_of(d).get("sku") == sku)
            steps.check(f"reader: {sku} shown on the mirror", seen is not None)
        added = [d for op, d in mirror.deltas if op == "item.added"]
        steps.check("reader: 40 reads of 4 tags made 4 items (debounce)", len(added) == 4 and
                    statuses.count("added") == 4, f"{statuses.count('added')} added, "
                    f"{statuses.count('debounced')} debounced")
        unknown = await mirror.wait(lambda op, d: op == "item.added" and _item_of(d).get("known") is False)
        steps.check("reader: an unknown tag is shown as unknown", unknown is not None)

        # 2. camera frames
        frames = sorted(p for p in (frames_dir or Path("/nonexistent")).glob("*") if p.suffix.lower() in
                        (".jpg", ".jpeg", ".png"))[:20] if frames_dir else []
        bodies = [p.read_bytes() for p in frames] or [qr_frame(QR_TEXT)]
        codes = 0
        for body in bodies:
            r = await http.post(f"{room_api}/frame", headers=as_mirror, content=body,
                                params=None)
            codes += len(r.json().get("codes", [])) if r.status_code == 200 else 0
            await asyncio.sleep(0.15)
        steps.check("mirror camera: codes found in the frames", codes > 0, f"{len(bodies)} frame(s), {codes} code(s)")
        if not frames:
            seen = await mirror.wait(lambda op, d: op == "item.added" and _item_of(d).get("sku") == "LIP-800")
            steps.check("mirror camera: the lipstick's QR code made an item", seen is not None)

        # 3. recommendations
        recs = await mirror.wait(lambda op, d: op == "recs.set", timeout=15)
        steps.check("mirror: recommendations for the items", recs is not None)

        # 4. pairing
        code = (await http.post(f"{room_api}/pairing", headers=as_mirror)).json()
        phone_tok = (await http.post("/api/pairing", json={"code": code["code"]})).json()
        paired = "token" in phone_tok
        steps.check("phone: paired with the mirror's one-time code", paired,
                    f"code {code['code']} -> {phone_tok.get('participant')}" if paired else phone_tok.get("error", ""))
        again = await http.post("/api/pairing", json={"code": code["code"]})
        steps.check("phone: the same code is refused the second time", again.status_code in (404, 409, 410),
                    again.json().get("error", ""))
        phone = Watcher(ws_url, phone_tok.get("room", ""), phone_tok.get("token", ""))
        if paired:
            await phone.client.connect()
            same = set(phone.state().get("items") or {}) == set(mirror.state().get("items") or {})
            steps.check("phone: sees the same items as the mirror", same and bool(phone.state().get("items")))
        code2 = (await http.post(f"{room_api}/pairing", headers=as_mirror)).json()
        print(f"        (the mirror's next pairing code: {code2['code']})")
        second = await http.post("/api/pairing", json={"code": code2["code"]})
        steps.check("phone: a second phone is refused while one is paired", second.status_code == 409 and
                    second.json().get("error") == "already_paired", second.json().get("message", ""))

        # 5. a request to the staff
        shirt = next((iid for iid, it in (mirror.state().get("items") or {}).items() if it.get("sku") == "TSH-100"),
                     None)
        as_phone = {"Authorization": f"Bearer {phone_tok.get('token', '')}"}
        req = await http.post(f"{room_api}/requests", headers=as_phone, json={"kind": "size", "item": shirt,
                                                                               "size": "S"})
        rid = req.json().get("id")
        steps.check("phone: 'bring me size S' stored", req.status_code == 201, req.json().get("message", ""))
        seen = await staff.wait(lambda op, d: op == "request.created")
        steps.check("staff: the request shows on the tablet", seen is not None)
        for action, state in (("accept", "accepted"), ("deliver", "delivered")):
            r = await http.post(f"/api/requests/{rid}/{action}", headers=as_staff)
            seen = await mirror.wait(lambda op, d, state=state: op == "request.updated" and d.get("state") == state)
            steps.check(f"mirror: the request shows {state}", r.status_code == 200 and seen is not None)
        r = await http.post(f"/api/requests/{rid}/deliver", headers=as_staff)
        steps.check("staff: delivering it again is refused", r.status_code == 409 and r.json().get("error") ==
                    "conflict", r.json().get("message", ""))

        # 6. consent and wishlist
        c = (await http.post(f"{room_api}/consent", headers=as_phone, json={"wishlist": True})).json()
        as_shopper = {"Authorization": f"Shopper {c.get('key', '')}"}
        await http.post("/api/wishlist", headers=as_shopper, json={"sku": "JEA-300", "size": "32", "colour": "denim",
                                                                   "look": ["SNK-500"], "store": STORE})
        wl = (await http.get("/api/wishlist", headers=as_shopper)).json()
        steps.check("phone: wishlist kept with consent", len(wl.get("entries", [])) == 1,
                    f"shopper {c.get('shopper')}")
        gone = (await http.delete("/api/wishlist", headers=as_shopper)).json()
        after = await http.get("/api/wishlist", headers=as_shopper)
        steps.check("phone: one call deleted everything about the shopper", after.status_code == 401,
                    json.dumps(gone.get("deleted")))

        # 7. try-on of the lipstick on the mirror's frames
        await mirror.client.request("look.set", skus=["LIP-800"], active=True)
        rendered = await try_on(ws_url.removesuffix("/ws") + "/tryon/live", mirror_tok["token"], bodies[0])
        steps.check("mirror: frames rendered with the room's look (lipstick)", rendered is not None,
                    json.dumps(rendered or {}))

        # 8. end of the visit (only a clear after this one counts: the room may have been cleared at the start)
        mirror.deltas.clear()
        await http.post(f"{room_api}/visit/end", headers=as_mirror)
        cleared = await mirror.wait(lambda op, d: op == "visit.cleared")
        steps.check("mirror: visit ended, room cleared", cleared is not None and not mirror.state().get("items"))
        unpaired = await phone.wait(lambda op, d: op in ("phone.unpaired", "visit.cleared")) if paired else None
        steps.check("phone: unpaired", unpaired is not None)

        # 9. analytics
        await asyncio.sleep(0.5)
        a = (await http.get(f"/api/stores/{STORE}/analytics", headers=as_staff)).json()
        counts = a.get("counts", {})
        steps.check("staff: anonymous analytics counted the visit", counts.get("item_tried", 0) >= 3 and
                    counts.get("request_made", 0) >= 1, json.dumps(counts))
        for w in (mirror, staff, phone):
            if w.client.participant:
                await w.client.close()
    return steps


async def try_on(url: str, token: str, frame: bytes) -> dict[str, Any] | None:
    """Bind /tryon/live to the room, send one frame; the rendered frame's metadata (None if none came)."""
    async with connect(url, max_size=None) as ws:
        await ws.send(json.dumps({"type": "room", "token": token}))
        bound = json.loads(await asyncio.wait_for(ws.recv(), 30))
        if bound.get("type") != "room":
            return None
        await ws.send(frame)
        for _ in range(4):
            msg = await asyncio.wait_for(ws.recv(), 60)
            if isinstance(msg, str) and json.loads(msg).get("type") == "frame":
                meta: dict[str, Any] = json.loads(msg)
                image = await asyncio.wait_for(ws.recv(), 30)
                return {"seq": meta["seq"], "faces": meta["faces"], "jpeg_bytes": len(image)}
    return None


def main() -> int:
    """Seed, play the visit, report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    port = os.environ.get("PHYGITAL_SESSION_PORT", "8700")
    parser.add_argument("--url", default=f"http://127.0.0.1:{port}",
                        help="the session server (default: the PHYGITAL_SESSION_PORT the server reads, 8700)")
    parser.add_argument("--frames", type=Path, help="folder of JPEG/PNG camera frames (default: generated)")
    args = parser.parse_args()
    if args.frames is not None and not args.frames.is_dir():
        sys.exit(f"error: --frames: {args.frames} is not a folder")
    try:
        httpx.get(args.url.rstrip("/") + "/health", timeout=5).raise_for_status()
    except httpx.HTTPError as exc:
        sys.exit(f"error: --url: no session server at {args.url} ({exc})")
    keys = seed()
    steps = asyncio.run(visit(args.url.rstrip("/"), args.frames, keys))
    missing = [name for name, ok, _ in steps.results if not ok]
    print(f"{len(steps.results) - len(missing)}/{len(steps.results)} steps seen" +
          (f"; missing: {', '.join(missing)}" if missing else ""))
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
