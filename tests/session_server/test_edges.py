"""Order and edges over real server processes (``python -m session_server`` on free ports), both /ws
adapters: an ack never overtakes its delta, messages sent before the welcome are handled after it,
``too_big`` at every size, the first ack's ``duplicate``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis import Redis
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import TIME_FACTOR

from .conftest import SECRET, free_port, make_token, run
from .helpers import pose

ROOT = Path(__file__).resolve().parents[2]
REDIS = "redis://127.0.0.1:6379/0"


class Served:
    """One ``python -m session_server`` process."""

    def __init__(self, proc: subprocess.Popen[str], port: int) -> None:
        self.proc = proc
        self.port = port
        self.url = f"ws://127.0.0.1:{port}/ws"


@pytest.fixture(scope="module", params=["fast", "websockets-sansio"])
def ws_impl(request: pytest.FixtureRequest) -> str:
    """Both /ws adapters: the fast path and the ASGI route (module scope: the tests of one run together)."""
    return str(request.param)


@contextlib.contextmanager
def serving(ws_impl: str) -> Iterator[Callable[..., Served]]:
    """Start ``python -m session_server`` processes (``impl``/env overrides); all are stopped at the end."""
    procs: list[subprocess.Popen[str]] = []
    logs: list[Any] = []

    def start(impl: str | None = None, **env: str) -> Served:
        port = free_port()
        log = tempfile.TemporaryFile("w+")  # noqa: SIM115  (a file, not a pipe that a long-lived process fills)
        logs.append(log)
        full = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "PHYGITAL_SESSION_TOKEN_SECRET": SECRET,
            "PHYGITAL_SESSION_PORT": str(port),
            "PHYGITAL_SESSION_WS_IMPL": impl or ws_impl,
            **env,
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "session_server"],
            env=full,
            stdout=subprocess.DEVNULL,
            stderr=log,
            text=True,
        )
        procs.append(proc)
        deadline = time.monotonic() + 120 * TIME_FACTOR  # a start under heavy load takes tens of seconds
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health").json()["status"] == "ok":
                    return Served(proc, port)
            except httpx.TransportError:
                pass
            if proc.poll() is not None:
                log.seek(0)
                raise AssertionError(f"server exited: {log.read()}")
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)

    try:
        yield start
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(20 * TIME_FACTOR)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for log in logs:
            log.close()


@pytest.fixture
def serve(ws_impl: str) -> Iterator[Callable[..., Served]]:
    """Processes of this test's own (other settings, several processes)."""
    with serving(ws_impl) as start:
        yield start


@pytest.fixture(scope="module")
def served(ws_impl: str) -> Iterator[Served]:
    """One process with the default settings, shared by the tests of an adapter: each uses rooms of its own."""
    with serving(ws_impl) as start:
        yield start()


