"""Fixtures for the scanning tests: small synthetic captures rendered once per session from corpus meshes."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from scanning.synthetic import SyntheticCapture, SynthOptions, synthesize

# As python -m scanning does (scanning/__main__.py): Open3D's spinning OpenMP threads are 3x slower on this
# loaded 2-core machine. Only effective when Open3D has not been loaded yet by an earlier test module.
os.environ.setdefault("OMP_NUM_THREADS", "1")

SMALL = SynthOptions(views=16, width=320, height=240)


@pytest.fixture(scope="session")
def bunny_capture(corpus: Path) -> SyntheticCapture:
    return synthesize(corpus / "models" / "stanford-bunny.obj", SMALL)


@pytest.fixture(scope="session")
def bunny_folder(bunny_capture: SyntheticCapture, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bunny_capture.write(tmp_path_factory.mktemp("cap") / "bunny")


@pytest.fixture(scope="session")
def bunny_folder_unposed(bunny_capture: SyntheticCapture, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bunny_capture.write(tmp_path_factory.mktemp("cap") / "bunny_unposed", with_poses=False)


def truth_in(to_object: np.ndarray, capture: SyntheticCapture, world_from: np.ndarray | None = None) -> np.ndarray:
    """Truth vertices moved into an object frame (optionally from another world, e.g. the first camera)."""
    m = to_object if world_from is None else to_object @ world_from
    return capture.truth_vertices @ m[:3, :3].T + m[:3, 3]
