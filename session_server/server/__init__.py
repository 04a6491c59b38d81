"""I/O adapters: FastAPI app, WebSocket endpoint, per-client sender, room hubs."""

from .app import create_app

__all__ = ["create_app"]
