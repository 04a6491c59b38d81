"""The fitting-room pages in Chromium: an RFID reader's tags on the mirror, a size request accepted on the
staff tablet, the phone paired from the mirror's code (consent, a saved look, everything deleted), and the
pages resuming after their server process is killed under Redis scale-out."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT, TIME_FACTOR

from .conftest import OUT, launch, redis_prefix, save_timing, wait_js

STORE, ROOM = "paris-01", "3"
ROOM_ID = f"fit.{STORE}.{ROOM}"
TAGS = ["3034257BF0000280000003E9", "3034257BF0000440000007D1", "0614140000020"]  # JEA-300, SNK-500, TSH-100


def cli(env: dict[str, str], cwd: Path, *args: str) -> str:
    """Run a CLI of this checkout; its stdout."""
    out = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, cwd=cwd, timeout=120,
                         env={**os.environ, **env, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.fixture(scope="module")
def store(catalog: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The sample store (samples/fitting) in the catalog, and device keys for a mirror, a reader and staff."""
    cwd = tmp_path_factory.mktemp("store")
    fitting = ROOT / "samples" / "fitting"
    cli(catalog, cwd, "assets_pipeline", "stores", "import", str(fitting / "stores.csv"))
    cli(catalog, cwd, "assets_pipeline", "stores", "stock", "import", str(fitting / "stock.csv"))
    cli(catalog, cwd, "assets_pipeline", "stores", "tags", "import", str(fitting / "tags.csv"))
    keys = {}
    for kind in ("mirror", "reader", "staff"):
        room = ["--room", ROOM] if kind != "staff" else []
        out = cli(catalog, cwd, "session_server", "devices", "add", "--store", STORE, "--kind", kind, *room, "--json")
        keys[kind] = json.loads(out)["key"]
    return {"env": catalog, "keys": keys}


UNNAMED_CONTROLS = """[...document.querySelectorAll('button, select, input, canvas, [role=img]')]
  .filter(el => !el.closest('[hidden]'))
  .filter(el => !(el.getAttribute('aria-label') || el.textContent.trim() || el.labels?.length))
  .map(el => el.outerHTML.slice(0, 80))"""


def read_tags(http: str, key: str, tags: list[str]) -> None:
    """A reader posts its reads."""
    r = httpx.post(f"{http}/api/readers/reads", headers={"Authorization": f"Device {key}"},
                   json={"reads": [{"tag": t, "rssi": -50} for t in tags]}, timeout=30)
    assert r.status_code == 200, r.text


