"""The machine-readable protocol (docs/protocol.schema.json): generated from the code, committed as
generated, naming every message kind the code registers (as PROTOCOL.md does), and describing the
frames a real server sends in real sessions of every room kind, over both /ws adapters."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

import session_server
from session_server.protocol import schema
from session_server.protocol.inbound import CLIENT_TYPES
from session_server.protocol.kinds import KINDS
from session_server.protocol.messages import SERVER_TYPES, SESSION_TYPES
from tests.conftest import TIME_FACTOR

from .conftest import RunningServer, make_token, run
from .helpers import pose

DOC = (Path(session_server.__file__).parent / "PROTOCOL.md").read_text()


@pytest.fixture(params=["fast", "websockets-sansio"])
def ws_impl(request: pytest.FixtureRequest) -> str:
    """Both /ws adapters: the fast path and the ASGI route."""
    return str(request.param)


def test_committed_schema_is_what_the_code_generates() -> None:
    assert schema.SCHEMA_PATH.read_text() == schema.text(), (
        "docs/protocol.schema.json is out of date: run .venv/bin/python -m session_server.protocol.schema"
    )
    assert schema.main(["--check"]) == 0


def test_schema_is_valid_json_schema_and_validates_by_message() -> None:
    doc = schema.build()
    Draft202012Validator.check_schema(doc)
    v = Draft202012Validator(schema.closed(doc))
    assert v.is_valid({"v": 1, "type": "ping"})
    assert v.is_valid({"v": 1, "type": "object.move", "id": "m1", "object": "sofa", "pose": pose(1)})
    assert not v.is_valid({"v": 1, "type": "object.move", "id": "m1", "object": "sofa"})  # no pose
    assert not v.is_valid({"v": 1.5, "type": "ping"})
    assert not v.is_valid({"v": 1, "type": "delta", "rev": 3, "op": "object.move", "data": {"object": "sofa"}})
    # open as published: an unknown field is allowed (additive evolution); closed for checking the server
    assert Draft202012Validator(doc).is_valid({"v": 1, "type": "ping", "sent_at": 1})
    assert not v.is_valid({"v": 1, "type": "ping", "sent_at": 1})


def _doc_section(heading: str) -> str:
    return DOC.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]


def test_every_registered_message_kind_is_in_the_schema_and_in_protocol_md() -> None:
    doc = schema.build()
    defs = doc["$defs"]
    client_refs = {r["$ref"].rsplit("/", 1)[1] for r in defs["ClientMessage"]["oneOf"]}
    assert {defs[name]["properties"]["type"]["const"] for name in client_refs} == set(CLIENT_TYPES)
    server_refs = {r["$ref"].rsplit("/", 1)[1] for r in defs["ServerFrame"]["oneOf"]}
    assert len(server_refs) == len(SERVER_TYPES) and doc["x-server-frames"] == sorted(SERVER_TYPES)
    assert doc["x-session-messages"] == sorted(SESSION_TYPES)
    assert set(doc["x-room-kinds"]) == {k.name for k in KINDS}
    for kind in KINDS:
        entry = doc["x-room-kinds"][kind.name]
        assert set(entry["messages"]) == set(kind.messages) and set(entry["ops"]) == set(kind.ops), kind.name
        assert entry["roles"] == sorted(kind.roles)
        section = _doc_section(f"Room kind `{kind.name}`")
        for name in kind.messages:
            assert f"| `{name}` |" in section, f"PROTOCOL.md: {kind.name} message {name} is not in its table"
        ops_table = section.split("Deltas (`data` fields", 1)[1]
        for op in set(kind.ops) - {"participant.join", "participant.status", "participant.leave"}:
            assert f"| `{op}` |" in ops_table, f"PROTOCOL.md: {kind.name} delta {op} is not in its table"
    for name in SESSION_TYPES:
        assert f"| `{name}` |" in _doc_section("Client to server"), name
    for name in SERVER_TYPES:
        assert f"| `{name}` |" in _doc_section("Server to client"), name
    assert set(doc["x-error-codes"]) == set(re.findall(r"^\| `([a-z_]+)` \|", _doc_section("Error codes"), re.M))


def _fields(model: Any) -> set[str]:
    """A model's fields, without the optional ``by``/``req`` every edit delta has (documented once)."""
    return {n for n, f in model.model_fields.items() if n not in ("by", "req") or f.is_required()}


