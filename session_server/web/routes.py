"""Mounts ``/static`` (the JavaScript client ``/static/phygital-client.js`` and vendored front-end files)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent / "static"


def mount_web(app: FastAPI) -> None:
    """Serve the static files of the web client on ``app`` under ``/static``."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
