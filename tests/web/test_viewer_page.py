"""/viewer/{room} in Chromium: placed products from the catalog's GLB, moved live by a Python client."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from session_server.client import SessionClient
from tests.conftest import TIME_FACTOR

from .conftest import OUT, launch, make_token, save_timing, wait_js


def pose(x: float, y: float = 0.0, z: float = 0.0) -> dict[str, Any]:
    return {"p": [x, y, z], "q": [0, 0, 0, 1]}


def test_viewer_shows_products_placed_and_moved_live(
    start_web: Any, catalog: dict[str, str], chromium_path: Path
) -> None:
    from playwright.async_api import async_playwright

    srv = start_web(catalog)
    room = "showroom-1"

    async def main() -> None:
        ana = SessionClient(srv.url, room, make_token(room, "ana", "phone"))
        await ana.connect()
        await ana.request("object.place", object="box", sku="BOX-01", pose=pose(-0.8))
        async with async_playwright() as pw:
            browser = await launch(pw, chromium_path)
            page = await browser.new_page(viewport={"width": 1100, "height": 800})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(f"{srv.http}/viewer/{room}#token={make_token(room, 'vic', 'viewer')}")
            assert await wait_js(page, "window.phygitalViewer?.objects?.box?.model === 'glb'", 30)
            await wait_js(page, "window.phygitalViewer.marks.first_model_frame")
            timing = await page.evaluate(
                "({firstModelMs: window.phygitalViewer.firstModelMs, marks: window.phygitalViewer.marks,"
                " load: performance.getEntriesByType('navigation')[0].loadEventEnd})"
            )
            assert await page.evaluate("window.phygitalViewer.webgl") is True
            # a second product (meshopt geometry), then the first one moved
            await ana.request("object.place", object="knight", sku="KNIGHT-01", pose=pose(0.8), scale=0.05)
            await ana.request("object.lock", object="box")
            await ana.request("object.move", object="box", pose=pose(-1.5, 0, 0.5))
            await wait_js(page, "window.phygitalViewer.objects.box.pose[0] === -1.5")
            assert await wait_js(page, "window.phygitalViewer.objects.knight?.model === 'glb'", 30)
            for i in range(5):
                await ana.send_presence([0.5 * i, 1.6, 2.0])
                await asyncio.sleep(0.05)
            await wait_js(page, "Math.abs((window.phygitalViewer.participants.ana?.pose[0] ?? 0) - 2) < 1e-6")
            text = await page.inner_text("#objects")
            assert "BOX-01" in text and "KNIGHT-01" in text and "x -1.50 m" in text
            assert await page.get_attribute("#status", "data-status") == "open"
            OUT.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(OUT / "viewer.png"))
            # delta-to-render latency: the page times each delta to the frame that shows it
            for i in range(20):
                await ana.request("object.move", object="box", pose=pose(-1.5 + i * 0.05, 0, 0.5))
            await wait_js(page, "window.phygitalViewer.objects.box.pose[0] > -0.56")
            lat = await page.evaluate("window.phygitalViewer.deltaToRenderMs.slice(-20)")
            median = sorted(lat)[len(lat) // 2]
            # an unknown product is shown in words, not as a blank
            await ana.request("object.place", object="ghost", sku="NOPE-404", pose=pose(0, 0, -1))
            await wait_js(page, "window.phygitalViewer.objects.ghost?.model === 'placeholder'")
            assert "no 3D model in the catalog" in await page.inner_text("[data-object=ghost]")
            # a second first load (a new browser context: nothing cached) on a warm server, the first page closed
            await page.close()
            ctx2 = await browser.new_context()
            page2 = await ctx2.new_page()
            await page2.goto(f"{srv.http}/viewer/{room}#token={make_token(room, 'val', 'viewer')}")
            await wait_js(page2, "window.phygitalViewer?.objects?.knight?.model === 'glb'", 30)
            await wait_js(page2, "window.phygitalViewer.marks.first_model_frame")
            warm = await page2.evaluate(
                "({firstModelMs: window.phygitalViewer.firstModelMs, marks: window.phygitalViewer.marks,"
                " load: performance.getEntriesByType('navigation')[0].loadEventEnd})"
            )
            await ctx2.close()
            save_timing("viewer", {"cold_server": timing, "warm_server": warm, "delta_to_render_ms_median": median})
            assert errors == []
            await browser.close()
        await ana.close()

    asyncio.run(asyncio.wait_for(main(), 120 * TIME_FACTOR))


def test_viewer_states_in_words(start_web: Any, chromium_path: Path) -> None:
    from playwright.async_api import async_playwright

    srv = start_web()

    async def main() -> None:
        async with async_playwright() as pw:
            browser = await launch(pw, chromium_path)
            page = await browser.new_page()
            await page.goto(f"{srv.http}/viewer/empty-room#token={make_token('empty-room', 'vic', 'viewer')}")
            await wait_js(page, "document.getElementById('status').dataset.status === 'open'")
            assert "No products placed in this room yet." in await page.inner_text("#empty")
            page1 = await browser.new_page()  # a new document: a changed fragment alone does not reload
            await page1.goto(f"{srv.http}/viewer/empty-room#token=forged.token")
            await wait_js(page1, "!document.getElementById('alert').hidden")
            assert "not valid" in await page1.inner_text("#alert")
            assert await page1.get_attribute("#status", "data-status") == "closed"
            page2 = await browser.new_page()
            await page2.goto(f"{srv.http}/viewer/other#token={make_token('empty-room', 'x', 'viewer')}")
            await wait_js(page2, "!document.getElementById('alert').hidden")
            assert "another room" in await page2.inner_text("#alert")
            await browser.close()

    asyncio.run(asyncio.wait_for(main(), 60 * TIME_FACTOR))


def test_missing_front_end_files_give_a_clear_page(tmp_path: Path) -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from session_server.web import mount_web

    app = FastAPI()
    mount_web(app, vendor_dir=tmp_path)
    res = TestClient(app).get("/viewer/room-1")
    assert res.status_code == 503
    assert "three/three.module.min.js" in res.text and "scripts/setup.sh" in res.text
    assert TestClient(app).get("/staff/paris-01").status_code == 200  # needs nothing from npm
    assert TestClient(app).get("/mirror/fit.paris-01.3").status_code == 503