def test_protocol_md_lists_every_delta_field_and_state_field() -> None:
    """Each delta table row names exactly its op's data fields; each kind's state names its snapshot's fields."""
    core = {"participant.join", "participant.status", "participant.leave"}
    for kind in KINDS:
        section = _doc_section(f"Room kind `{kind.name}`")
        rows = {
            m.group(1): set(re.findall(r"`(\w+)`", m.group(2)))
            for m in re.finditer(r"^\| `([a-z_.]+)` \| ([^|]*) \|", section.split("Deltas (`data` fields", 1)[1], re.M)
        }
        for op in set(kind.ops) - core:
            assert rows[op] == _fields(kind.op_data[op]), (kind.name, op)
        state_text = section.split("Its `state`", 1)[1].split("\n\n")[1]  # the indented layout block
        assert kind.snapshot is not None
        for name in _fields(kind.snapshot):
            assert f'"{name}"' in state_text, (kind.name, name)
    deltas = _doc_section("Deltas")
    rows = {
        m.group(1): set(re.findall(r"`(\w+)`", m.group(2)))
        for m in re.finditer(r"^\| `([a-z_.]+)` \| ([^|]*) \|", deltas, re.M)
    }
    for op in core:
        assert rows[op] == _fields(KINDS[0].op_data[op]), op


def test_the_schema_is_served(server: RunningServer) -> None:
    res = httpx.get(server.http + "/protocol.schema.json")
    assert res.status_code == 200 and res.json() == schema.build()


# ---- real frames ----------------------------------------------------------------------------------


class Recorder:
    """A bare client keeping every frame as received (``batch`` frames too) and each message unpacked."""

    def __init__(self, ws: Any, log: list[dict[str, Any]]) -> None:
        self.ws = ws
        self.log = log
        self.seen: list[dict[str, Any]] = []
        self._buffer: list[dict[str, Any]] = []
        self._n = 0

    @classmethod
    async def join(cls, srv: RunningServer, log: list[dict[str, Any]], room: str, pid: str, role: str) -> Recorder:
        c = cls(await connect(srv.url), log)
        await c.send("join", id=c.rid(), room=room, token=make_token(room, pid, role))
        await c.until(lambda f: f["type"] == "welcome")
        return c

    def rid(self) -> str:
        self._n += 1
        return f"r{self._n}"

    async def send(self, kind: str, /, **fields: Any) -> None:
        await self.ws.send(json.dumps({"v": 1, "type": kind, **fields}))

    async def next(self) -> dict[str, Any]:
        while not self._buffer:
            frame = json.loads(await asyncio.wait_for(self.ws.recv(), 10 * TIME_FACTOR))
            self.log.append(frame)
            self._buffer.extend(frame["frames"] if frame["type"] == "batch" else [frame])
        frame = self._buffer.pop(0)
        self.seen.append(frame)
        return frame

    async def until(self, test: Any) -> dict[str, Any]:
        while True:
            frame = await self.next()
            if test(frame):
                return frame

    async def saw(self, test: Any) -> dict[str, Any]:
        """The first frame so far, or from now on, that passes ``test``."""
        return next((f for f in self.seen if test(f)), None) or await self.until(test)

    async def ask(self, kind: str, /, **fields: Any) -> dict[str, Any]:
        """Send a request; its answer (ack or error)."""
        rid = fields.pop("id", None) or self.rid()
        await self.send(kind, id=rid, **fields)
        return await self.until(lambda f: f["type"] in ("ack", "error") and f.get("ref") == rid)


async def _command(srv: RunningServer, room: str, cmd: dict[str, Any]) -> dict[str, Any]:
    fut = asyncio.run_coroutine_threadsafe(srv.node.command(room, cmd), srv.node.loop)
    return await asyncio.wrap_future(fut)  # type: ignore[no-any-return]


