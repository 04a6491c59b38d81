"""Every copy-paste block of README.md runs as written, in order, in one shell, on a copy of the checkout.

The ``bash`` blocks are pasted into one ``bash`` (so ``export`` and ``cd`` carry over, as in a terminal) with
``set -eo pipefail``; each ``python`` block is fed to ``.venv/bin/python``. Blocks in other languages are text.

A block preceded by the HTML comment ``<!-- readme-test: background -->`` is for long-running servers that
later blocks (or the reader) use: it is started in the background, not waited for, and must still be running
at the end. Background processes of every block are killed at the end; the whole run is bounded in time.

To run beside other people, the copy gets free ports for the fixed ones the blocks name (each ``8700``-like
port after ``127.0.0.1:``, ``--port`` or ``-p``, and the session server's default port, which the server and
the samples read from ``PHYGITAL_SESSION_PORT``) and its own Redis key prefixes
(session rooms and the batch queue: two runs at once never take each other's jobs). The copy is a fresh clone in
effect: the tracked and untracked-but-not-ignored files, with the checkout's ``.venv`` and node tools.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT, TIME_FACTOR, require_corpus

FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)
MARKER = re.compile(r"<!--\s*readme-test:\s*([\w-]+)\s*-->\s*$")
RUN_LANGUAGES = {"bash": "bash", "sh": "bash", "shell": "bash", "python": "python", "py": "python"}
PORT = re.compile(r"(?:127\.0\.0\.1:|localhost:|--port[ =]|-p )(\d{4,5})\b")
SERVICE_PORTS = {5432, 6379}  # PostgreSQL and Redis: the real shared services, never remapped
SESSION_DEFAULT_PORT = 8700
RUN_SECONDS = 1500 * TIME_FACTOR


@dataclass
class Block:
    """One fenced block of the README: its language, text, 1-based line and how it is run."""

    language: str
    text: str
    line: int
    mode: str  # "run" or "background"


def readme_blocks(text: str) -> list[Block]:
    """The README's bash and python blocks in order; takes the README text, returns the blocks to run."""
    blocks = []
    for m in FENCE.finditer(text):
        language = RUN_LANGUAGES.get(m.group(1).lower())
        if language is None:
            continue
        before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = MARKER.search(before)
        mode = marker.group(1) if marker else "run"
        if mode not in ("run", "background"):
            raise ValueError(f"README.md line {text.count(chr(10), 0, m.start()) + 1}: unknown readme-test "
                             f"marker {mode!r} (known: background)")
        blocks.append(Block(language, m.group(2), text.count("\n", 0, m.start()) + 1, mode))
    return blocks


