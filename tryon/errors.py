"""Errors raised by the try-on package.

Hierarchy::

    TryOnError                 base; ``path``/``field`` name what was wrong, ``problem`` says how
    ├── InvalidInput           the caller sent something bad (file, frame, image, look)
    │   ├── InvalidMedia       unreadable, corrupt or unsupported image/video file or frame
    │   └── InvalidLook        a look JSON that does not validate
    └── ProcessingError        we failed (model or codec error) on valid input

Each error builds its one-line message in ``__str__``, e.g.
``"look.json: [0].shade 'red' is not a #RRGGBB hex colour"``.
"""

from __future__ import annotations


class TryOnError(Exception):
    """Base class of every error raised by :mod:`tryon`."""

    def __init__(self, problem: str, *, path: str | None = None, field: str | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.path = path
        self.field = field

    def __str__(self) -> str:
        where = ""
        if self.path:
            where = f"{self.path}: "
        if self.field:
            where += f"{self.field} "
        return f"{where}{self.problem}"


class InvalidInput(TryOnError):
    """The caller sent something bad."""


class InvalidMedia(InvalidInput):
    """An image, video or frame that cannot be decoded or used."""


class InvalidLook(InvalidInput):
    """A look (list of products) that does not validate."""


class ProcessingError(TryOnError):
    """Processing failed on valid input (landmark model or codec failure)."""
