"""Adapter to the Khronos glTF-Validator (npm ``gltf-validator``, run with node)."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import MissingEncoder

NODE_TOOLS = Path(__file__).resolve().parent.parent / "tools" / "node"


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
    tools = node_tools or NODE_TOOLS
    script = tools / "validate.mjs"
    node = shutil.which("node")
    if node is None or not (tools / "node_modules" / "gltf-validator").is_dir():
        raise MissingEncoder(f"the glTF validator needs node and 'npm ci' in {tools} (run 'make setup')",
                             field="validator")
    if not paths:
        return []
    proc = subprocess.run([node, str(script), *map(str, paths)], capture_output=True, text=True, timeout=600,
                          check=False)
    reports = []
    for line in proc.stdout.splitlines():
        d = json.loads(line)
        reports.append(ValidationReport(d["path"], d["numErrors"], d["numWarnings"], d.get("messages", []),
                                        d.get("info", {})))
    if len(reports) != len(paths):
        raise RuntimeError(f"validator returned {len(reports)} reports for {len(paths)} files: {proc.stderr[-500:]}")
    return reports
