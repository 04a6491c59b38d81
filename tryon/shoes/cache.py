"""Shoe views rendered from a 3D model, cached by the model's bytes and axes.

Rendering the three views takes 50-150 ms, so it happens once per model (for a catalog product: once per
published version, whose GLB bytes never change): the views are kept in memory for the process, and in
``<cache_dir>/views/<key>.npz`` (written atomically) so that another process, or the next run, reads them
instead of rendering again.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from tryon.shoes.sprite import ShoeViews

if TYPE_CHECKING:
    from tryon.shoes.views import ViewSphere

logger = logging.getLogger(__name__)

VIEWS_FORMAT = 2
"""Part of the key: bump it when the renderer's output changes, so old cached views are not used."""
MEMORY_ENTRIES = 32

Source = Literal["rendered", "memory", "disk"]

_memory: OrderedDict[str, ShoeViews] = OrderedDict()
_spheres: OrderedDict[str, ViewSphere] = OrderedDict()
_lock = threading.Lock()


def views_key(sha256: str, toe_axis: str, up_axis: str) -> str:
    """File-name-safe key of a model's views: ``<sha256>.pz.py.v1`` (``p``/``n`` for the axis sign)."""

    def ax(a: str) -> str:
        return ("p" if a[0] == "+" else "n") + a[1]

    return f"{sha256}.{ax(toe_axis)}.{ax(up_axis)}.v{VIEWS_FORMAT}"


def _frozen(views: ShoeViews) -> ShoeViews:
    for sprite in (views.side, views.front, views.back):
        for arr in (sprite.rgba, sprite.anchor, sprite.collar, sprite.sole_center):
            arr.flags.writeable = False  # shared between renderers: nobody may paint on them
    return views


def cached_views(
    model: Path, toe_axis: str, up_axis: str, render: Callable[[], ShoeViews], cache_dir: Path | None
) -> tuple[ShoeViews, Source]:
    """The views of ``model`` from memory, else from ``cache_dir``, else ``render()`` (then stored in both)."""
    from tryon import media

    key = views_key(media.file_sha256(model), toe_axis, up_axis)
    with _lock:
        if key in _memory:
            _memory.move_to_end(key)
            return _memory[key], "memory"
    path = cache_dir / "views" / f"{key}.npz" if cache_dir is not None else None
    views = media.read_views(path) if path is not None else None
    source: Source = "disk"
    if views is None:
        views, source = render(), "rendered"
        if path is not None:
            media.write_views(path, views)
    logger.debug("shoe views of %s: %s", model.name, source)
    with _lock:
        _memory[key] = _frozen(views)
        while len(_memory) > MEMORY_ENTRIES:
            _memory.popitem(last=False)
    return views, source


def cached_sphere(model: Path, toe_axis: str, up_axis: str, make: Callable[[], ViewSphere]) -> ViewSphere:
    """The model's view sphere shared by every renderer of the process (its views are rendered on demand)."""
    from tryon import media

    key = views_key(media.file_sha256(model), toe_axis, up_axis)
    with _lock:
        sphere = _spheres.get(key)
        if sphere is None:
            sphere = _spheres[key] = make()
            while len(_spheres) > MEMORY_ENTRIES:
                _spheres.popitem(last=False)
        return sphere


def clear_memory() -> None:
    """Forget the in-memory views (as a new process would start)."""
    with _lock:
        _memory.clear()
        _spheres.clear()
