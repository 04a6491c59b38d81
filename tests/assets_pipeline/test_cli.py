"""The optimize/validate/inspect commands, run as a user runs them (a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .conftest import validate_ok

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "assets_pipeline", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=300, check=False, env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"})


def test_help_explains_the_commands() -> None:
    r = cli("--help")
    assert r.returncode == 0
    for word in ("optimize", "validate", "inspect"):
        assert word in r.stdout
    r = cli("optimize", "--help")
    assert r.returncode == 0 and "--lods" in r.stdout and "--texture-format" in r.stdout and "--units" in r.stdout


def test_optimize_sample_with_lods_and_report(tmp_path: Path) -> None:
    out = tmp_path / "stand.glb"
    report = tmp_path / "stand.json"
    r = cli("optimize", ROOT / "samples" / "models" / "display-stand.obj", "-o", out, "--units", "cm", "--up", "z",
            "--lods", "50,25", "--report", report)
    assert r.returncode == 0, r.stderr
    assert "display-stand" in r.stdout and "dimensions: 0.4 x 0.92 x 0.4 m" in r.stdout
    data = json.loads(report.read_text())
    counts = [lod["triangles"] for lod in data["lods"]]
    assert counts[0] == 480 and counts[1] <= 240 and counts[2] < counts[1], counts
    # 25 % would take 1.2 % of the diagonal: the chain stops within the 1 % bound (--error) and says so
    assert all(lod["error"] <= 0.01 for lod in data["lods"]), data["lods"]
    assert counts[2] > 120 and any("could not reduce to 25%" in w for w in data["warnings"]), data["warnings"]
    assert data["dimensions_m"] == [0.4, 0.92, 0.4] or all(
        abs(a - b) < 1e-6 for a, b in zip(data["dimensions_m"], [0.4, 0.92, 0.4], strict=True))
    assert all(lod["error"] is not None for lod in data["lods"]) and data["lods"][0]["error"] < 5e-5
    assert {s["name"] for s in data["steps"]} >= {"weld", "ar_frame", "quantize", "reorder"}
    validate_ok([out, tmp_path / "stand.lod1.glb", tmp_path / "stand.lod2.glb"])


def test_quiet_prints_nothing(tmp_path: Path, corpus: Path) -> None:
    r = cli("optimize", corpus / "models" / "suzanne.obj", "-o", tmp_path / "s.glb", "--quiet")
    assert r.returncode == 0 and r.stdout == "" and r.stderr == ""


def test_bad_input_is_one_line_exit_2_and_no_output(tmp_path: Path) -> None:
    bad = tmp_path / "broken.glb"
    bad.write_bytes(b"glTF\x02\x00\x00\x00\xff\xff\x00\x00")
    r = cli("optimize", bad, "-o", tmp_path / "out" / "x.glb")
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "broken.glb" in r.stderr and "truncated" in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_missing_file_and_unknown_type(tmp_path: Path) -> None:
    r = cli("optimize", tmp_path / "nope.obj", "-o", tmp_path / "x.glb")
    assert r.returncode == 2 and "nope.obj: file not found" in r.stderr
    (tmp_path / "model.fbx").write_bytes(b"Kaydara FBX Binary")
    r = cli("optimize", tmp_path / "model.fbx", "-o", tmp_path / "x.glb")
    assert r.returncode == 2 and "unknown model type '.fbx'" in r.stderr


def test_validate_and_inspect(tmp_path: Path, corpus: Path) -> None:
    r = cli("validate", corpus / "models" / "BoxVertexColors.glb")
    assert r.returncode == 0 and "0 errors" in r.stdout
    r = cli("inspect", corpus / "models" / "DamagedHelmet.glb")
    info = json.loads(r.stdout)
    assert info["triangles"] == 15452 and info["textures"] == 5


def test_optimize_refuses_an_output_named_as_another_format(tmp_path: Path) -> None:
    sample = ROOT / "samples" / "models" / "display-stand.obj"
    for name in ("stand.gltf", "stand.obj", "stand.GLTF"):
        r = cli("optimize", sample, "-o", tmp_path / name)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1, r.stderr
        assert lines[0].startswith(f"error: {name}: --output: optimize writes GLB") and ".glb" in lines[0], lines
    assert not list(tmp_path.iterdir())
    assert cli("optimize", sample, "-o", tmp_path / "stand.GLB", "-q").returncode == 0


def test_inspect_names_the_compression_the_reader_decoded(tmp_path: Path, corpus: Path) -> None:
    for compression, extension in (("meshopt", "EXT_meshopt_compression"), ("draco", "KHR_draco_mesh_compression")):
        out = tmp_path / f"{compression}.glb"
        r = cli("optimize", corpus / "models" / "suzanne.obj", "-o", out, "--compression", compression, "-q")
        assert r.returncode == 0, r.stderr
        r = cli("inspect", out)
        assert r.returncode == 0, r.stderr
        assert extension in json.loads(r.stdout)["extensions"]


def test_optimize_reads_the_limit_settings_and_the_option_overrides(tmp_path: Path, corpus: Path) -> None:
    model = corpus / "models" / "DamagedHelmet.glb"
    out = tmp_path / "h.glb"
    env = {**os.environ, "PHYGITAL_ASSETS_MAX_FILE_MB": "1"}
    refused = subprocess.run([sys.executable, "-m", "assets_pipeline", "optimize", str(model), "-o", str(out), "-q"],
                             capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert refused.returncode == 2 and not out.exists()
    assert refused.stderr.strip() == "error: DamagedHelmet.glb: file bytes 3,773,916 exceeds the limit of 1,048,576"
    env["PHYGITAL_ASSETS_MAX_IMAGE_PIXELS"] = "100"
    pixels = subprocess.run([sys.executable, "-m", "assets_pipeline", "optimize", str(model), "-o", str(out), "-q",
                             "--max-file-mb", "10"], capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert pixels.returncode == 2 and "exceeds the limit of 100" in pixels.stderr and not out.exists()


def test_folders_where_files_are_expected_are_named_as_folders(tmp_path: Path) -> None:
    """A folder given as the input, the output or the report: one line saying it is a folder, nothing written."""
    sample = ROOT / "samples" / "models" / "display-stand.obj"
    (tmp_path / "models.obj").mkdir()
    (tmp_path / "out").mkdir()
    for args, words in [
        (("optimize", tmp_path / "models.obj", "-o", tmp_path / "x.glb"), ("models.obj: is a folder, not a file",)),
        (("optimize", tmp_path, "-o", tmp_path / "x.glb"), ("is a folder, not a file", ".obj")),
        (("inspect", tmp_path / "models.obj"), ("models.obj: is a folder, not a file",)),
        (("validate", tmp_path / "out"), ("out: is a folder, not a file",)),
        (("validate", tmp_path / "missing.glb"), ("missing.glb: file not found",)),
        (("optimize", sample, "-o", tmp_path / "out"), ("out: is a folder", str(tmp_path / "out" / "model.glb"))),
        (("optimize", sample, "-o", tmp_path / "x.glb", "--report", tmp_path / "out"), ("out: --report: is a folder",
                                                                                      "report.json")),
    ]:
        r = cli(*args)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith("error:"), (args, r.stderr)
        assert "Traceback" not in r.stderr and all(w in lines[0] for w in words), (args, lines[0])
    assert not (tmp_path / "x.glb").exists() and not list((tmp_path / "out").iterdir())


def test_usage_errors_are_one_line_naming_the_option(tmp_path: Path) -> None:
    """An unknown option, a missing one or a bad value: one line and exit 2, not click's usage block and panel."""
    model = ROOT / "samples" / "models" / "display-stand.obj"
    for args, words in [
        (("optimize", model), ("Missing option '-o' / '--output'", "optimize --help")),
        (("upload", model, "--sku", "A", "--category", "shoes", "--colour", "red"), ("No such option: --colour",)),
        (("optimize", model, "-o", tmp_path / "x.glb", "--lods", "abc"), ("'--lods'", "expected ratios")),
        (("optimize", model, "-o", tmp_path / "x.glb", "--compression", "zip"), ("'--compression'", "'zip'")),
        (("nosuch",), ("No such command 'nosuch'",)),
    ]:
        r = cli(*args)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), (args, r.stderr)
        assert all(w in lines[0] for w in words), (args, lines[0])
    assert not (tmp_path / "x.glb").exists()
    r = cli()
    assert r.returncode == 2 and "optimize" in r.stdout  # no command: the help