def free_port() -> int:
    """A free loopback TCP port (bound to port 0 and released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_map(blocks: list[Block]) -> dict[int, int]:
    """Fixed ports named in the blocks (and the session server's default) -> free ports for this run."""
    ports = {SESSION_DEFAULT_PORT} | {int(p) for b in blocks for p in PORT.findall(b.text)}
    return {p: free_port() for p in sorted(ports - SERVICE_PORTS)}


def remap(text: str, ports: dict[int, int]) -> str:
    """Replace every fixed port number in a block by its free port; returns the new text."""
    if not ports:
        return text
    pattern = re.compile(r"(?<![\d.])(" + "|".join(str(p) for p in ports) + r")(?!\d)")
    return pattern.sub(lambda m: str(ports[int(m.group(1))]), text)


def shell_script(blocks: list[Block], ports: dict[int, int]) -> str:
    """One bash script running the blocks in order, announcing each block; background blocks get their own
    session port and record their pid in ``.readme-background``."""
    lines = ["set -eo pipefail", ": > .readme-background"]
    for i, b in enumerate(blocks, 1):
        text = remap(b.text, ports)
        lines.append(f"printf '\\n@@ README block {i} (README.md line {b.line}, {b.mode}) @@ at %ss\\n' \"$SECONDS\"")
        if b.language == "python":
            delimiter = "__README_PYTHON_BLOCK__"
            assert delimiter not in text
            text = f".venv/bin/python - <<'{delimiter}'\n{text}{delimiter}\n"
        if b.mode == "background":
            lines.append(f"(\nexport PHYGITAL_SESSION_PORT={free_port()}\n{text}) > .readme-background-{i}.log 2>&1 &")
            lines.append(f"echo \"$! {i}\" >> .readme-background")
        else:
            lines.append(text)
    lines.append("printf '\\n@@ README done @@ at %ss\\n' \"$SECONDS\"")
    return "\n".join(lines) + "\n"


def copy_checkout(dst: Path) -> None:
    """Copy the checkout's tracked and untracked-but-not-ignored files to ``dst``, as a fresh clone has them,
    with a ``.venv`` that is this Python's environment already set up and the installed node tools."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = ROOT / rel
        if src.is_file():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / rel)
    venv = dst / ".venv"
    venv.mkdir()
    prefix = Path(sys.prefix)
    shutil.copy2(prefix / "pyvenv.cfg", venv / "pyvenv.cfg")
    for name in ("bin", "lib", "lib64", "include", "share"):
        if (prefix / name).exists():
            (venv / name).symlink_to(prefix / name)
    old = time.time() - 86400
    os.utime(dst / "pyproject.toml", (old, old))
    (venv / ".phygital-installed").touch()  # set up already: scripts/setup.sh installs nothing
    node_modules = ROOT / "tools" / "node" / "node_modules"
    if node_modules.is_dir():
        (dst / "tools" / "node" / "node_modules").symlink_to(node_modules.resolve())
        os.utime(dst / "tools" / "node" / "package-lock.json", (old, old))


def kill_group(pgid: int) -> None:
    """Stop every process of a process group: TERM, a bounded wait, then KILL."""
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 0.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)


def alive(pid: int) -> bool:
    """True when a process with this id still runs (and is not a zombie)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def test_blocks_are_found_with_their_markers() -> None:
    text = ("intro\n```bash\necho a\n```\n\n<!-- readme-test: background -->\n```bash\nserve --port 8700 &\n```\n"
            "```json\n{}\n```\n```python\nprint(1)\n```\n")
    blocks = readme_blocks(text)
    assert [(b.language, b.mode, b.line) for b in blocks] == [("bash", "run", 2), ("bash", "background", 7),
                                                              ("python", "run", 13)]
    ports = port_map(blocks)
    assert set(ports) == {8700} and "8700" not in remap(blocks[1].text, ports)
    with pytest.raises(ValueError, match="unknown readme-test marker 'skip'"):
        readme_blocks("<!-- readme-test: skip -->\n```bash\necho\n```\n")


@pytest.mark.timeout(RUN_SECONDS + 120)
def test_every_readme_block_runs_as_written(tmp_path: Path) -> None:
    corpus = require_corpus()
    blocks = readme_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    assert blocks, "README.md has no bash or python blocks"
    repo = tmp_path / "phygital"
    copy_checkout(repo)
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "corpus").symlink_to(corpus)  # ../shared/corpus beside the copy, as beside a clone
    ports = port_map(blocks)
    (repo / ".readme-test.sh").write_text(shell_script(blocks, ports))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHYGITAL_")}
    run_id = uuid.uuid4().hex[:12]
    env.update(PHYGITAL_SESSION_PORT=str(ports[SESSION_DEFAULT_PORT]), PYTHONPATH=str(repo),
               PHYGITAL_SESSION_REDIS_PREFIX=f"phygital-readme-{run_id}", PHYGITAL_CORPUS=str(corpus),
               PHYGITAL_ASSETS_BATCH_NAMESPACE=f"phygital-readme-{run_id}")  # another run's workers never take our jobs
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(["bash", ".readme-test.sh"], cwd=repo, env=env, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            code = proc.wait(timeout=RUN_SECONDS)
        except subprocess.TimeoutExpired:
            code = None
        background = [line.split() for line in (repo / ".readme-background").read_text().splitlines()]
        stopped = [(n, (repo / f".readme-background-{n}.log").read_text(errors="replace")[-3000:])
                   for pid, n in background if not alive(int(pid))]
        kill_group(proc.pid)
    output = log.read_text(errors="replace")
    last = re.findall(r"@@ (README [^@]*) @@", output)
    where = last[-1] if last else "before the first block"
    assert code is not None, f"the README's blocks did not finish in {RUN_SECONDS:.0f} s ({where}):\n{output[-6000:]}"
    assert code == 0, f"{where} failed (exit code {code}):\n{output[-6000:]}"
    assert not stopped, "background blocks stopped before the end: " + "\n".join(f"block {n}:\n{t}" for n, t in stopped)
