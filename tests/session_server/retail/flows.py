"""Helpers of the fitting-room flow tests: HTTP calls with device keys/tokens and room watchers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import httpx

from session_server.client import SessionClient
from tests.conftest import TIME_FACTOR

JEANS_EPC = "3034257BF0000280000003E9"
SNEAKERS_EPC = "3034257BF0000440000007D1"
TSHIRT_M_WHITE = "0614140000020"
LYON_TAG = "3034257BF000008000000BB9"
UNKNOWN_EPC = "E28011606000020000000001"


def device(key: str) -> dict[str, str]:
    """Authorization header of a device key."""
    return {"Authorization": f"Device {key}"}


def bearer(token: str) -> dict[str, str]:
    """Authorization header of a room token."""
    return {"Authorization": f"Bearer {token}"}


class Watcher:
    """A room client that keeps every delta it saw."""

    def __init__(self, http: str, room: str, token: str) -> None:
        self.deltas: list[tuple[str, dict[str, Any]]] = []
        self.client = SessionClient(http.replace("http", "ws", 1) + "/ws", room, token, on_delta=self._seen)
        self.changed = asyncio.Event()

    def _seen(self, delta: Any) -> None:
        self.deltas.append((delta.op, dict(delta.data)))
        self.changed.set()

    async def __aenter__(self) -> Watcher:
        await self.client.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.close()

    def ops(self, op: str) -> list[dict[str, Any]]:
        """Data of the deltas of one op seen so far."""
        return [d for o, d in self.deltas if o == op]

    async def wait(self, pred: Callable[[str, dict[str, Any]], bool], timeout: float = 10.0) -> dict[str, Any]:
        """The first delta for which ``pred(op, data)`` holds (AssertionError if none within ``timeout``)."""
        deadline = asyncio.get_running_loop().time() + timeout * TIME_FACTOR
        while True:
            for op, data in self.deltas:
                if pred(op, data):
                    return data
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise AssertionError(f"no such delta; seen: {[o for o, _ in self.deltas]}")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), left)

    def state(self) -> dict[str, Any]:
        """The mirrored room state."""
        return dict(self.client.mirror.state.snapshot())


async def token(http: httpx.AsyncClient, key: str) -> dict[str, Any]:
    """Exchange a device key for a room token."""
    r = await http.post("/api/devices/token", headers=device(key))
    assert r.status_code == 200, r.text
    return dict(r.json())


async def pair(http: httpx.AsyncClient, mirror_token: str, store: str = "paris-01", room: str = "3") -> dict[str, Any]:
    """Pair a phone through a fresh pairing code; the phone's token answer."""
    code = (await http.post(f"/api/rooms/{store}/{room}/pairing", headers=bearer(mirror_token))).json()["code"]
    r = await http.post("/api/pairing", json={"code": code})
    assert r.status_code == 200, r.text
    return dict(r.json())
