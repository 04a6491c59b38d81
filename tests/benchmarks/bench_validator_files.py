"""Run every file of the Khronos glTF-Validator's test folder through ``python -m assets_pipeline optimize``.

Each input must come out valid per the Khronos validator or be refused with one line (exit 2, no
traceback). Every ``.gltf``/``.glb`` under the folder (the repository's ``test/base/data``) is optimized by
the real command, one process per file; the outputs are validated together afterwards (without
``--validate``, so an invalid output is counted as such and not as a refusal). The validator's own verdict
on each input (its ``<file>.report.json`` beside it) splits the table into valid and invalid inputs.

Usage (the folder is not part of the repository; fetch KhronosGroup/glTF-Validator and extract it)::

    git --git-dir=/work/.mirror/KhronosGroup+glTF-Validator/repo archive HEAD test/base/data | tar -x -C /tmp/v
    .venv/bin/python tests/benchmarks/bench_validator_files.py /tmp/v/test/base/data [--details]

Outcomes: ``valid`` (output written, zero validator errors), ``refused`` (exit 2, one stderr line, nothing
written), ``invalid`` (output written with validator errors), ``traceback`` (anything else: a traceback,
exit 1, several lines, or a refusal that left files behind).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from assets_pipeline.validation import validate  # noqa: E402

OUTCOMES = ("valid", "refused", "invalid", "traceback")


def input_valid(path: Path) -> bool | None:
    """The validator's own verdict on a test input (None when it has no report)."""
    report = path.with_name(path.name + ".report.json")
    if not report.is_file():
        return None
    return int(json.loads(report.read_text())["issues"]["numErrors"]) == 0


def run_one(path: Path, output: Path) -> tuple[str, str]:
    """Optimize one file with the CLI; returns (preliminary outcome, stderr's last line)."""
    proc = subprocess.run([sys.executable, "-m", "assets_pipeline", "optimize", str(path), "-o", str(output),
                           "-q"], capture_output=True, text=True, cwd=ROOT, timeout=600, check=False)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    left = sorted(p.name for p in output.parent.iterdir())
    if proc.returncode == 0 and output.is_file():
        return "written", lines[-1] if lines else ""
    if proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: ") and not left:
        return "refused", lines[0]
    return "traceback", (lines[-1] if lines else f"exit {proc.returncode}") + (f" (left {left})" if left else "")


def main() -> None:
    """Run the folder, print one markdown table of counts (and each file's outcome with ``--details``)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--details", action="store_true", help="print each file's outcome and message")
    args = parser.parse_args()
    files = sorted(p for p in args.folder.rglob("*") if p.suffix in (".gltf", ".glb"))
    results: dict[Path, tuple[str, str]] = {}
    t0 = time.perf_counter()
    load = Path("/proc/loadavg").read_text().split()[:3]
    with tempfile.TemporaryDirectory() as tmp:
        outputs: dict[Path, Path] = {}
        for i, path in enumerate(files):
            folder = Path(tmp) / str(i)
            folder.mkdir()
            outcome, message = run_one(path, folder / "out.glb")
            results[path] = (outcome, message)
            if outcome == "written":
                outputs[path] = folder / "out.glb"
        reports = validate(list(outputs.values())) if outputs else []
        for (path, _), rep in zip(outputs.items(), reports, strict=True):
            codes = sorted({str(m.get("code")) for m in rep.messages if m.get("severity") == 0})
            results[path] = ("invalid", ", ".join(codes)) if rep.errors else ("valid", results[path][1])
    seconds = time.perf_counter() - t0
    load_end = Path("/proc/loadavg").read_text().split()[:3]
    table: dict[str, Counter[str]] = {"valid input": Counter(), "invalid input": Counter(), "no report": Counter()}
    for path, (outcome, _) in results.items():
        verdict = input_valid(path)
        table["no report" if verdict is None else "valid input" if verdict else "invalid input"][outcome] += 1
    print(f"{len(files)} files in {seconds:.0f} s, load average {' '.join(load)} -> {' '.join(load_end)}\n")
    print("| inputs | files | " + " | ".join(OUTCOMES) + " |")
    print("|---|---:|" + "---:|" * len(OUTCOMES))
    for name, counts in [*table.items(), ("all", sum(table.values(), Counter()))]:
        if counts:
            print(f"| {name} | {sum(counts.values())} | " + " | ".join(str(counts[o]) for o in OUTCOMES) + " |")
    if args.details:
        print()
        for path, (outcome, message) in results.items():
            verdict = input_valid(path)
            print(f"{path.relative_to(args.folder)}\t{'in-ok' if verdict else 'in-bad'}\t{outcome}\t{message}")


if __name__ == "__main__":
    main()
