import asyncio
import json

from session_server.protocol.presence import PresenceTick
from session_server.server.sender import Sender


def test_presence_coalesces_while_the_peer_is_stalled_then_slow_consumer() -> None:
    async def main() -> None:
        gate = asyncio.Event()
        sent: list[str] = []
        failures: list[str] = []

        async def send(text: str) -> None:
            await gate.wait()  # a peer that does not read
            sent.append(text)

        s = Sender(send, failures.append, max_bytes=1000, send_timeout=0.3)
        task = asyncio.create_task(s.run())
        s.send("first")
        await asyncio.sleep(0.01)  # "first" is now blocked in send
        for i in range(100):
            s.send_presence(PresenceTick({f"p{i % 3}": [float(i)]}), f"frame{i}", float(i))
        assert s.coalesced == 99 and s.queued_bytes == 0
        for _ in range(300):
            s.send("x" * 10)
        assert failures == ["slow_consumer"] and s.failed == "slow_consumer"
        await asyncio.wait_for(task, 1.0)
        assert sent == []

    asyncio.run(main())


def test_blocked_send_times_out() -> None:
    async def main() -> None:
        failures: list[str] = []

        async def send(text: str) -> None:
            await asyncio.sleep(10)

        s = Sender(send, failures.append, max_bytes=10**6, send_timeout=0.2)
        task = asyncio.create_task(s.run())
        s.send("hello")
        await asyncio.wait_for(task, 2.0)
        assert failures == ["slow_consumer"]

    asyncio.run(main())


def test_merged_presence_is_reencoded_with_latest_poses() -> None:
    async def main() -> None:
        sent: list[str] = []
        gate = asyncio.Event()

        async def send(text: str) -> None:
            await gate.wait()
            sent.append(text)

        s = Sender(send, lambda r: None, max_bytes=10**6, send_timeout=5)
        task = asyncio.create_task(s.run())
        s.send("reliable")
        await asyncio.sleep(0.01)
        s.send_presence(PresenceTick({"a": [1.0], "b": [1.0]}), "enc1", 1.0)
        s.send_presence(PresenceTick({"a": [2.0]}, ("b",)), "enc2", 2.0)
        gate.set()
        await asyncio.sleep(0.05)
        task.cancel()
        merged = json.loads(sent[1])
        assert sent[0] == "reliable" and merged["poses"] == {"a": [2.0]} and merged["gone"] == ["b"]

    asyncio.run(main())


def test_waiting_frames_go_out_as_one_ordered_batch() -> None:
    async def main() -> None:
        import json

        sent: list[str] = []
        gate = asyncio.Event()

        async def send(text: str) -> None:
            await gate.wait()
            sent.append(text)

        s = Sender(send, lambda r: None, max_bytes=10**6, send_timeout=5)
        task = asyncio.create_task(s.run())
        s.send('{"v":1,"type":"delta","rev":1}')
        await asyncio.sleep(0.01)  # first frame in flight, the rest waits
        s.send('{"v":1,"type":"delta","rev":2}')
        s.send('{"v":1,"type":"ack","ref":"a","revision":2}')
        s.send_presence(
            PresenceTick({"a": [1.0]}), '{"v":1,"type":"presence","t":1,"poses":{"a":[1.0]},"gone":[]}', 1.0
        )
        gate.set()
        await asyncio.sleep(0.05)
        task.cancel()
        assert len(sent) == 2 and json.loads(sent[0])["rev"] == 1
        batch = json.loads(sent[1])
        assert batch["type"] == "batch"
        assert [f["type"] for f in batch["frames"]] == ["delta", "ack", "presence"]
        assert batch["frames"][0]["rev"] == 2

    asyncio.run(main())


def test_presence_frames_carry_the_same_numbers_in_fewer_bytes() -> None:
    import random
    from types import SimpleNamespace

    from session_server.protocol import messages as m
    from session_server.server.sender import presence_text

    rng = random.Random(13)
    values = [0.0, -0.0, 1.0, -1.0, 10.0, 100.0, 123456.1234, 0.00005, -0.00004999, 1e-05, 2.5e-05]
    saved = 0
    for _ in range(500):
        poses = {}
        for i in range(rng.randint(0, 12)):
            p = [rng.choice([*values, rng.uniform(-1e4, 1e4)]) for _ in range(3)]
            q = [rng.choice([*values, rng.uniform(-1, 1)]) for _ in range(4)]
            poses[f"p{i}.0" if i % 2 else f"c-{i}:x0"] = m.pose_list(SimpleNamespace(p=p, q=q))  # type: ignore[arg-type]
        tick = PresenceTick(poses, tuple(f"g{j}.0" for j in range(rng.randint(0, 2))))
        t = rng.choice([1.0, round(rng.uniform(0, 2e9), 4)])
        text = presence_text(tick, t)
        plain = m.encode(m.server_frame("presence", t=t, poses=poses, gone=list(tick.gone)))
        assert json.loads(text) == json.loads(plain)  # the same numbers (1 == 1.0), ids and order
        saved += len(plain) - len(text)
    assert saved > 0
    typical = PresenceTick({"ana": [1.2, 1.6, 0.0, 0.0, 0.0, 0.0, 1.0]})
    expected = '{"v":1,"type":"presence","t":2.5,"poses":{"ana":[1.2,1.6,0,0,0,0,1]},"gone":[]}'
    assert presence_text(typical, 2.5) == expected
