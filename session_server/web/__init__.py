"""The web side of the session server: the JavaScript client and the pages, served as static files."""

from .routes import STATIC_DIR, mount_web

__all__ = ["STATIC_DIR", "mount_web"]
