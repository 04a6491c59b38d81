from __future__ import annotations

import pytest

from scanning.errors import CloudError, FrameError, InputError, PoseError, ReconstructionError, ScanError


def test_message_names_file_field_and_problem() -> None:
    err = FrameError("missing", file="cap/intrinsics.json", field="fx")
    assert str(err) == "cap/intrinsics.json: fx: missing"
    assert (err.file, err.field, err.problem) == ("cap/intrinsics.json", "fx", "missing")


def test_message_leaves_out_missing_parts() -> None:
    assert str(CloudError("has 3 usable points")) == "has 3 usable points"
    assert str(PoseError("no overlap", file="cap")) == "cap: no overlap"


@pytest.mark.parametrize("cls", [FrameError, CloudError])
def test_input_errors_are_scan_errors(cls: type[ScanError]) -> None:
    assert issubclass(cls, InputError) and issubclass(cls, ScanError)
    assert not issubclass(cls, ReconstructionError)


def test_pose_error_is_a_reconstruction_error() -> None:
    assert issubclass(PoseError, ReconstructionError) and not issubclass(PoseError, InputError)