ON_DEMAND = ("boto3", "botocore", "sqlalchemy", "alembic", "fastapi", "starlette", "uvicorn", "redis", "httpx", "pxr",
             "DracoPy", "pygments", "assets_pipeline.catalog", "assets_pipeline.store", "assets_pipeline.publish",
             "assets_pipeline.batch", "assets_pipeline.api", "assets_pipeline.service", "assets_pipeline.render",
             "assets_pipeline.thumbnail", "assets_pipeline.validation", "rich.progress", "rich.table", "rich.markdown",
             "typer.rich_utils")
"""What a quiet ``optimize`` of an untextured model does not use: the store, catalog, HTTP, batch, USD, Draco and
validator stacks, rich's progress bars, tables and help panels (each is imported by the command that needs it)."""

LOADED_PROBE = """
import atexit, json, sys
atexit.register(lambda: sys.__stderr__.write(json.dumps(sorted(m for m in %r if m in sys.modules)) + "\\n"))
sys.argv = ["assets_pipeline", *%r]
from assets_pipeline.cli import main
main()
"""


def test_quiet_optimize_loads_only_what_it_uses(tmp_path: Path) -> None:
    """Every run pays for its imports (a few tenths of a second of a simplification's whole process): a quiet
    optimize with LODs imports none of the modules other commands need."""
    args = ["optimize", str(ROOT / "samples" / "models" / "display-stand.obj"), "-o", str(tmp_path / "stand.glb"),
            "--lods", "50", "--quiet"]
    r = subprocess.run([sys.executable, "-c", LOADED_PROBE % (ON_DEMAND, args)], capture_output=True, text=True,
                       cwd=ROOT, timeout=300, check=False)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "stand.lod1.glb").is_file()
    assert json.loads(r.stderr.strip().splitlines()[-1]) == []


def test_sizes_are_shown_to_a_tenth_of_a_millimetre(tmp_path: Path) -> None:
    """The report, the HTTP body and ``inspect`` say 0.92, not 0.9200000000000003 (float noise)."""
    from assets_pipeline import OptimizeOptions, optimize_file
    from assets_pipeline.api import Dimensions
    from assets_pipeline.transforms.ar_frame import FrameOptions

    out = tmp_path / "stand.glb"
    report = optimize_file(ROOT / "samples" / "models" / "display-stand.obj", out,
                           OptimizeOptions(frame=FrameOptions(units="cm", up="z")))
    assert report.dimensions_m == [0.4, 0.92, 0.4]
    stored = Dimensions(width=2.0000002558849395, height=0.9200000000000003, depth=0.00004)  # a row from before
    assert (stored.width, stored.height, stored.depth) == (2.0, 0.92, 0.0)
    r = cli("inspect", out)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["dimensions"] == [0.4, 0.92, 0.4]