def test_mirror_staff_and_phone_pages(start_web: Any, store: dict[str, Any], chromium_path: Path) -> None:
    from playwright.async_api import async_playwright

    srv = start_web(store["env"])
    keys = store["keys"]
    OUT.mkdir(parents=True, exist_ok=True)

    async def main() -> None:
        async with async_playwright() as pw:
            browser = await launch(pw, chromium_path)
            ctx = await browser.new_context(viewport={"width": 800, "height": 1280})  # a portrait kiosk
            errors: list[str] = []
            ctx.on("weberror", lambda e: errors.append(str(e.error)))
            mirror = await ctx.new_page()
            await mirror.goto(f"{srv.http}/mirror/{ROOM_ID}#key={keys['mirror']}")
            await wait_js(mirror, "document.getElementById('status').dataset.status === 'open'")
            assert "Bring items into the fitting room" in await mirror.inner_text("#empty")
            save_timing("mirror", await mirror.evaluate(
                "({load: performance.getEntriesByType('navigation')[0].loadEventEnd,"
                " liveMs: window.phygitalMirror.liveMs})"))
            # the reader reads three garments: they appear on the mirror
            read_tags(srv.http, keys["reader"], TAGS)
            await wait_js(mirror, "Object.keys(window.phygitalMirror.items).length === 3")
            skus = await mirror.evaluate("Object.values(window.phygitalMirror.items).map(i => i.sku).sort()")
            assert skus == ["JEA-300", "SNK-500", "TSH-100"]
            text = await mirror.inner_text("#items")
            assert "Organic cotton T-shirt" in text
            # the pairing QR code is there while no phone is paired
            pairing = await wait_js(mirror, "window.phygitalMirror.pairing")
            assert await mirror.locator(".qr svg").count() == 1
            # the staff tablet
            staff = await ctx.new_page()
            await staff.set_viewport_size({"width": 1024, "height": 768})
            await staff.goto(f"{srv.http}/staff/{STORE}#key={keys['staff']}")
            await wait_js(staff, "document.getElementById('status').dataset.status === 'open'")
            # ask for size S of the T-shirt on the mirror
            shirt = await mirror.evaluate(
                "Object.entries(window.phygitalMirror.items).find(([, i]) => i.sku === 'TSH-100')[0]")
            card = mirror.locator(f"[data-item='{shirt}']")
            await card.locator("select").first.select_option("S")
            await card.locator("[data-action=size]").click()
            rid = await wait_js(mirror, "Object.keys(window.phygitalMirror.requests)[0]")
            await wait_js(mirror, f"document.querySelector(\"[data-request='{rid}']\")?.dataset.state === 'open'")
            assert "Waiting for staff" in await mirror.inner_text("#requests")
            await wait_js(staff, f"window.phygitalStaff.requests['{rid}']?.state === 'open'")
            assert "Size S" in await staff.inner_text(f"#queue [data-request='{rid}']")
            for page in (mirror, staff):  # every control has a name a screen reader can say
                assert await page.evaluate(UNNAMED_CONTROLS) == []
            accept = staff.locator(f"#queue [data-request='{rid}'] [data-action=accept]")
            await accept.focus()
            await staff.keyboard.press("Enter")  # by keyboard
            await wait_js(mirror, f"window.phygitalMirror.requests['{rid}'].state === 'accepted'")
            await wait_js(staff, f"window.phygitalStaff.requests['{rid}'].state === 'accepted'")
            assert "On its way" in await mirror.inner_text("#requests")
            await wait_js(staff, "window.phygitalStaff.rooms['3']?.items === 3")
            await staff.screenshot(path=str(OUT / "staff.png"))
            await staff.locator(f"#queue [data-request='{rid}'] [data-action=deliver]").click()
            await wait_js(mirror, f"window.phygitalMirror.requests['{rid}'].state === 'delivered'")
            await wait_js(staff, "document.querySelectorAll('#queue [data-request]').length === 0")
            assert "No requests waiting" in await staff.inner_text("#queue")
            # a product with a 3D model, added by hand on the mirror, shown in its 3D view
            await mirror.evaluate("window.phygitalClient.request('item.add', {sku: 'BOX-01', name: 'Textured box'})")
            box = await wait_js(
                mirror, "Object.entries(window.phygitalMirror.items).find(([, i]) => i.sku === 'BOX-01')?.[0]")
            await mirror.locator(f"[data-item='{box}'] [data-action=view]").click()
            await wait_js(mirror, "window.phygitalMirror.model === 'BOX-01'", 30)
            # try-on: the camera only while the shopper turns it on, with an obvious indicator
            assert await mirror.locator("#camera-indicator").is_hidden()
            await mirror.click("#camera")
            await wait_js(mirror, "window.phygitalMirror.cameraOn && window.phygitalMirror.tryonFrames >= 2", 60)
            assert await mirror.locator("#camera-indicator").is_visible()
            await mirror.screenshot(path=str(OUT / "mirror.png"), full_page=True)
            await mirror.click("#camera")
            await wait_js(mirror, "!window.phygitalMirror.cameraOn")
            assert await mirror.locator("#camera-indicator").is_hidden()
            sent = await mirror.evaluate("window.phygitalMirror.tryonFrames")
            await asyncio.sleep(0.5)
            after = await mirror.evaluate("window.phygitalMirror.tryonFrames")
            assert after == sent, "no frames once the camera is off"
            # the phone opens the QR code's address
            phone = await ctx.new_page()
            await phone.set_viewport_size({"width": 390, "height": 844})
            await phone.goto(pairing["url"])
            await wait_js(phone, "Object.keys(window.phygitalPhone.items).length === 4")
            assert await phone.evaluate(UNNAMED_CONTROLS) == []
            await wait_js(mirror, "document.querySelector('[data-paired]') !== null")
            assert await phone.locator("[data-action=save]").first.is_disabled(), "nothing is saved without consent"
            await phone.click("#consent-yes")
            await wait_js(phone, "window.phygitalPhone.consent && !document.getElementById('save-look').disabled")
            await phone.click("#save-look")
            await wait_js(phone, "window.phygitalPhone.kept.length === 1")
            kept = await phone.evaluate("window.phygitalPhone.kept[0]")
            assert sorted(kept["look"]) == ["BOX-01", "JEA-300", "SNK-500", "TSH-100"]
            await phone.screenshot(path=str(OUT / "phone.png"))
            await phone.click("#forget")
            await wait_js(phone, "!window.phygitalPhone.kept.length && !localStorage.getItem('phygital.wishlistKey')")
            assert "Nothing is kept" in await phone.inner_text("#kept")
            # the visit ends on the mirror: the phone says so
            await mirror.evaluate("window.phygitalClient.request('visit.end', {})")
            await wait_js(mirror, "Object.keys(window.phygitalMirror.items).length === 0")
            await wait_js(phone, "!window.phygitalPhone.paired && !document.getElementById('alert').hidden")
            assert "visit has ended" in await phone.inner_text("#alert")
            assert "Bring items into the fitting room" in await mirror.inner_text("#empty")
            # a used pairing code is refused in words
            again = await ctx.new_page()
            await again.goto(f"{srv.http}/phone/{pairing['code']}")
            await wait_js(again, "!document.getElementById('alert').hidden")
            assert "already used" in await again.inner_text("#alert")
            assert errors == []
            await browser.close()

    asyncio.run(asyncio.wait_for(main(), 180 * TIME_FACTOR))


