"""Backplanes driven by random lease/commit/read steps from two nodes, checked against a plain model."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from session_server.backplane.base import Backplane, LeaseLost
from session_server.backplane.memory import MemoryBackplane, MemoryStore
from session_server.backplane.redis import RedisBackplane

REDIS_URL = "redis://127.0.0.1:6379/0"
NODES = ["n0", "n1"]


def make_machine(kind: str) -> type[RuleBasedStateMachine]:
    class BackplaneMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.loop = asyncio.new_event_loop()
            self.prefix = f"phygital-test:{uuid.uuid4().hex}"
            store = MemoryStore()
            self.nodes: dict[str, Backplane] = {}
            for n in NODES:
                self.nodes[n] = (
                    MemoryBackplane(n, store, lease_ms=60_000)
                    if kind == "memory"
                    else RedisBackplane(REDIS_URL, n, prefix=self.prefix, lease_ms=60_000)
                )
            self.holder: str | None = None
            self.log: list[int] = []
            self.cursor: dict[str, str] = {}

        def run(self, coro: Any) -> Any:
            return self.loop.run_until_complete(coro)

        @rule(node=st.sampled_from(NODES))
        def acquire(self, node: str) -> None:
            got = bool(self.run(self.nodes[node].acquire("room")))
            assert got == (self.holder in (None, node))
            if got:
                self.holder = node

        @rule(node=st.sampled_from(NODES))
        def release(self, node: str) -> None:
            self.run(self.nodes[node].release("room"))
            if self.holder == node:
                self.holder = None

        @rule(node=st.sampled_from(NODES), skip=st.integers(min_value=-2, max_value=2), count=st.integers(0, 3))
        def commit(self, node: str, skip: int, count: int) -> None:
            last = self.log[-1] if self.log else 0
            first = max(1, last + 1 + skip)
            deltas = [{"rev": first + i, "op": "chat", "data": {}} for i in range(count)]
            bp = self.nodes[node]
            # the lease holder commits; a non-empty commit must follow the last revision (the first may start anywhere)
            ok = self.holder == node and (count == 0 or not self.log or first == last + 1)
            try:
                self.run(bp.commit("room", deltas, {"state": {"revision": first + count - 1}}, bp.start_cursor))
            except LeaseLost:
                assert not ok
                return
            assert ok
            self.log.extend(d["rev"] for d in deltas)

        @invariant()
        def log_matches(self) -> None:
            got = [d["rev"] for d in self.run(self.nodes["n1"].read_log("room", 0, limit=10_000))]
            assert got == self.log
            assert got == sorted(set(got))

        def teardown(self) -> None:
            async def close() -> None:
                for bp in self.nodes.values():
                    await bp.forget("room")
                    await bp.close()

            self.run(close())
            self.loop.close()

    return BackplaneMachine


@pytest.mark.parametrize("kind", ["memory", "redis"])
def test_backplane_machine(kind: str) -> None:
    machine = make_machine(kind)
    machine.TestCase.settings = settings(
        max_examples=30 if kind == "redis" else 80, stateful_step_count=25, deadline=None
    )
    machine.TestCase().runTest()