def test_real_frames_of_every_room_kind_validate(start_server: Any) -> None:
    srv = start_server(visit_timeout_s=1.0)
    log: list[dict[str, Any]] = []

    async def shared_space() -> None:
        a = await Recorder.join(srv, log, "schema-space", "ana", "phone")
        b = await Recorder.join(srv, log, "schema-space", "ben", "staff")
        assert (await a.ask("anchor.set", anchor="floor", pose=pose(0)))["type"] == "ack"
        await a.ask(
            "object.place", object="sofa", sku="SOFA-1", variant="grey", pose=pose(1), scale=1.5, anchor="floor"
        )
        await a.ask("object.lock", object="sofa")
        assert (await b.ask("object.move", object="sofa", pose=pose(2)))["code"] == "locked"
        await a.ask("object.move", object="sofa", pose=pose(2), scale=2.0)
        await a.ask("object.move", object="sofa", pose=pose(3))
        await a.ask("object.variant", object="sofa", variant="green")
        await a.ask("object.unlock", object="sofa")
        await b.ask("object.lock", object="sofa")
        await b.ask("object.delete", object="sofa")
        await b.ask("chat", text="nice", kind="text")
        await b.ask("chat", text="👍", kind="reaction")
        assert (await a.ask("chat", id="r3", text="again"))["duplicate"] is True  # an earlier id: answered again
        for x in range(3):
            await a.send("presence", pose=pose(x))
        await b.until(lambda f: f["type"] == "presence" and "ana" in f["poses"])
        await a.send("ping")
        await a.until(lambda f: f["type"] == "pong")
        await a.send("object.move", object="sofa")  # refused before the room: bad_message
        await a.until(lambda f: f["type"] == "error")
        # ben drops and resumes: a welcome with the missed deltas
        welcome_b = next(f for f in b.seen if f["type"] == "welcome")
        last = max(f["rev"] for f in b.seen if f["type"] == "delta")
        await b.ws.close()
        await a.saw(lambda f: f["type"] == "delta" and f["op"] == "participant.status")
        await a.ask("chat", text="while you were away")
        b2 = Recorder(await connect(srv.url), log)
        token = make_token("schema-space", "ben", "staff")
        await b2.send("resume", id="res", room="schema-space", token=token, session=welcome_b["session"], revision=last)
        resumed = await b2.until(lambda f: f["type"] == "welcome")
        assert resumed["resumed"] is True and resumed["deltas"]
        await b2.send("leave")
        await a.saw(lambda f: f["type"] == "delta" and f["op"] == "participant.leave")
        await a.ws.close()

    async def fitting_and_staff() -> None:
        staff = await Recorder.join(srv, log, "staff.s1", "sam", "staff")
        mirror = await Recorder.join(srv, log, "fit.s1.2", "mirror-2", "mirror")
        read = await _command(
            srv,
            "fit.s1.2",
            {
                "type": "item.read",
                "tag": "EPC-1",
                "sku": "JEANS-32",
                "size": "32",
                "name": "Jeans",
                "price": 59.9,
                "currency": "EUR",
            },
        )
        item = read["item"]
        await mirror.ask("item.add", sku="TEE-M", size="M", colour="white")
        await _command(srv, "fit.s1.2", {"type": "recs.set", "item": item, "recs": {"skus": ["BELT-1"]}})
        asked = await mirror.ask("request.create", kind="size", item=item, size="34")
        assert asked["type"] == "ack"
        created = await staff.saw(lambda f: f["type"] == "delta" and f["op"] == "request.created")
        rid = created["data"]["request"]
        await staff.ask("request.accept", request=rid)
        await staff.ask("request.deliver", request=rid)
        await mirror.until(
            lambda f: f["type"] == "delta" and f["op"] == "request.updated" and f["data"]["state"] == "delivered"
        )
        await _command(srv, "fit.s1.2", {"type": "phone.pair", "participant": "phone-7"})
        phone = await Recorder.join(srv, log, "fit.s1.2", "phone-7", "phone")
        await phone.ask("look.set", skus=["JEANS-32", "TEE-M"])
        await phone.ask("item.remove", item=item)
        await _command(srv, "fit.s1.2", {"type": "phone.unpair"})
        await mirror.ask("visit.end")
        await mirror.saw(lambda f: f["type"] == "delta" and f["op"] == "visit.cleared")
        await staff.saw(lambda f: f["type"] == "delta" and f["op"] == "room.summary")
        await staff.saw(lambda f: f["type"] == "delta" and f["op"] == "request.removed")  # visit_timeout after close
        for c in (staff, mirror, phone):
            await c.ws.close()

    async def shutdown() -> None:
        c = await Recorder.join(srv, log, "schema-last", "zoe", "viewer")
        srv.server.should_exit = True
        with pytest.raises(ConnectionClosed):
            while True:
                await c.next()

    async def main() -> None:
        await shared_space()
        await fitting_and_staff()
        await shutdown()

    run(main())
    validator = Draft202012Validator(schema.closed(schema.build()))
    for frame in log:
        errors = sorted(validator.iter_errors(frame), key=lambda e: e.path)
        assert not errors, f"{json.dumps(frame)[:300]}: {[e.message[:200] for e in errors[:3]]}"
    messages = [f for top in log for f in (top["frames"] if top["type"] == "batch" else [top])]
    assert {f["type"] for f in messages} >= set(SERVER_TYPES) - {"batch"}
    ops = {f["op"] for f in messages if f["type"] == "delta"} | {
        d["op"] for f in messages if f["type"] == "welcome" for d in f.get("deltas") or []
    }
    every_op = {op for kind in KINDS for op in kind.ops}
    assert every_op <= ops, f"no frame of {sorted(every_op - ops)}"
