"""Smart fitting rooms over HTTP: device keys, reader reads, camera frames, pairing, requests, wishlists.

``mount(app, node, settings)`` adds the routes and the service to a session-server app.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI

from .errors import RetailError
from .service import RedactPairingCodes, RetailService
from .settings import RetailSettings

__all__ = ["RetailError", "RetailService", "RetailSettings", "mount"]


def mount(app: FastAPI, service: RetailService) -> None:
    """Add the fitting-room routes to ``app``; ``app.state.retail`` is the service they use."""
    from .api import router

    app.state.retail = service
    app.include_router(router)
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactPairingCodes) for f in access.filters):
        access.addFilter(RedactPairingCodes())


def open_service(settings: Any, node: Any) -> RetailService:
    """The service for ``settings`` (opens the database)."""
    return RetailService.open(settings, node)
