from __future__ import annotations

import pytest
from pydantic import ValidationError

from scanning.settings import ScanSettings


def test_defaults_and_env_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ScanSettings().voxels_across == 200
    monkeypatch.setenv("PHYGITAL_SCAN_VOXELS_ACROSS", "256")
    monkeypatch.setenv("PHYGITAL_SCAN_TARGET_TRIANGLES", "1000")
    s = ScanSettings()
    assert (s.voxels_across, s.target_triangles) == (256, 1000)


def test_out_of_range_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHYGITAL_SCAN_VOXELS_ACROSS", "4")
    with pytest.raises(ValidationError):
        ScanSettings()
