"""Routes of the web side: ``/static`` (the JavaScript client ``/static/phygital-client.js``, the pages'
scripts and the vendored front-end packages) and the pages ``/viewer/{room}``, ``/mirror/{room}``,
``/staff/{store}``, ``/phone/{pairing}``."""

from __future__ import annotations

import html
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent / "static"
PAGES_DIR = STATIC_DIR / "pages"
VENDOR_DIR = STATIC_DIR / "vendor"
# files each page needs from npm (copied by scripts/setup.sh from tools/web/node_modules)
VENDOR_FILES = {
    "viewer": ("three/three.module.min.js", "three/addons/loaders/GLTFLoader.js"),
    "mirror": ("three/three.module.min.js", "qrcode-generator/qrcode.mjs"),
    "staff": (),
    "phone": (),
}
PAGES = {"viewer": "room", "mirror": "room", "staff": "store", "phone": "pairing"}


def missing_vendor_files(page: str, vendor_dir: Path = VENDOR_DIR) -> list[str]:
    """The vendored files ``page`` needs that are not there (empty when the page can be served)."""
    return [name for name in VENDOR_FILES[page] if not (vendor_dir / name).is_file()]


def error_page(title: str, message: str, status: int) -> HTMLResponse:
    """A small HTML page saying what is wrong, in words."""
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title>"
        '<link rel="stylesheet" href="/static/pages/style.css"></head><body>'
        f'<header><h1>{html.escape(title)}</h1></header><main><p role="alert">{html.escape(message)}</p></main>'
        "</body></html>"
    )
    return HTMLResponse(body, status_code=status)


def _page(name: str, vendor_dir: Path) -> HTMLResponse:
    missing = missing_vendor_files(name, vendor_dir)
    if missing:
        return error_page(
            "Page files missing",
            f"This page needs front-end files that are not installed ({', '.join(missing)} under "
            f"{vendor_dir}). Run scripts/setup.sh (or make setup) to install them from npm.",
            503,
        )
    return HTMLResponse((PAGES_DIR / f"{name}.html").read_text(encoding="utf-8"), headers={"Cache-Control": "no-cache"})


def mount_web(app: FastAPI, vendor_dir: Path = VENDOR_DIR) -> None:
    """Serve the static files under ``/static`` and the four pages on ``app`` (pages check ``vendor_dir``)."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    for name, param in PAGES.items():

        async def page(value: str, _name: str = name) -> HTMLResponse:
            return _page(_name, vendor_dir)

        app.add_api_route(f"/{name}/{{value}}", page, methods=["GET"], response_class=HTMLResponse,
                          name=f"{name}_page", summary=f"the {name} page ({param} in the path)")

    async def phone_from_qr() -> HTMLResponse:
        return _page("phone", vendor_dir)

    # the retail layer's default pairing URL (PHYGITAL_SESSION_RETAIL__PHONE_PATH) is /fit/phone#code=...
    app.add_api_route("/fit/phone", phone_from_qr, methods=["GET"], response_class=HTMLResponse, name="phone_qr_page",
                      summary="the phone page, the pairing code in the fragment")
