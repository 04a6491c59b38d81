"""Only the provider knows MediaPipe: regions, masks and rendering work on plain landmarks."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "tryon"


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("module", ["regions", "masks", "render", "landmarks", "color", "finishes", "smoothing"])
def test_geometry_and_rendering_modules_do_not_import_mediapipe_or_cv_io(module: str) -> None:
    names = imported_modules(PKG / f"{module}.py")
    assert not any(n == "mediapipe" or n.startswith("mediapipe.") for n in names), names
    assert not any(n.startswith("tryon.providers") for n in names), names


def test_mediapipe_is_imported_only_by_its_provider() -> None:
    importers = {
        str(p.relative_to(PKG))
        for p in PKG.rglob("*.py")
        if any(n == "mediapipe" or n.startswith("mediapipe.") for n in imported_modules(p))
    }
    assert importers == {"providers/mediapipe.py"}


FILE_CALLS = ("cv2.imread", "cv2.imwrite", "cv2.VideoCapture", "cv2.VideoWriter", ".read_bytes(", ".write_bytes(")


def test_file_io_stays_in_media() -> None:
    """cv2 image/video codecs are used by media.py only (the pipeline does no file I/O)."""
    for path in PKG.rglob("*.py"):
        if path.name == "media.py":
            continue
        text = path.read_text()
        for call in FILE_CALLS:
            assert call not in text, f"{path.name} uses {call}"
        assert not re.search(r"(?<![\w.])open\(", text), f"{path.name} opens files"


def test_looks_resolve_skus_only_through_a_catalog_passed_in() -> None:
    """look.py reads JSON and validates it; it never opens the product catalog itself."""
    names = imported_modules(PKG / "look.py")
    assert not [n for n in names if n == "tryon.catalog" or n.startswith("assets_pipeline")], names
