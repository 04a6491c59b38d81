"""Redis backplane: each room's ordered change log is a Redis Stream, one process at a time holds
the room's lease (``SET NX PX``, renewed) and commits; checkpoints and the inbox cursor live beside
the log, so a process can die without losing anything that was acknowledged.

Keys (``P`` = prefix, ``R`` = room): ``P:lease:R`` (node id, PX), ``P:log:R`` (stream, entry id
``<rev>-0``), ``P:ckpt:R`` (JSON checkpoint), ``P:cursor:R`` (inbox cursor), ``P:inbox:R`` (stream of
requests), ``P:presence:R`` (capped stream, lossy), ``P:reply:<node>`` (list of replies).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from .base import Backplane, LeaseLost, Stored

logger = logging.getLogger(__name__)

LOG_MAXLEN = 50_000
INBOX_MAXLEN = 20_000
PRESENCE_MAXLEN = 200
REPLY_TTL_MS = 120_000

_ACQUIRE = """
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if not cur then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
# KEYS: lease, log, ckpt, cursor; ARGV: node, cursor, checkpoint or '', maxlen, n, then rev/delta pairs
_COMMIT = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return redis.error_reply('LEASE not held') end
local n = tonumber(ARGV[5])
if n > 0 then
  local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
  if #last > 0 then
    local lastrev = tonumber(string.match(last[1][1], '^(%d+)'))
    if lastrev + 1 ~= tonumber(ARGV[6]) then return redis.error_reply('ORDER revision gap') end
  end
  for i = 0, n - 1 do
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], ARGV[6 + 2 * i] .. '-0', 'd', ARGV[7 + 2 * i])
  end
end
redis.call('SET', KEYS[4], ARGV[2])
if ARGV[3] ~= '' then redis.call('SET', KEYS[3], ARGV[3]) end
return n
"""


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class RedisBackplane(Backplane):
    """A backplane on Redis: Streams for the log, inbox, replies and presence, a key per lease, Lua for atomic
    commits."""
    distributed = True
    start_cursor = "0-0"

    def __init__(self, url: str, node_id: str, prefix: str = "phygital:session", lease_ms: int = 3000) -> None:
        self.url = url
        self.node_id = node_id
        self.prefix = prefix
        self.lease_ms = lease_ms
        self.redis: Redis = Redis.from_url(url, decode_responses=True)
        self._acquire = self.redis.register_script(_ACQUIRE)
        self._release = self.redis.register_script(_RELEASE)
        self._commit = self.redis.register_script(_COMMIT)

    def _k(self, kind: str, name: str) -> str:
        return f"{self.prefix}:{kind}:{name}"

    async def start(self) -> None:
        """Check that Redis answers (PING)."""
        await self.redis.ping()

    async def close(self) -> None:
        """Close the Redis connection pool."""
        await self.redis.aclose()

    async def acquire(self, room: str) -> bool:
        """Take or renew the room's lease key for this node (Lua); True when this node holds it."""
        return bool(await self._acquire(keys=[self._k("lease", room)], args=[self.node_id, self.lease_ms]))

    async def release(self, room: str) -> None:
        """Delete the room's lease key if this node holds it (Lua)."""
        await self._release(keys=[self._k("lease", room)], args=[self.node_id])

    async def commit(
        self, room: str, deltas: list[dict[str, Any]], checkpoint: dict[str, Any] | None, cursor: str
    ) -> None:
        """Append deltas and store the cursor (and checkpoint) in one Lua call while holding the lease; LeaseLost
        otherwise."""
        args: list[Any] = [
            self.node_id,
            cursor,
            _dumps(checkpoint) if checkpoint is not None else "",
            LOG_MAXLEN,
            len(deltas),
        ]
        for d in deltas:
            args.extend((d["rev"], _dumps(d)))
        keys = [self._k("lease", room), self._k("log", room), self._k("ckpt", room), self._k("cursor", room)]
        try:
            await self._commit(keys=keys, args=args)
        except ResponseError as exc:
            if str(exc).startswith(("LEASE", "ORDER")):
                raise LeaseLost(room) from exc
            raise

    async def load(self, room: str) -> Stored | None:
        """Return the room's last checkpoint and cursor, or None."""
        blob, cursor = await self.redis.mget(self._k("ckpt", room), self._k("cursor", room))
        if blob is None:
            return None
        return Stored(json.loads(blob), cursor or self.start_cursor)

    async def read_log(self, room: str, after: int, block_ms: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        """Return up to ``limit`` deltas with revision > ``after``, waiting up to ``block_ms`` for one."""
        key = self._k("log", room)
        res = await self.redis.xread({key: f"{after}-0"}, count=limit, block=block_ms or None)
        if not res:
            return []
        return [json.loads(fields["d"]) for _id, fields in res[0][1]]

    async def submit(self, room: str, item: dict[str, Any]) -> None:
        """Add a client request to the room's inbox stream."""
        await self.redis.xadd(self._k("inbox", room), {"j": _dumps(item)}, maxlen=INBOX_MAXLEN, approximate=True)

    async def read_inbox(self, room: str, cursor: str, block_ms: int) -> list[tuple[str, dict[str, Any]]]:
        """Return (stream id, item) pairs of the room's inbox after ``cursor``, waiting up to ``block_ms``."""
        res = await self.redis.xread({self._k("inbox", room): cursor}, count=500, block=block_ms or None)
        if not res:
            return []
        return [(entry_id, json.loads(fields["j"])) for entry_id, fields in res[0][1]]

    async def reply(self, node: str, item: dict[str, Any]) -> None:
        """Add a reply to the node ``node``'s reply stream."""
        key = self._k("reply", node)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.rpush(key, _dumps(item))
            pipe.pexpire(key, REPLY_TTL_MS)
            await pipe.execute()

    async def read_replies(self, block_ms: int) -> list[dict[str, Any]]:
        """Return the replies sent to this node, waiting up to ``block_ms`` for one."""
        key = self._k("reply", self.node_id)
        first = await self.redis.blpop([key], timeout=max(block_ms, 1) / 1000)
        if first is None:
            return []
        rest = await self.redis.lpop(key, 500) or []
        return [json.loads(first[1])] + [json.loads(r) for r in rest]

    async def publish_presence(self, room: str, item: dict[str, Any]) -> None:
        """Add a presence tick to the room's presence stream (capped)."""
        await self.redis.xadd(
            self._k("presence", room),
            {"j": _dumps({**item, "node": self.node_id})},
            maxlen=PRESENCE_MAXLEN,
            approximate=True,
        )

    async def read_presence(self, room: str, cursor: str, block_ms: int) -> tuple[str, list[dict[str, Any]]]:
        """Return (next cursor, ticks) other nodes published after ``cursor``, waiting up to ``block_ms``."""
        res = await self.redis.xread({self._k("presence", room): cursor}, count=100, block=block_ms or None)
        if not res:
            if cursor == "$":  # pin the cursor so entries added between calls are not missed
                info = await self.redis.xrevrange(self._k("presence", room), count=1)
                return (info[0][0] if info else "0-0"), []
            return cursor, []
        entries = res[0][1]
        return entries[-1][0], [json.loads(fields["j"]) for _id, fields in entries]

    async def forget(self, room: str) -> None:
        """Delete every key stored for the room."""
        await self.redis.delete(
            *(self._k(kind, room) for kind in ("lease", "log", "ckpt", "cursor", "inbox", "presence"))
        )
