"""Smart fitting rooms over HTTP: device keys, reader reads, camera frames, pairing, requests, wishlists.

``mount(app, service)`` adds the routes and the service to a session-server app. Nothing is imported
eagerly here: ``session_server.settings`` imports ``retail.settings`` while it is being defined.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from fastapi import FastAPI

if TYPE_CHECKING:
    from .service import RetailService

__all__ = ["mount"]


def mount(app: FastAPI, service: RetailService) -> None:
    """Add the fitting-room routes to ``app``; ``app.state.retail`` is the service they use; a mirror's
    ``/tryon/live`` connection can be bound to its room's look."""
    from tryon.live import get_look_binder

    from .api import router
    from .service import RedactPairingCodes
    from .tryon_link import look_binder

    app.state.retail = service
    app.include_router(router)
    binder = look_binder(service)
    app.dependency_overrides[get_look_binder] = lambda: binder
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactPairingCodes) for f in access.filters):
        access.addFilter(RedactPairingCodes())
