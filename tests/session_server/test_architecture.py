"""The protocol core stays sans-I/O: no asyncio, fastapi, starlette, websockets or redis imports."""

import ast
from pathlib import Path

import session_server.protocol

FORBIDDEN = {"asyncio", "fastapi", "starlette", "websockets", "redis", "uvicorn", "socket", "os"}


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_protocol_imports_no_io() -> None:
    files = sorted(Path(session_server.protocol.__file__).parent.rglob("*.py"))
    assert len(files) >= 13 and any(f.parent.name == "kinds" for f in files)
    bad = {f.name: sorted(imported_roots(f) & FORBIDDEN) for f in files if imported_roots(f) & FORBIDDEN}
    assert bad == {}


def test_checker_catches_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "x.py"
    sample.write_text("import asyncio\nfrom redis.asyncio import Redis\n")
    assert imported_roots(sample) & FORBIDDEN == {"asyncio", "redis"}
