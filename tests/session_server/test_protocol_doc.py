"""PROTOCOL.md and protocol/messages.py stay in step."""

import re
from pathlib import Path

import session_server
from session_server.protocol import deltas, messages
from session_server.protocol.errors import ERROR_CODES

DOC = (Path(session_server.__file__).parent / "PROTOCOL.md").read_text()


def table_after(heading: str) -> dict[str, list[str]]:
    section = DOC.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `") and cells:
            rows[cells[0].strip("`")] = cells[1:]
    return rows


def test_client_message_table_matches_models() -> None:
    table = table_after("Client to server")
    assert set(table) == set(messages.CLIENT_TYPES)
    for kind, (fields, *_rest) in table.items():
        model = messages.CLIENT_TYPES[kind]
        documented = set(re.findall(r"`(\w+)`", fields))
        actual = set(model.model_fields) - {"v", "type"}
        if kind in ("leave", "ping", "presence"):
            actual.discard("id")
        assert documented == actual, kind


def test_server_message_table_matches_models() -> None:
    table = table_after("Server to client")
    assert set(table) == set(messages.SERVER_TYPES)
    for kind, (fields, *_rest) in table.items():
        documented = set(re.findall(r"`(\w+)`", fields))
        assert documented <= set(messages.SERVER_TYPES[kind].model_fields), kind


def test_error_table_matches_codes() -> None:
    table = table_after("Error codes")
    assert set(table) == set(ERROR_CODES)
    for code, (close, _desc) in table.items():
        expected = ERROR_CODES[code].close_code
        assert close == ("-" if expected is None else str(expected))


def test_delta_ops_are_documented() -> None:
    section = DOC.split("## Deltas\n", 1)[1].split("\n## ", 1)[0]
    assert set(re.findall(r"`([a-z]+(?:\.[a-z]+)?)`", section)) >= set(deltas.DELTA_OPS)
