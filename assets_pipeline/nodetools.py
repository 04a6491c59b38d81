"""The Node.js tools the pipeline runs: meshoptimizer 1.x's simplifier and the Khronos glTF-Validator.

What the package needs at run time ships inside it, in ``assets_pipeline/node/``: the two scripts and the
``package.json``/``package-lock.json`` naming the npm packages they import. The npm packages themselves go into a
folder outside the package, filled by ``phygital-assets node-tools --install`` (``npm ci``):
``PHYGITAL_ASSETS_NODE_TOOLS`` if set, else ``share/phygital/node-tools`` of the Python environment (so a venv,
pipx or ``make setup``'s ``.venv`` each have their own). The scripts are run from the package with
``node --input-type=module --eval``, whose imports resolve against the working directory: the folder only ever
holds npm packages, so upgrading the Python package never leaves stale scripts behind.

Benchmark-only tools (gltfpack, glTF-Transform, ws) stay in the checkout's ``tools/node``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .errors import MissingEncoder

PACKAGED = Path(__file__).resolve().parent / "node"
"""Scripts, package.json and package-lock.json shipped with the package."""
DEFAULT_FOLDER = Path(sys.prefix) / "share" / "phygital" / "node-tools"
"""Where the npm packages go unless ``PHYGITAL_ASSETS_NODE_TOOLS`` says otherwise."""
INSTALL_HINT = "run 'phygital-assets node-tools --install' (or set PHYGITAL_ASSETS_NODE_TOOLS)"

_configured: Path | None = None


def configure(folder: Path | None) -> None:
    """Use ``folder`` (the ``node_tools`` setting, read at the entry point) for this process; None: the default."""
    global _configured
    _configured = Path(folder).expanduser() if folder is not None else None


def folder() -> Path:
    """The folder holding the npm packages (``node_modules``) the scripts import."""
    return _configured or DEFAULT_FOLDER


def node() -> str | None:
    """Path of the ``node`` executable, or None."""
    return shutil.which("node")


def wanted() -> dict[str, str]:
    """The npm packages (name -> version) the shipped scripts need."""
    return dict(json.loads((PACKAGED / "package.json").read_text())["dependencies"])


def installed(package: str, where: Path | None = None) -> str | None:
    """The version of ``package`` installed in the folder, or None."""
    manifest = (where or folder()) / "node_modules" / package / "package.json"
    try:
        return str(json.loads(manifest.read_text())["version"])
    except (OSError, ValueError, KeyError):
        return None


def available(package: str, where: Path | None = None) -> bool:
    """True when node runs and ``package`` is installed in the folder."""
    return node() is not None and installed(package, where) is not None


def command(script: str, *args: str) -> list[str]:
    """The argv running a shipped script (``simplify.mjs``, ``validate.mjs``); run it with ``cwd=folder()``."""
    source = (PACKAGED / script).read_text()
    return [node() or "node", "--input-type=module", "--eval", source, "--", *args]


def missing(package: str, what: str, where: Path | None = None) -> MissingEncoder:
    """The error for a tool that cannot run: says what is missing and how to install it."""
    where = where or folder()
    if node() is None:
        return MissingEncoder(f"{what} needs Node.js 18 or newer on the PATH, then {INSTALL_HINT}", field=what)
    return MissingEncoder(f"{what} needs the npm package {package} in {where}: {INSTALL_HINT}", field=what)


@dataclass(frozen=True, slots=True)
class Status:
    """What is installed where: node's version, and each wanted package's installed version (None: missing)."""

    folder: Path
    node: str | None
    packages: dict[str, tuple[str, str | None]]

    @property
    def ready(self) -> bool:
        """Node runs and every package is installed at the wanted version."""
        return self.node is not None and all(want == have for want, have in self.packages.values())


def status(where: Path | None = None) -> Status:
    """Check node and the installed npm packages against what the shipped package.json wants."""
    where = where or folder()
    version = None
    exe = node()
    if exe is not None:
        try:
            version = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30,
                                     check=True).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            version = None
    return Status(where, version, {name: (want, installed(name, where)) for name, want in wanted().items()})


def install(where: Path | None = None, timeout_s: float = 900.0) -> Status:
    """Install the wanted npm packages into the folder with ``npm ci`` (idempotent); returns the new status."""
    where = (where or folder()).expanduser()
    if status(where).ready:
        return status(where)
    npm = shutil.which("npm")
    if node() is None or npm is None:
        raise MissingEncoder("installing the node tools needs Node.js 18 or newer and npm on the PATH",
                             field="node-tools")
    try:
        where.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            tmp = where / f".{name}.tmp"
            shutil.copyfile(PACKAGED / name, tmp)
            os.replace(tmp, where / name)
    except OSError as exc:
        raise MissingEncoder(f"cannot write {where}: {exc.strerror or exc}; set PHYGITAL_ASSETS_NODE_TOOLS "
                             "to a folder you can write", field="node-tools") from None
    try:
        proc = subprocess.run([npm, "ci", "--omit=dev", "--no-audit", "--no-fund", "--loglevel=error"], cwd=where,
                              capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise MissingEncoder(f"npm ci in {where} took longer than {timeout_s:.0f} s", field="node-tools") from None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise MissingEncoder(f"npm ci in {where} failed: {last}", field="node-tools")
    return status(where)
