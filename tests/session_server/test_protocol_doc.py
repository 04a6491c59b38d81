"""PROTOCOL.md and the code (protocol/messages.py, every kind in protocol/kinds/) stay in step."""

import re
from pathlib import Path

import pytest

import session_server
from session_server.protocol import messages
from session_server.protocol.errors import ERROR_CODES
from session_server.protocol.kinds import KINDS, RoomKind
from session_server.protocol.kinds.base import CORE_OPS
from session_server.protocol.kinds.shared_space import EDIT_ROLES

DOC = (Path(session_server.__file__).parent / "PROTOCOL.md").read_text()


def section(heading: str) -> str:
    assert f"## {heading}\n" in DOC, f"PROTOCOL.md has no section {heading!r}"
    return DOC.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]


def table_in(text: str) -> dict[str, list[str]]:
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `") and cells:
            rows[cells[0].strip("`")] = cells[1:]
    return rows


def documented_fields(cell: str) -> set[str]:
    return set(re.findall(r"`(\w+)`", cell))


def test_session_message_table_matches_models() -> None:
    table = table_in(section("Client to server"))
    assert set(table) == set(messages.SESSION_TYPES)
    for kind, (fields, *_rest) in table.items():
        actual = set(messages.SESSION_TYPES[kind].model_fields) - {"v", "type"}
        if kind in ("leave", "ping", "presence"):
            actual.discard("id")
        assert documented_fields(fields) == actual, kind


def test_kind_table_lists_every_kind_with_its_roles() -> None:
    table = table_in(section("Room kinds"))
    assert list(table) == [k.name for k in KINDS]
    for kind in KINDS:
        _ids, roles = table[kind.name]
        assert documented_fields(roles) == set(kind.roles), kind.name


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_each_kind_documents_its_messages_and_deltas(kind: RoomKind) -> None:
    text = section(f"Room kind `{kind.name}`")
    text, deltas_text = text.split("Deltas (`data` fields", 1)
    table = table_in(text.split("Commands (", 1)[0])
    assert set(table) == set(kind.messages), kind.name
    for name, (fields, roles, _effect) in table.items():
        spec = kind.messages[name]
        assert documented_fields(fields) == set(spec.model.model_fields) - {"v", "type"}, name
        if roles == "all":
            assert spec.roles is None, name
        else:
            assert (EDIT_ROLES if roles == "edit" else documented_fields(roles)) == spec.roles, name
    own_ops = set(kind.ops) - set(CORE_OPS)
    assert set(table_in(deltas_text)) == own_ops, kind.name
    if kind.commands:
        commands = table_in(text.split("Commands (", 1)[1])
        assert set(commands) == set(kind.commands), kind.name
        for name, (fields, _effect) in commands.items():
            assert documented_fields(fields) == set(kind.commands[name].model.model_fields) - {"type"}, name


def test_server_message_table_matches_models() -> None:
    table = table_in(section("Server to client"))
    assert set(table) == set(messages.SERVER_TYPES)
    for kind, (fields, *_rest) in table.items():
        assert documented_fields(fields) <= set(messages.SERVER_TYPES[kind].model_fields), kind


def test_error_table_matches_codes() -> None:
    table = table_in(section("Error codes"))
    assert set(table) == set(ERROR_CODES)
    for code, (close, _desc) in table.items():
        expected = ERROR_CODES[code].close_code
        assert close == ("-" if expected is None else str(expected))


def test_participant_deltas_are_documented() -> None:
    assert set(re.findall(r"`([a-z]+\.[a-z]+)`", section("Deltas"))) >= set(CORE_OPS)
