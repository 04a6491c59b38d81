"""Redis backplane: each room's ordered change log is a Redis Stream, one process at a time holds
the room's lease (a key with a PX expiry, renewed by commits and between them) and commits under a
fencing epoch; checkpoints, the inbox cursor and the answers no delta records live beside the log, so
a process can die without losing anything that was acknowledged or refused.

Keys (``P`` = prefix, ``R`` = room): ``P:lease:R`` (``<node>/<epoch>``, PX), ``P:epoch:R`` (the room's
epoch, incremented by every new holder and by a release; kept a day after the last use),
``P:log:R`` (stream, entry id ``<rev>-0``), ``P:ckpt:R`` (JSON checkpoint), ``P:cursor:R`` (inbox
cursor), ``P:answers:R`` (stream, entry id ``<rev>-<n>``), ``P:inbox:R`` (stream of requests),
``P:presence:R`` (capped stream, lossy), ``P:reply:<node>`` (list of replies).

Every write of the leader goes through one Lua script that first checks the epoch, so a process that
stalled past its lease while another took the room over is refused by Redis itself.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .base import Backplane, Lease, LeaseLost, Stored

logger = logging.getLogger(__name__)

LOG_MAXLEN = 50_000
INBOX_MAXLEN = 20_000
PRESENCE_MAXLEN = 200
REPLY_TTL_MS = 120_000
EPOCH_TTL_MS = 86_400_000

# KEYS: lease, epoch; ARGV: node, lease ms, the epoch this node last held, epoch ttl.
# Returns the epoch held (> 0) or minus the milliseconds left on another holder's lease (<= 0).
_ACQUIRE = """
local cur = redis.call('GET', KEYS[1])
local epoch = tonumber(redis.call('GET', KEYS[2]) or '0')
local prefix = ARGV[1] .. '/'
if cur then
  if string.sub(cur, 1, #prefix) == prefix then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    redis.call('PEXPIRE', KEYS[2], ARGV[4])
    return tonumber(string.sub(cur, #prefix + 1))
  end
  return -math.max(redis.call('PTTL', KEYS[1]), 1)
end
if epoch > 0 and tonumber(ARGV[3]) == epoch then
  redis.call('SET', KEYS[1], prefix .. epoch, 'PX', ARGV[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
  return epoch
end
epoch = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('SET', KEYS[1], prefix .. epoch, 'PX', ARGV[2])
return epoch
"""
# KEYS: lease, epoch; ARGV: node
_RELEASE = """
local cur = redis.call('GET', KEYS[1])
if cur and string.sub(cur, 1, #ARGV[1] + 1) == ARGV[1] .. '/' then
  redis.call('DEL', KEYS[1])
  redis.call('INCR', KEYS[2])
  return 1
end
return 0
"""
# KEYS: lease, log, ckpt, cursor, epoch, answers
# ARGV: node, cursor, checkpoint or '', maxlen, n deltas, epoch, lease ms, epoch ttl, checkpoint revision or '',
#       n answers, then (rev, answer) pairs, then (rev, delta) pairs
_COMMIT = """
local held = tonumber(ARGV[6])
if held < 1 or tonumber(redis.call('GET', KEYS[5]) or '0') ~= held then
  return redis.error_reply('LEASE epoch ' .. ARGV[6] .. ' is over')
end
local mine = ARGV[1] .. '/' .. ARGV[6]
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= mine then return redis.error_reply('LEASE held by ' .. cur) end
local n = tonumber(ARGV[5])
local na = tonumber(ARGV[10])
local first = 11 + 2 * na
if n > 0 then
  local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
  if #last > 0 then
    local lastrev = tonumber(string.match(last[1][1], '^(%d+)'))
    if lastrev + 1 ~= tonumber(ARGV[first]) then return redis.error_reply('ORDER revision gap') end
  end
  for i = 0, n - 1 do
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], ARGV[first + 2 * i] .. '-0', 'd', ARGV[first + 1 + 2 * i])
  end
end
for i = 0, na - 1 do
  redis.call('XADD', KEYS[6], ARGV[11 + 2 * i] .. '-*', 'a', ARGV[12 + 2 * i])
end
redis.call('SET', KEYS[1], mine, 'PX', ARGV[7])
redis.call('PEXPIRE', KEYS[5], ARGV[8])
redis.call('SET', KEYS[4], ARGV[2])
if ARGV[3] ~= '' then
  redis.call('SET', KEYS[3], ARGV[3])
  redis.call('XTRIM', KEYS[6], 'MINID', ARGV[9])
end
return n
"""


P = ParamSpec("P")
T = TypeVar("T")


class RedisUnavailable(ConnectionError):
    """Redis did not answer (connection refused, lost or timed out): what callers handle as a backplane outage."""


def _outage(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Raise redis-py's connection and timeout errors as ``RedisUnavailable`` (a built-in ``ConnectionError``)."""

    @functools.wraps(fn)
    async def call(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await fn(*args, **kwargs)
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise RedisUnavailable(str(exc) or type(exc).__name__) from exc

    return call


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class RedisBackplane(Backplane):
    """A backplane on Redis: Streams for the log, inbox, replies and presence, a key per lease, Lua for atomic
    commits."""
    distributed = True
    start_cursor = "0-0"

    def __init__(self, url: str, node_id: str, prefix: str = "phygital:session", lease_ms: int = 600) -> None:
        self.url = url
        self.node_id = node_id
        self.prefix = prefix
        self.lease_ms = lease_ms
        # no read timeout: a read waiting when this process stalls must not fail once it runs again (blocking
        # reads here wait 0.5 s at most; a dead connection is seen by the next write)
        self.redis: Redis = Redis.from_url(url, decode_responses=True, socket_timeout=None, socket_connect_timeout=5)
        self._acquire = self.redis.register_script(_ACQUIRE)
        self._release = self.redis.register_script(_RELEASE)
        self._commit = self.redis.register_script(_COMMIT)
        self._epochs: dict[str, int] = {}
        """room -> the epoch this node acquired last"""

    def _k(self, kind: str, name: str) -> str:
        return f"{self.prefix}:{kind}:{name}"

    @_outage
    async def start(self) -> None:
        """Check that Redis answers (PING)."""
        await self.redis.ping()

    async def close(self) -> None:
        """Close the Redis connection pool."""
        await self.redis.aclose()

    @_outage
    async def acquire(self, room: str) -> Lease:
        """Take or renew the room's lease key for this node (Lua); true (with its epoch) when this node holds it."""
        got = int(
            await self._acquire(
                keys=[self._k("lease", room), self._k("epoch", room)],
                args=[self.node_id, self.lease_ms, self._epochs.get(room, 0), EPOCH_TTL_MS],
            )
        )
        if got <= 0:
            return Lease(0, -got)
        self._epochs[room] = got
        return Lease(got)

    @_outage
    async def release(self, room: str) -> None:
        """Delete the room's lease key if this node holds it and end its epoch (Lua)."""
        await self._release(keys=[self._k("lease", room), self._k("epoch", room)], args=[self.node_id])

    @_outage
    async def commit(
        self,
        room: str,
        deltas: list[dict[str, Any]],
        checkpoint: dict[str, Any] | None,
        cursor: str,
        answers: list[dict[str, Any]] | None = None,
    ) -> None:
        """Append deltas and answers and store the cursor (and checkpoint) in one Lua call under this node's
        epoch; LeaseLost otherwise."""
        answers = answers or []
        args: list[Any] = [
            self.node_id,
            cursor,
            _dumps(checkpoint) if checkpoint is not None else "",
            LOG_MAXLEN,
            len(deltas),
            self._epochs.get(room, 0),
            self.lease_ms,
            EPOCH_TTL_MS,
            int(checkpoint["state"]["revision"]) if checkpoint is not None else "",
            len(answers),
        ]
        for a in answers:
            args.extend((int(a["rev"]), _dumps(a)))
        for d in deltas:
            args.extend((d["rev"], _dumps(d)))
        keys = [
            self._k("lease", room),
            self._k("log", room),
            self._k("ckpt", room),
            self._k("cursor", room),
            self._k("epoch", room),
            self._k("answers", room),
        ]
        try:
            await self._commit(keys=keys, args=args)
        except ResponseError as exc:
            if str(exc).startswith(("LEASE", "ORDER")):
                raise LeaseLost(room) from exc
            raise

    @_outage
    async def read_answers(self, room: str, revision: int) -> list[dict[str, Any]]:
        """Return the answers committed at revision ``revision`` or later, in order."""
        entries = await self.redis.xrange(self._k("answers", room), min=f"{revision}-0")
        return [json.loads(fields["a"]) for _id, fields in entries]

    @_outage
    async def load(self, room: str) -> Stored | None:
        """Return the room's last checkpoint and cursor, or None."""
        blob, cursor = await self.redis.mget(self._k("ckpt", room), self._k("cursor", room))
        if blob is None:
            return None
        return Stored(json.loads(blob), cursor or self.start_cursor)

    @_outage
    async def read_log(self, room: str, after: int, block_ms: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        """Return up to ``limit`` deltas with revision > ``after``, waiting up to ``block_ms`` for one."""
        key = self._k("log", room)
        res = await self.redis.xread({key: f"{after}-0"}, count=limit, block=block_ms or None)
        if not res:
            return []
        return [json.loads(fields["d"]) for _id, fields in res[0][1]]

    @_outage
    async def submit(self, room: str, item: dict[str, Any]) -> None:
        """Add a client request to the room's inbox stream."""
        await self.redis.xadd(self._k("inbox", room), {"j": _dumps(item)}, maxlen=INBOX_MAXLEN, approximate=True)

    @_outage
    async def read_inbox(self, room: str, cursor: str, block_ms: int) -> list[tuple[str, dict[str, Any]]]:
        """Return (stream id, item) pairs of the room's inbox after ``cursor``, waiting up to ``block_ms``."""
        res = await self.redis.xread({self._k("inbox", room): cursor}, count=500, block=block_ms or None)
        if not res:
            return []
        return [(entry_id, json.loads(fields["j"])) for entry_id, fields in res[0][1]]

    @_outage
    async def reply(self, node: str, item: dict[str, Any]) -> None:
        """Add a reply to the node ``node``'s reply stream."""
        key = self._k("reply", node)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.rpush(key, _dumps(item))
            pipe.pexpire(key, REPLY_TTL_MS)
            await pipe.execute()

    @_outage
    async def read_replies(self, block_ms: int) -> list[dict[str, Any]]:
        """Return the replies sent to this node, waiting up to ``block_ms`` for one."""
        key = self._k("reply", self.node_id)
        first = await self.redis.blpop([key], timeout=max(block_ms, 1) / 1000)
        if first is None:
            return []
        rest = await self.redis.lpop(key, 500) or []
        return [json.loads(first[1])] + [json.loads(r) for r in rest]

    @_outage
    async def publish_presence(self, room: str, item: dict[str, Any]) -> None:
        """Add a presence tick to the room's presence stream (capped)."""
        await self.redis.xadd(
            self._k("presence", room),
            {"j": _dumps({**item, "node": self.node_id})},
            maxlen=PRESENCE_MAXLEN,
            approximate=True,
        )

    @_outage
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

    @_outage
    async def forget(self, room: str) -> None:
        """Delete every key stored for the room."""
        kinds = ("lease", "log", "ckpt", "cursor", "answers", "inbox", "presence")
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(*(self._k(kind, room) for kind in kinds))
            pipe.incr(self._k("epoch", room))  # kept (and moved on): a later holder never reuses an epoch
            pipe.pexpire(self._k("epoch", room), EPOCH_TTL_MS)
            await pipe.execute()
