"""The packages' shape, checked: import-linter's contracts in pyproject.toml (packages depend downward only;
nobody reaches into the asset pipeline's internals), no imports of another package's private (``_name``)
modules, and a docstring on every public function, class and method."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("assets_pipeline", "tryon", "scanning", "session_server")
CONTRACTS = {c["id"]: c["name"] for c in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"][
    "contracts"]}


def lint_imports(contract: str) -> subprocess.CompletedProcess[str]:
    """Run import-linter on one contract of pyproject.toml from the checkout; returns the finished process."""
    code = "from importlinter.cli import lint_imports_command; lint_imports_command()"
    return subprocess.run([sys.executable, "-c", code, "--no-cache", "--no-logo", "--contract", contract],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)


def test_contracts_are_configured() -> None:
    assert {"layers", "tryon-reaches", "scanning-reaches", "session-reaches"} <= set(CONTRACTS)


@pytest.mark.parametrize("contract", list(CONTRACTS))
def test_import_contract(contract: str) -> None:
    result = lint_imports(contract)
    assert result.returncode == 0, f"{CONTRACTS[contract]}:\n{result.stdout[-4000:]}{result.stderr[-2000:]}"


def test_a_broken_contract_is_reported(tmp_path: Path) -> None:
    """The runner fails when a contract is broken: a lower package importing a higher one in a copy."""
    for pkg in ("low", "high"):
        (tmp_path / pkg).mkdir()
        (tmp_path / pkg / "__init__.py").write_text("")
    (tmp_path / "low" / "up.py").write_text("import high\n")
    (tmp_path / "pyproject.toml").write_text(
        '[tool.importlinter]\nroot_packages = ["low", "high"]\n[[tool.importlinter.contracts]]\n'
        'id = "layers"\nname = "high above low"\ntype = "layers"\nlayers = ["high", "low"]\n')
    code = "from importlinter.cli import lint_imports_command; lint_imports_command()"
    result = subprocess.run([sys.executable, "-c", code, "--no-cache", "--no-logo"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 1 and "low.up -> high" in result.stdout, result.stdout + result.stderr


def private_reaches(graph: grimp.ImportGraph) -> list[str]:
    """Imports from one package of a module whose name has a ``_private`` part in another; returns 'a -> b' lines."""
    bad = []
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            if importer.split(".")[0] == imported.split(".")[0]:
                continue
            if any(part.startswith("_") and not part.startswith("__") for part in imported.split(".")):
                bad.append(f"{importer} -> {imported}")
    return bad


def test_no_package_imports_another_packages_private_modules() -> None:
    sys.path.insert(0, str(ROOT))
    try:
        graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    finally:
        sys.path.remove(str(ROOT))
    assert private_reaches(graph) == []


def missing_docstrings(package: Path, root: Path = ROOT) -> list[str]:
    """Public functions, classes and methods of public classes without a docstring in a package folder;
    returns 'path:line name' lines. Private (``_name``) modules, classes and functions are left out."""
    missing: list[str] = []

    def visit(body: list[ast.stmt], path: Path, prefix: str) -> None:
        for node in body:
            public = not getattr(node, "name", "_").startswith("_")
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and public:
                if not ast.get_docstring(node):
                    missing.append(f"{path.relative_to(root)}:{node.lineno} {prefix}{node.name}")
                if isinstance(node, ast.ClassDef):
                    visit(node.body, path, f"{prefix}{node.name}.")

    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(root).parts
        if any(p.startswith("_") and p not in ("__init__.py", "__main__.py") for p in parts):
            continue
        visit(ast.parse(path.read_text(encoding="utf-8")).body, path, "")
    return missing


@pytest.mark.parametrize("package", PACKAGES)
def test_public_api_has_docstrings(package: str) -> None:
    missing = missing_docstrings(ROOT / package)
    assert not missing, f"{len(missing)} public functions/classes/methods without a docstring:\n" + "\n".join(missing)


def test_missing_docstrings_are_found(tmp_path: Path) -> None:
    """The docstring check sees undocumented public names and leaves private ones and private modules out."""
    pkg = tmp_path / "pkg"
    (pkg / "_private").mkdir(parents=True)
    (pkg / "_private" / "mod.py").write_text("def hidden():\n    pass\n")
    (pkg / "mod.py").write_text('def f():\n    pass\n\n\ndef _g():\n    pass\n\n\nclass A:\n    """A."""\n\n'
                                '    def m(self):\n        pass\n\n    def _n(self):\n        pass\n')
    assert missing_docstrings(pkg, tmp_path) == ["pkg/mod.py:1 f", "pkg/mod.py:12 A.m"]
