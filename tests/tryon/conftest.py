"""Fixtures for the try-on tests: real corpus images and one shared MediaPipe provider per mode."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

from tryon.landmarks import FaceLandmarks
from tryon.look import Look, parse_look
from tryon.providers.mediapipe import MediaPipeProvider

ROOT = Path(__file__).resolve().parents[2]
LOOKS = ROOT / "samples" / "looks"
FACE_IMAGES = ("face_man_suit.jpg", "faces_three_women.jpg", "person_standing_shoes.jpg")


def load_rgb(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path))
    assert bgr is not None, path
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    return np.ascontiguousarray(data.astronaut())


@pytest.fixture(scope="session")
def images(corpus: Path) -> dict[str, np.ndarray]:
    out = {name: load_rgb(corpus / "images" / name) for name in FACE_IMAGES}
    out["astronaut"] = np.ascontiguousarray(data.astronaut())
    return out


@pytest.fixture(scope="session")
def provider() -> Iterator[MediaPipeProvider]:
    p = MediaPipeProvider("image")
    yield p
    p.close()


@pytest.fixture(scope="session")
def astronaut_face(provider: MediaPipeProvider, astronaut: np.ndarray) -> FaceLandmarks:
    faces = provider.faces(astronaut)
    assert len(faces) == 1
    return faces[0]


def look_of(*products: dict[str, object]) -> Look:
    import json

    return parse_look(json.dumps(list(products)))


@pytest.fixture(scope="session")
def sample_looks() -> dict[str, Path]:
    return {p.stem: p for p in sorted(LOOKS.glob("*.json"))}