def test_pages_resume_after_their_server_process_is_killed(
    start_web: Any, store: dict[str, Any], chromium_path: Path
) -> None:
    from playwright.async_api import async_playwright

    prefix = redis_prefix()
    a = start_web(store["env"], redis=prefix)
    b = start_web(store["env"], redis=prefix)
    keys = store["keys"]

    async def main() -> None:
        async with async_playwright() as pw:
            browser = await launch(pw, chromium_path)
            ctx = await browser.new_context()
            mirror = await ctx.new_page()
            staff = await ctx.new_page()
            t0 = await mirror.evaluate("performance.timeOrigin")
            await mirror.goto(f"{a.http}/mirror/{ROOM_ID}#key={keys['mirror']}")
            await staff.goto(f"{a.http}/staff/{STORE}#key={keys['staff']}")
            for page in (mirror, staff):
                await wait_js(page, "document.getElementById('status').dataset.status === 'open'")
            httpx.post(f"{a.http}/api/rooms/{STORE}/{ROOM}/visit/end",
                       headers={"Authorization": f"Device {keys['mirror']}"}, timeout=30)
            await wait_js(mirror, "Object.keys(window.phygitalMirror.items).length === 0")
            read_tags(b.http, keys["reader"], TAGS[:1])
            await wait_js(mirror, "Object.keys(window.phygitalMirror.items).length === 1")
            # kill the process serving the pages; a new one takes its address (behind a load balancer)
            port = a.port
            a.kill()
            for page in (mirror, staff):
                await wait_js(page, "document.getElementById('status').dataset.status === 'resuming'")
            assert "Reconnecting" in await mirror.inner_text("#status")
            read_tags(b.http, keys["reader"], TAGS[1:])  # changes made while the pages are away
            start_web(store["env"], port=port, redis=prefix)
            for page in (mirror, staff):
                await wait_js(page, "document.getElementById('status').dataset.status === 'open'", 60)
            await wait_js(mirror, "Object.keys(window.phygitalMirror.items).length === 3")
            assert await mirror.evaluate("window.phygitalClient.resumes") >= 1
            await wait_js(staff, "window.phygitalStaff.rooms['3']?.items === 3")
            save_timing("mirror_resume", {"time_origin": t0})
            await browser.close()

    asyncio.run(asyncio.wait_for(main(), 180 * TIME_FACTOR))
