"""Adapter to the Khronos glTF-Validator (npm ``gltf-validator``, run with node; see ``nodetools``)."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import nodetools
from .errors import PipelineFailure
from .io.resources import check_input_file


@dataclass(slots=True)
class ValidationReport:
    """The Khronos validator's verdict on one file: error and warning counts and its messages."""
    path: str
    errors: int
    warnings: int
    messages: list[dict[str, Any]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)


def validate(paths: list[str | Path], node_tools: Path | None = None) -> list[ValidationReport]:
    """Validate files with one node process; one report per file, in order."""
    tools = node_tools or nodetools.folder()
    if not nodetools.available("gltf-validator", tools):
        raise nodetools.missing("gltf-validator", "validator", tools)
    if not paths:
        return []
    for path in paths:
        check_input_file(Path(path), "a .gltf or .glb file")
    files = [str(Path(p).resolve()) for p in paths]  # node runs in the tools folder
    proc = subprocess.run(nodetools.command("validate.mjs", *files), capture_output=True, text=True,
                          timeout=600, check=False, cwd=tools)
    reports = []
    for given, line in zip(paths, proc.stdout.splitlines(), strict=False):  # in order; the path as given
        d = json.loads(line)
        reports.append(ValidationReport(str(given), d["numErrors"], d["numWarnings"], d.get("messages", []),
                                        d.get("info", {})))
    if len(reports) != len(paths):
        raise PipelineFailure(f"validator returned {len(reports)} reports for {len(paths)} files: "
                              f"{proc.stderr.strip()[-300:]}", field="validator")
    return reports
