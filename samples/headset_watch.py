"""Simulate a headset watching a shared AR session: print every change and presence summary.

    python -m session_server serve &
    python samples/headset_watch.py --room store-1 --seconds 20 [--until lock.release]

Prints one line per delta (revision, op, object) and, once a second, how many other devices it sees.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time

from session_server.client import SessionClient, SessionError
from session_server.protocol import auth
from session_server.protocol.deltas import Delta
from session_server.settings import SessionSettings


def dev_token(room: str, participant: str, role: str) -> str:
    secret = SessionSettings().token_secret.get_secret_value().encode()
    return auth.sign(auth.Claims(room, participant, role, time.time() + 3600), secret)


async def run(args: argparse.Namespace) -> int:
    done = asyncio.Event()

    def on_delta(delta: Delta) -> None:
        target = delta.data.get("object") or delta.data.get("participant") or delta.data.get("anchor") or ""
        print(f"rev {delta.rev:>5} {delta.op:<18} {target}", flush=True)
        if args.until and delta.op == args.until:
            done.set()

    seen: set[str] = set()

    def on_presence(frame: dict[str, object]) -> None:
        seen.update(frame["poses"])  # type: ignore[arg-type]

    token = args.token or dev_token(args.room, args.participant, "headset")
    client = SessionClient(args.url, args.room, token, on_delta=on_delta, on_presence=on_presence)
    welcome = await client.connect()
    state = client.mirror.state
    print(
        f"watching {args.room} from revision {welcome['revision']}: {len(state.objects)} objects, "
        f"{len(state.participants)} participants",
        flush=True,
    )
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline and not done.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), min(1.0, max(0.0, deadline - time.monotonic())))
        others = [p for p in client.mirror.presence if p != client.participant]
        print(f"presence: {len(others)} other device(s)", flush=True)
    print(f"saw presence from: {', '.join(sorted(seen - {client.participant or ''})) or 'nobody'}", flush=True)
    for obj in client.mirror.state.objects.values():
        print(f"object {obj.id}: sku={obj.sku} variant={obj.variant} position={list(obj.pose[:3])}", flush=True)
    await client.close()
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", default=f"ws://127.0.0.1:{SessionSettings().port}/ws",
                   help="server (default: the PHYGITAL_SESSION_PORT the server reads, 8700)")
    p.add_argument("--room", default="store-1")
    p.add_argument("--participant", default="headset-1")
    p.add_argument("--token", default=None, help="join token (default: mint a development token)")
    p.add_argument("--seconds", type=float, default=20.0, help="watch at most this long")
    p.add_argument("--until", default=None, help="stop early after a delta with this op (e.g. lock.release)")
    args = p.parse_args()
    try:
        return asyncio.run(run(args))
    except SessionError as exc:
        print(f"error: {exc.code}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
