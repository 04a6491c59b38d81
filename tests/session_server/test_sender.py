import asyncio

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
        assert sent[0] == "reliable" and '"a":[2.0]' in sent[1] and '"gone":["b"]' in sent[1]

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