class Raw:
    """A bare client: every frame received, ``batch`` frames unpacked, in order."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []
        self._buffer: list[dict[str, Any]] = []

    async def send(self, kind: str, /, **fields: Any) -> None:
        await self.ws.send(json.dumps({"v": 1, "type": kind, **fields}))

    async def next(self, timeout: float = 10.0) -> dict[str, Any]:
        while not self._buffer:
            frame = json.loads(await asyncio.wait_for(self.ws.recv(), timeout * TIME_FACTOR))
            self._buffer.extend(frame["frames"] if frame["type"] == "batch" else [frame])
        frame = self._buffer.pop(0)
        self.frames.append(frame)
        return frame

    async def until(self, test: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        while True:
            frame = await self.next()
            if test(frame):
                return frame


async def raw_join(url: str, room: str, pid: str, role: str = "phone") -> Raw:
    c = Raw(await connect(url, max_queue=None))  # a peer that reads nothing still gets the server's close frame
    await c.send("join", id="j", room=room, token=make_token(room, pid, role))
    welcome = await c.until(lambda f: f["type"] in ("welcome", "error"))
    assert welcome["type"] == "welcome", welcome
    return c


async def requests_see_their_delta_first(c: Raw, n: int) -> list[dict[str, Any]]:
    """Send ``n`` chats one after the other; return their acks, checking each came after its delta."""
    acks = []
    for i in range(n):
        rid = f"chat-{i}"
        start = len(c.frames)
        await c.send("chat", id=rid, text=f"line {i}")
        ack = await c.until(lambda f, rid=rid: f["type"] in ("ack", "error") and f.get("ref") == rid)
        assert ack["type"] == "ack", ack
        mine = [f for f in c.frames[start:] if f["type"] == "delta" and f["data"].get("req") == rid]
        assert [d["rev"] for d in mine] == [ack["revision"]], (rid, c.frames[start:])
        acks.append(ack)
    return acks


@pytest.mark.parametrize("backplane", ["memory", "redis"])
def test_a_requester_sees_its_delta_no_later_than_its_ack(
        request: pytest.FixtureRequest, ws_impl: str, backplane: str) -> None:
    env = {"PHYGITAL_SESSION_REDIS_URL": REDIS, "PHYGITAL_SESSION_REDIS_PREFIX": f"t:{uuid.uuid4().hex}"}
    srv = request.getfixturevalue("serve")(**env) if backplane == "redis" else request.getfixturevalue("served")

    async def main() -> None:
        a = await raw_join(srv.url, "order", "ana")
        b = await raw_join(srv.url, "order", "ben")  # someone else in the room: deltas go to two clients
        acks = await requests_see_their_delta_first(a, 30)
        assert all(ack["duplicate"] is False for ack in acks)  # the documented field, on the first ack too
        await a.send("chat", id="chat-0", text="again")
        again = await a.until(lambda f: f["type"] == "ack" and f["ref"] == "chat-0")
        assert again["duplicate"] is True and again["revision"] == acks[0]["revision"]
        await a.ws.close()
        await b.ws.close()

    try:
        run(main())
    finally:
        if backplane == "redis":
            r = Redis.from_url(REDIS)
            keys = list(r.scan_iter(match=f"{env['PHYGITAL_SESSION_REDIS_PREFIX']}:*"))
            if keys:
                r.delete(*keys)
            r.close()


def test_ack_after_delta_when_another_process_orders_the_room(serve: Callable[..., Served]) -> None:
    env = {"PHYGITAL_SESSION_REDIS_URL": REDIS, "PHYGITAL_SESSION_REDIS_PREFIX": f"t:{uuid.uuid4().hex}"}
    leader, other = serve(**env), serve(**env)

    async def main() -> None:
        a = await raw_join(leader.url, "far", "ana")  # the first process takes the room's lease
        b = await raw_join(other.url, "far", "ben")  # requests from here are ordered by the first process
        await requests_see_their_delta_first(b, 20)
        await a.ws.close()
        await b.ws.close()

    try:
        run(main())
    finally:
        r = Redis.from_url(REDIS)
        keys = list(r.scan_iter(match=f"{env['PHYGITAL_SESSION_REDIS_PREFIX']}:*"))
        if keys:
            r.delete(*keys)
        r.close()


def test_messages_sent_before_the_welcome_are_handled_after_it(served: Served) -> None:
    srv = served

    async def main() -> None:
        ben = await raw_join(srv.url, "early", "ben")
        ws = await connect(srv.url)
        join = {"v": 1, "type": "join", "id": "j", "room": "early", "token": make_token("early", "ana")}
        pose_msg = {"v": 1, "type": "presence", "pose": pose(4.5)}
        chat = {"v": 1, "type": "chat", "id": "hi", "text": "right after join"}
        for f in (join, pose_msg, chat):  # all before the welcome could arrive
            await ws.send(json.dumps(f))
        ana = Raw(ws)
        first = await ana.next()
        assert first["type"] == "welcome", first
        ack = await ana.until(lambda f: f["type"] in ("ack", "error"))
        assert ack["type"] == "ack" and ack["ref"] == "hi", ack
        assert not [f for f in ana.frames if f["type"] == "error"]
        delta = await ben.until(lambda f: f["type"] == "delta" and f["op"] == "chat")
        assert delta["data"]["text"] == "right after join" and delta["data"]["by"] == "ana"

        def has_ana(f: dict[str, Any]) -> bool:
            return f["type"] == "presence" and "ana" in f["poses"]

        seen = next((f for f in ben.frames if has_ana(f)), None) or await ben.until(
            has_ana
        )  # before or after the delta
        assert seen["poses"]["ana"][0] == 4.5  # the pose sent before the welcome
        await ws.close()
        await ben.ws.close()

    run(main())


def test_messages_after_a_refused_join_are_refused_without_closing(served: Served) -> None:
    srv = served

    async def main() -> None:
        ws = await connect(srv.url)
        c = Raw(ws)
        join = {"v": 1, "type": "join", "id": "j", "room": "staff.paris", "token": make_token("staff.paris", "ana")}
        await ws.send(json.dumps(join))  # a phone may not join a staff room: forbidden, not a closing error
        await c.send("request.accept", id="acc", request="r1")
        await c.send("presence", pose=pose(1))
        refused = await c.next()
        assert refused["type"] == "error" and refused["code"] == "forbidden" and refused["ref"] == "j"
        waited = await c.next()
        assert waited["type"] == "error" and waited["code"] == "not_joined" and waited["ref"] == "acc"
        await c.send("ping")
        await c.until(lambda f: f["type"] == "pong")  # still open
        await c.send("chat", id="c1", text="not joined")
        assert (await c.until(lambda f: f.get("ref") == "c1"))["code"] == "not_joined"
        await c.send("ping")
        await c.until(lambda f: f["type"] == "pong")  # not_joined does not close
        await ws.close()

    run(main())


async def refused_as_too_big(url: str, message: str | list[str]) -> None:
    c = await raw_join(url, "big", f"p{uuid.uuid4().hex[:6]}")
    sending = asyncio.create_task(c.ws.send(message))
    err = await c.until(lambda f: f["type"] == "error")
    assert err["code"] == "too_big" and "limit 32768" in err["message"], err
    with pytest.raises(ConnectionClosed) as info:
        while True:
            await c.next()
    assert info.value.rcvd is not None and info.value.rcvd.code == 1009
    await asyncio.gather(sending, return_exceptions=True)


@pytest.mark.parametrize("size", [32_769, 40_000, 131_073, 3_000_000])
def test_too_big_error_then_close_at_every_size(served: Served, size: int) -> None:
    srv = served
    body = json.dumps({"v": 1, "type": "chat", "id": "c", "text": ""})
    text = body.replace('"text": ""', '"text": "' + "x" * (size - len(body)) + '"')
    assert len(text) == size
    run(refused_as_too_big(srv.url, text))


def test_too_big_counts_every_fragment_of_a_message(served: Served) -> None:
    srv = served
    run(
        refused_as_too_big(srv.url, ['{"v": 1, "type": "chat", "id": "c", "text": "', "y" * 20_000, "z" * 20_000, '"}'])
    )


def test_too_big_on_the_legacy_websockets_route() -> None:
    with serving("websockets") as serve:  # one adapter of its own: not run again for each of ws_impl's
        srv = serve()
        run(refused_as_too_big(srv.url, '{"v": 1, "type": "chat", "id": "c", "text": "' + "x" * 200_000 + '"}'))


def test_strict_reading_and_unknown_fields_over_the_wire(served: Served) -> None:
    srv = served

    async def refused(frame: str) -> tuple[dict[str, Any], int | None]:
        """The error a frame gets, and the close code that follows (None: the connection stays open)."""
        c = Raw(await connect(srv.url))
        await c.ws.send(frame)
        err = await c.until(lambda f: f["type"] == "error")
        try:
            await c.send("ping")
            await c.until(lambda f: f["type"] == "pong")
        except ConnectionClosed as exc:
            return err, exc.rcvd.code if exc.rcvd else None
        await c.ws.close()
        return err, None

    async def main() -> None:
        import base64
        import hashlib
        import hmac

        def signed(body: str) -> str:
            head = base64.urlsafe_b64encode(body.encode()).rstrip(b"=").decode()
            mac = hmac.new(SECRET.encode(), head.encode(), hashlib.sha256).digest()
            return head + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

        exp = int(time.time()) + 600
        bad_exp = signed(f'{{"room": "strict", "participant": "ana", "role": "phone", "exp": "{exp}"}}')
        err, code = await refused(json.dumps({"v": 1, "type": "join", "id": "j", "room": "strict", "token": bad_exp}))
        assert (err["code"], code) == ("bad_token", 4001) and "'exp' must be a number" in err["message"]
        twice = signed(f'{{"room": "strict", "participant": "ana", "role": "viewer", "exp": {exp}, "role": "staff"}}')
        err, code = await refused(json.dumps({"v": 1, "type": "join", "id": "j", "room": "strict", "token": twice}))
        assert (err["code"], code) == ("bad_token", 4001) and "'role' appears twice" in err["message"]
        err, code = await refused('{"v": 1.0, "type": "ping"}')
        assert (err["code"], code) == ("bad_version", 1008)
        err, code = await refused('{"v": 1, "type": "ping", "type": "leave"}')
        assert (err["code"], err["field"], code) == ("bad_message", "type", None)  # answered, still open

        # a newer client's extra fields are ignored, at the top and inside the pose
        a = await raw_join(srv.url, "strict", "ana")
        await a.send("anchor.set", id="a1", anchor="floor", pose={"p": [0, 0, 0], "frame": "gravity"}, note="v1.4")
        ack = await a.until(lambda f: f["type"] in ("ack", "error"))
        assert ack["type"] == "ack" and ack["ref"] == "a1", ack
        await a.send("presence", pose={"p": [1, 0, 0], "accuracy": 0.1}, battery=0.5)
        await a.send("ping", sent_at=1.5)
        await a.until(lambda f: f["type"] == "pong")
        assert not [f for f in a.frames if f["type"] == "error"]
        await a.ws.close()

    run(main())
