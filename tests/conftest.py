"""Fixtures shared by every package's tests.

The real corpus lives beside the checkout in ``../shared/corpus`` (override with
``PHYGITAL_CORPUS``); tests read it in place and never copy it into the project. A clone without it
skips the tests that need it, all for one reason (``require_corpus``); CI sets
``PHYGITAL_REQUIRE_CORPUS=1`` so that a missing corpus fails them instead.
``TIME_FACTOR`` scales every wait in the tests for slow or loaded machines.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TIME_FACTOR = float(os.environ.get("PHYGITAL_TIME_FACTOR", "1"))


def corpus_dir() -> Path:
    """Where the test corpus is expected: ``$PHYGITAL_CORPUS`` or ``../shared/corpus`` beside the checkout."""
    return Path(os.environ.get("PHYGITAL_CORPUS", ROOT.parent / "shared" / "corpus")).resolve()


def corpus_present() -> bool:
    """True when the corpus folder (with its SOURCES.md) is there."""
    return (corpus_dir() / "SOURCES.md").is_file()


def _corpus_missing() -> str:
    return (f"test corpus not found at {corpus_dir()} (see 'Test corpus' in README.md; set PHYGITAL_CORPUS "
            "to use another folder)")


def require_corpus() -> Path:
    """Return the corpus folder; when it is absent, skip the calling test with one reason, or fail it when
    ``PHYGITAL_REQUIRE_CORPUS=1`` (set by CI in ``.ci/run``)."""
    if corpus_present():
        return corpus_dir()
    if os.environ.get("PHYGITAL_REQUIRE_CORPUS") == "1":
        pytest.fail(f"{_corpus_missing()}; PHYGITAL_REQUIRE_CORPUS=1 requires it", pytrace=False)
    pytest.skip(_corpus_missing())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Report every corpus skip at ``require_corpus`` so that ``-ra`` folds them into one summary line."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and isinstance(report.longrepr, tuple) and report.longrepr[2].endswith(_corpus_missing()):
        report.longrepr = (__file__, require_corpus.__code__.co_firstlineno, report.longrepr[2])


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The corpus folder; every test or fixture that reads the corpus asks for this (see ``require_corpus``)."""
    return require_corpus()
