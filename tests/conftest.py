"""Fixtures shared by every package's tests.

The real corpus lives beside the checkout in ``../shared/corpus`` (override with
``PHYGITAL_CORPUS``); tests read it in place and never copy it into the project.
``TIME_FACTOR`` scales every wait in the tests for slow or loaded machines.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TIME_FACTOR = float(os.environ.get("PHYGITAL_TIME_FACTOR", "1"))


def corpus_dir() -> Path:
    return Path(os.environ.get("PHYGITAL_CORPUS", ROOT.parent / "shared" / "corpus")).resolve()


@pytest.fixture(scope="session")
def corpus() -> Path:
    path = corpus_dir()
    if not (path / "SOURCES.md").is_file():
        pytest.fail(f"test corpus not found at {path} (set PHYGITAL_CORPUS)")
    return path
