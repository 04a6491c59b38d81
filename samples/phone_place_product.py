"""Simulate a phone in a shared AR session: place a product, drag it, change its variant.

    python -m session_server serve &                                  # in-memory server on :8700
    python samples/phone_place_product.py --room store-1 --sku SOFA-3 --steps 30

Without --token a development token is minted with PHYGITAL_SESSION_TOKEN_SECRET (or the built-in
development secret).  Prints one line per step; exits 0 when every request was acknowledged.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import time

from session_server.client import SessionClient, SessionError
from session_server.protocol import auth
from session_server.settings import SessionSettings


def dev_token(room: str, participant: str, role: str) -> str:
    secret = SessionSettings().token_secret.get_secret_value().encode()
    return auth.sign(auth.Claims(room, participant, role, time.time() + 3600), secret)


async def run(args: argparse.Namespace) -> int:
    token = args.token or dev_token(args.room, args.participant, "phone")
    client = SessionClient(args.url, args.room, token)
    welcome = await client.connect()
    print(f"joined {args.room} as {welcome['participant']} at revision {welcome['revision']}")
    oid = args.object
    try:
        await client.request(
            "object.place",
            object=oid,
            sku=args.sku,
            variant=args.variant,
            pose={"p": [0.0, 0.0, -1.5], "q": [0, 0, 0, 1]},
        )
    except SessionError as exc:
        if exc.code != "object_exists":
            raise
    await client.request("object.lock", object=oid)
    for step in range(args.steps):
        angle = 2 * math.pi * step / max(1, args.steps)
        x, z = 0.8 * math.cos(angle), -1.5 + 0.8 * math.sin(angle)
        # the phone's camera circles the product at 30 Hz; the product follows the drag, reliably
        await client.send_presence([x * 1.5, 1.4, z + 0.5], [0, math.sin(angle / 2), 0, math.cos(angle / 2)])
        ack = await client.request("object.move", object=oid, pose={"p": [x, 0.0, z], "q": [0, 0, 0, 1]})
        print(f"move {step + 1}/{args.steps} -> revision {ack['revision']}")
        await asyncio.sleep(1 / 30)
    ack = await client.request("object.variant", object=oid, variant=args.final_variant)
    print(f"variant {args.final_variant} -> revision {ack['revision']}")
    await client.request("object.unlock", object=oid)
    obj = client.mirror.state.objects[oid]
    print(f"final {oid}: sku={obj.sku} variant={obj.variant} position={list(obj.pose[:3])}")
    await client.close()
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", default=f"ws://127.0.0.1:{SessionSettings().port}/ws",
                   help="server (default: the PHYGITAL_SESSION_PORT the server reads, 8700)")
    p.add_argument("--room", default="store-1")
    p.add_argument("--participant", default="phone-1")
    p.add_argument("--token", default=None, help="join token (default: mint a development token)")
    p.add_argument("--object", default="sofa-1")
    p.add_argument("--sku", default="SOFA-3")
    p.add_argument("--variant", default="linen-grey")
    p.add_argument("--final-variant", default="velvet-green")
    p.add_argument("--steps", type=int, default=30)
    args = p.parse_args()
    try:
        return asyncio.run(run(args))
    except SessionError as exc:
        print(f"error: {exc.code}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
