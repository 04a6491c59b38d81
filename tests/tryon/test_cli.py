"""``python -m tryon`` end to end in a subprocess: outputs, exit codes, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from tests.tryon.conftest import LOOKS, ROOT


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tryon", *args], capture_output=True, text=True, cwd=ROOT, timeout=120)


def error_lines(stderr: str) -> list[str]:
    """Lines of ours on stderr (native MediaPipe/TFLite log lines are not ours)."""
    return [
        ln for ln in stderr.splitlines() if ln.strip() and not ln.startswith(("W0000", "I0000", "INFO:", "WARNING:"))
    ]


def test_help_explains_commands() -> None:
    r = run("--help")
    assert r.returncode == 0
    assert "image" in r.stdout and "video" in r.stdout and "look" in r.stdout.lower()
    r = run("image", "--help")
    assert "--compare" in r.stdout and "--look" in r.stdout


def test_image_with_compare(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.jpg"
    src = corpus / "images" / "face_man_suit.jpg"
    r = run("image", str(src), "--look", str(LOOKS / "red_matte_lipstick.json"), "-o", str(out), "--compare")
    assert r.returncode == 0, r.stderr
    assert "1 face(s)" in r.stdout
    h, w = cv2.imread(str(src)).shape[:2]
    assert cv2.imread(str(out)).shape[:2] == (h, 2 * w)


def test_video_with_progress(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    src = corpus / "images" / "street_walking_720p50.avi"
    r = run("video", str(src), "--look", str(LOOKS / "sneakers.json"), "-o", str(out), "--limit", "6")
    assert r.returncode == 0, r.stderr
    assert "6 frames" in r.stdout
    cap = cv2.VideoCapture(str(out))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 6
    cap.release()
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]


@pytest.mark.parametrize("case", ["missing", "corrupt", "bad_look", "look_missing", "out_dir"])
def test_bad_input_exits_2_with_one_line(case: str, corpus: Path, tmp_path: Path) -> None:
    src = corpus / "images" / "face_man_suit.jpg"
    look = LOOKS / "red_matte_lipstick.json"
    out = tmp_path / "o.jpg"
    expect = ""
    if case == "missing":
        src, expect = tmp_path / "none.jpg", "none.jpg: file not found"
    elif case == "corrupt":
        src = tmp_path / "c.jpg"
        src.write_bytes(b"not a jpeg at all")
        expect = "c.jpg: is not a readable image"
    elif case == "bad_look":
        look = tmp_path / "l.json"
        look.write_text('[{"kind": "lipstick", "shade": "crimson"}]')
        expect = "l.json: [0].shade 'crimson' is not a #RRGGBB hex colour"
    elif case == "look_missing":
        look, expect = tmp_path / "nolook.json", "nolook.json: file not found"
    else:
        out, expect = tmp_path / "nodir" / "o.jpg", "output folder does not exist"
    r = run("image", str(src), "--look", str(look), "-o", str(out))
    assert r.returncode == 2
    lines = error_lines(r.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: ") and expect in lines[0], r.stderr
    assert "Traceback" not in r.stderr
    assert not out.exists()


def test_no_face_image_still_written_with_note(tmp_path: Path) -> None:
    src = tmp_path / "wall.png"
    cv2.imwrite(str(src), 127 * __import__("numpy").ones((120, 160, 3), "uint8"))
    out = tmp_path / "o.png"
    r = run("image", str(src), "--look", str(LOOKS / "red_matte_lipstick.json"), "-o", str(out))
    assert r.returncode == 0
    assert "note: no face found" in r.stderr
    assert (cv2.imread(str(out)) == 127).all()


def test_help_does_not_load_models() -> None:
    code = "import sys; from tryon.cli import app; print('mediapipe' in sys.modules, 'cv2' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.stdout.split() == ["False", "False"]


def test_quiet_video_prints_nothing(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "q.mp4"
    src = corpus / "images" / "street_walking_720p50.avi"
    r = run("video", str(src), "--look", str(LOOKS / "red_matte_lipstick.json"), "-o", str(out), "--limit", "2", "-q")
    assert r.returncode == 0 and r.stdout == "" and error_lines(r.stderr) == []
    assert out.is_file()
