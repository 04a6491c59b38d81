"""RoomHub: one room on one server process.

* follows the room's ordered log from the backplane into a local mirror (``deltas.apply``) and fans
  each delta out to this process's clients, encoded once; alone on the room (one process, in-memory
  backplane) the leader hands its committed deltas to the mirror in its own turn instead (``_hand_over``:
  one task woken per change, not two), so an ack is held right after its delta;
* competes for the room's lease and, while holding it, runs the sans-I/O ``Room`` on the requests
  in the room's inbox (from every process), commits the resulting deltas and routes the replies;
* coalesces presence and sends one frame per client per tick.

Deltas and replies are held and go out with the next presence tick (at most 1/tick_hz later, in
order), as Colyseus sends state patches at its patch rate: each client gets everything of a tick in
one WebSocket frame (a ``batch``: the held deltas, its replies, then the presence of its cell), and
the clients that get the same (no reply of their own this tick, same presence cell) share one
encoded frame.  Welcomes flush what is held first, so a new client never gets a delta its snapshot
already contains.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from ..backplane.base import Backplane, LeaseLost
from ..protocol import inbox
from ..protocol import messages as m
from ..protocol.auth import Claims
from ..protocol.deltas import Delta, DeltaLog, apply
from ..protocol.errors import ProtocolError
from ..protocol.inbox import Attendance, CommandCmd, DropCmd, Item, JoinCmd, LeaveCmd, ResumeCmd
from ..protocol.kinds import kind_for
from ..protocol.presence import Nearby, PoseValue, PresenceTable, PresenceTick, merge, poses_as_numbers
from ..protocol.room import Emit, Forward, Reply, Result, Room, RoomConfig
from .sender import Outgoing, PresenceOut, batch_of, binary_tick, frame_texts, wire_frame

if TYPE_CHECKING:
    from .link import Sender

logger = logging.getLogger(__name__)
CHECKPOINT_EVERY_S = 2.0
CHECKPOINT_EVERY_REVS = 1000
ROOM_TICK_S = 0.25
RESUME_PREFILL = 5000
IDLE_WAIT_S = 0.75
"""How long a single process's leader waits for requests before running the room's timers."""
LOG_MARGIN_S = 10.0
"""Deltas stay in the resume log this much longer than the resume window."""


class NodeEvents(Protocol):
    """What the hub tells its node (implemented by server.node.SessionNode)."""

    def command_done(self, cid: str, result: dict[str, Any] | None, error: dict[str, Any] | None) -> None:
        """A server command submitted from this node was answered."""

    def forward(self, room: str, command: dict[str, Any]) -> None:
        """A room asked for a server command to another room."""

    def committed(self, room: str, delta: dict[str, Any]) -> None:
        """This node ordered a delta of ``room`` (listeners see each delta once, on the ordering node)."""


class Link(Protocol):
    """What the hub needs from a client connection (implemented by server.link.ClientLink)."""

    participant: str
    session: str
    role: str
    sender: Sender
    last_received: float
    """``time.monotonic()`` when the connection last read a message (the tick's alignment reads it)."""

    def welcomed(self, participant: str, role: str, session: str) -> None:
        """The join succeeded: this link is ``participant`` with ``role`` in session ``session``."""

    def fail(self, exc: ProtocolError, ref: str | None = None) -> None:
        """Send an error frame for ``exc`` (for request ``ref``) and close when the error closes connections."""

    def close(self, code: str) -> None:
        """Close the connection with the close code of error ``code``."""


def public_delta(delta: Delta) -> dict[str, Any]:
    """Wire form of a delta for clients: participants' session ids stay on the server."""
    data = delta.data
    if "session" in data:
        data = _public_data(data)
    return {"rev": delta.rev, "op": delta.op, "data": data}


def delta_frame(delta: Delta) -> dict[str, Any]:
    """The ``delta`` frame of a delta (``server_frame("delta", **public_delta(delta))``, built in one step)."""
    data = delta.data
    if "session" in data:
        data = _public_data(data)
    return {"v": m.PROTOCOL_VERSION, "type": "delta", "rev": delta.rev, "op": delta.op, "data": data}


def _public_data(data: dict[str, Any]) -> dict[str, Any]:
    """A delta's data without the participant's session id (which stays on the server)."""
    return {k: v for k, v in data.items() if k != "session"}


class RoomHub:
    """One room on this process: follows the room's log, leads it while holding the lease, ticks presence."""

    def __init__(
        self,
        room_id: str,
        backplane: Backplane,
        config: RoomConfig,
        clock: Any = time.time,
        events: NodeEvents | None = None,
        stalled: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self.room_id = room_id
        self.events = events
        self.bp = backplane
        self.config = config
        self.clock = clock
        self.stalled = stalled
        """This process's total stalled time so far (``StallWatch.total``): the room's quiet timers and locks are
        not charged with it (``Room.tick(now, stalled)``)."""
        self.clients: dict[str, Link] = {}
        self.pending: dict[str, Link] = {}
        self._waiting: list[tuple[dict[str, Any], Link]] = []
        self.kind = kind_for(room_id)
        self.mirror: Any = self.kind.new(room_id, config.limits)
        self.log = DeltaLog(config.limits.delta_log_length, max_age=config.resume_window + LOG_MARGIN_S)
        self.presence = PresenceTable()
        self._remote: PresenceTick | None = None
        self.known_poses: dict[str, PoseValue] = {}
        self.leader: Room | None = None
        self._cursor = backplane.start_cursor
        self._tasks: list[asyncio.Task[None]] = []
        self._running = False
        self._last_checkpoint = 0.0
        self._checkpoint_rev = 0
        self.idle_since: float | None = None
        self.lead = True
        self._held: list[tuple[Link | None, Any]] = []
        self._epoch = 0
        self._renewed = 0.0
        self._last_tick = 0.0
        self._made: dict[int, tuple[dict[str, Any], Emit]] = {}
        """This process's leader's deltas the mirror could not take at once (alone on the room, see ``_hand_over``),
        by revision, each with the wire dict it committed: ``_follow`` reads that very dict back from the log, and
        the mirror then takes the state the leader made instead of applying the delta again."""
        self._behind = asyncio.Event()
        """Alone on the room: set when the log holds deltas the mirror has not taken (``_follow`` reads it then)."""
        self._replies: deque[tuple[Link, str, int]] = deque()
        """Replies waiting, in order, until the mirror holds the revision they answer (an ack never
        overtakes its delta: a client that reads its state on ``ack`` sees its change)."""

    # ---- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Load the room's checkpoint and log and start following (and leading) it."""
        stored = await self.bp.load(self.room_id)
        if stored is not None:
            self.mirror = self.kind.from_snapshot(stored.blob["state"])
            self.log.reset(self.mirror.revision)
            await self._prefill_log()
        self._running = True
        self._tasks = [
            asyncio.create_task(self._follow(), name=f"follow:{self.room_id}"),
            asyncio.create_task(self._lead(), name=f"lead:{self.room_id}"),
        ]
        if self.bp.distributed:
            self._tasks.append(asyncio.create_task(self._follow_presence(), name=f"presence:{self.room_id}"))

    async def _prefill_log(self) -> None:
        """Keep the deltas before the checkpoint too, so this process can serve a resume with exactly
        the missed deltas to a client that was connected elsewhere."""
        keep = min(self.config.limits.delta_log_length, RESUME_PREFILL)
        base = max(0, self.mirror.revision - keep)
        raws = await self.bp.read_log(self.room_id, base, limit=keep)
        if not raws or int(raws[0]["rev"]) != base + 1:
            return  # trimmed: resumes from before the checkpoint get a snapshot
        self.log.reset(base)
        for raw in raws:
            delta = Delta.from_wire(raw)
            if delta.rev > self.mirror.revision:
                break
            self.log.append(delta, time.monotonic())

    async def stop(self, forget: bool = False) -> None:
        """Stop the room's tasks (and ``forget`` its stored state when the last participant left)."""
        self._running = False
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.leader is not None:
            try:
                if forget and self.leader.empty:
                    await self.bp.forget(self.room_id)
                else:
                    await self._commit([], force_checkpoint=True)
                    await self.bp.release(self.room_id)
            except (LeaseLost, OSError, ConnectionError) as exc:
                logger.warning("room %s: final checkpoint failed: %s", self.room_id, exc)
            self.leader = None

    @property
    def local_count(self) -> int:
        """Return how many clients of this process are in (or joining) the room."""
        return len(self.clients) + len(self.pending)

    # ---- requests from local connections --------------------------------------------------------
    def _item(self, participant: str, body: inbox.Body) -> dict[str, Any]:
        item = Item(participant, body, self.bp.node_id)
        return inbox.encode(item) if self.bp.distributed else {"local": item}

    async def _submit(self, participant: str, body: inbox.Body) -> None:
        await self.bp.submit(self.room_id, self._item(participant, body))

    async def join(self, link: Link, claims: Claims, msg: m.Join | m.Resume) -> None:
        """Queue a join (or resume) of ``link`` for the room's leader."""
        old = self.pending.pop(claims.participant, None) or self.clients.pop(claims.participant, None)
        if old is not None and old is not link:
            old.close("replaced")
        self.pending[claims.participant] = link
        new_session = uuid.uuid4().hex
        if isinstance(msg, m.Resume):
            body: inbox.Body = ResumeCmd(claims.role, msg.session, msg.revision, new_session, msg.id)
        else:
            body = JoinCmd(claims.role, new_session, msg.id)
        await self._submit(claims.participant, body)

    async def request(self, link: Link, msg: m.Msg) -> None:
        """Queue a client's message for the room's leader."""
        await self._submit(link.participant, msg)

    def request_now(self, link: Link, msg: m.Msg) -> bool:
        """``request`` without waiting when the backplane can take it at once (in memory); False: await
        ``request`` instead (nothing was queued)."""
        return self.bp.submit_now(self.room_id, self._item(link.participant, msg))

    async def gone(self, link: Link, leave: bool) -> None:
        """The connection ended: drop (resumable) or leave."""
        pid = link.participant
        if self.clients.get(pid) is link:
            del self.clients[pid]
        elif self.pending.get(pid) is link:
            del self.pending[pid]
        else:
            return
        self.presence.remove(pid)
        await self._submit(pid, LeaveCmd(link.session) if leave else DropCmd(link.session))

    async def submit_command(self, cid: str, command: dict[str, Any]) -> None:
        """Queue a server command for the room's leader; the result comes back to ``events.command_done``."""
        await self._submit("", CommandCmd(cid, command))

    async def attendance(self) -> None:
        """Tell the leader which participants are still connected here."""
        if self.clients:
            await self._submit("", Attendance(tuple(self.clients)))

    # ---- presence ------------------------------------------------------------------------------
    def update_presence(self, pid: str, pose: PoseValue) -> None:
        """Record a local participant's pose for the next tick."""
        self.presence.update(pid, pose)
        self.known_poses[pid] = pose

    def flush_held(self) -> None:
        """Send the held deltas (to every client) and replies (to one), in the order they came."""
        if not self._held:
            return
        held, self._held = self._held, []
        for target, frame in held:
            if target is None:
                for link in self.clients.values():
                    link.sender.send(frame)
            else:
                target.sender.send(frame)

    async def tick_presence(self, t: float) -> int:
        """Send each recipient this tick's frames (held deltas, its replies, nearby poses local and from
        other nodes) as one frame; returns how many recipients got presence."""
        held, self._held = self._held, []
        local = self.presence.tick()
        if local is not None:
            for pid in local.gone:
                self.known_poses.pop(pid, None)
            if self.bp.distributed:
                item = {"poses": poses_as_numbers(local.poses), "gone": list(local.gone)}
                await self.bp.publish_presence(self.room_id, item)
        tick = local
        if self._remote is not None:
            tick = self._remote if tick is None else merge(self._remote, tick)
            self._remote = None
        if tick is None and not held:
            return 0
        shared: list[Any] = [frame for target, frame in held if target is None]
        targets = {id(target): target for target, _ in held if target is not None}
        t = round(t, 4)
        # radius 0, or no presence this tick: one cell (None) for everyone
        nearby = None if tick is None else Nearby(tick, self.known_poses, self.config.presence_radius)
        by_cell = nearby if nearby is not None and self.config.presence_radius > 0 else None
        # per cell: its presence, and the whole frame of the clients with no reply of their own, as JSON and as a
        # binary tick frame (each built on first use, shared by the cell's clients that get it)
        frames: dict[tuple[int, int] | None, list[Any]] = {}
        sent = 0
        slot: list[Any] | None = None  # radius 0 or no presence: the one cell's, for every client
        for pid, link in self.clients.items():
            if slot is None or by_cell is not None:
                cell = None if by_cell is None else by_cell.cell_of(pid)
                slot = frames.get(cell)
                if slot is None:
                    part = None if nearby is None else nearby.tick_for(cell)
                    slot = frames[cell] = [None if part is None else (part, PresenceOut(part, t)), None, None]
            entry = slot[0]
            sender = link.sender
            if entry is not None:
                sent += 1
            if targets and id(link) in targets:  # replies of its own: its frame is built for it alone
                del targets[id(link)]
                own = [frame for target, frame in held if target is None or target is link]
                sender.send_tick(own, entry, t)
            elif entry is not None and sender.binary and (slot[2] is not None or entry[1].section is not None):
                whole = slot[2]
                if whole is None:
                    whole = slot[2] = wire_frame(
                        binary_tick([text for f in shared for text in frame_texts(f)], entry[1])
                    )
                sender.send_tick(shared, entry, t, whole)
            elif entry is not None or shared:
                if slot[1] is None:
                    slot[1] = batch_of([*shared, entry[1]] if entry is not None else shared)
                sender.send_tick(shared, entry, t, slot[1])
        for link in targets.values():  # replies to a link not (or no longer) among the clients
            for target, frame in held:
                if target is link:
                    link.sender.send(frame)
        return sent

    async def _follow_presence(self) -> None:
        cursor = "$"
        while self._running:
            try:
                cursor, items = await self.bp.read_presence(self.room_id, cursor, 500)
            except (OSError, ConnectionError) as exc:
                logger.warning("room %s: presence read failed: %s", self.room_id, exc)
                await asyncio.sleep(0.5)
                continue
            for item in items:
                if item.get("node") == self.bp.node_id:
                    continue
                tick = PresenceTick(
                    {k: v for k, v in item["poses"].items() if k not in self.clients},
                    tuple(item.get("gone", ())),
                )
                self.known_poses.update(tick.poses)
                self._remote = tick if self._remote is None else merge(self._remote, tick)

    # ---- the ordered log -------------------------------------------------------------------------
    async def _follow(self) -> None:
        alone = not self.bp.distributed
        while self._running:
            try:
                raws = await self.bp.read_log(self.room_id, self.mirror.revision, block_ms=0 if alone else 500)
            except (OSError, ConnectionError) as exc:
                logger.warning("room %s: log read failed: %s", self.room_id, exc)
                await asyncio.sleep(0.5)
                continue
            try:
                for raw in raws:
                    made = self._made.pop(raw["rev"], None) if self._made else None
                    if made is not None and made[0] is raw:  # this process's leader made it (see ``_made``)
                        self._apply(made[1].delta, made[1].state)
                    else:
                        self._apply(Delta.from_wire(raw))
            except ProtocolError:
                try:
                    await self._resync()
                except (OSError, ConnectionError) as exc:
                    logger.warning("room %s: resynchronising failed: %s", self.room_id, exc)
                    await asyncio.sleep(0.5)
                    continue
            if self._waiting:
                self._complete_waiting()
            if self._replies:
                self._release_replies()
            if alone and not raws:
                # caught up: alone on the room only this hub's leader writes the log, and it hands its deltas to
                # the mirror itself (``_hand_over``), so the log is read again only when it could not
                self._behind.clear()
                await self._behind.wait()

    def _hand_over(self, raws: list[dict[str, Any]], emits: list[Emit]) -> None:
        """Alone on the room: the mirror takes the deltas its leader just committed at once, in the leader's turn
        (the state the leader made with each), as ``_follow`` would have after reading them from the log, without
        waking it; the mirror behind the log, they are left to ``_follow`` (``_made``)."""
        for raw, emit in zip(raws, emits, strict=True):
            if not self._behind.is_set() and emit.delta.rev == self.mirror.revision + 1:
                self._apply(emit.delta, emit.state)
            else:
                self._made[emit.delta.rev] = (raw, emit)
                self._behind.set()
        if self._waiting:
            self._complete_waiting()
        if self._replies:
            self._release_replies()

    def _apply(self, delta: Delta, made: Any = None) -> None:
        """The mirror takes the next delta; ``made``: the state this process's leader made with it, if it did."""
        if delta.rev <= self.mirror.revision:
            return
        try:
            if made is not None and made.revision == delta.rev == self.mirror.revision + 1:
                # alone on the room, this process's leader made this very delta from the mirror's state: its
                # state is the mirror's next one (states are immutable, so it is shared, not applied again)
                self.mirror = made
            else:
                self.mirror = apply(self.mirror, delta)
        except ProtocolError:
            logger.exception("room %s: mirror out of step at revision %d", self.room_id, delta.rev)
            raise
        self.log.append(delta, time.monotonic())
        self._held.append((None, Outgoing(m.encode(delta_frame(delta)))))
        if delta.op == "participant.status" and "session" in delta.data:
            link = self.clients.get(delta.data["participant"])
            if link is not None and link.session != delta.data["session"]:
                del self.clients[link.participant]
                link.close("replaced")

    async def _resync(self) -> None:
        """The log skipped ahead of the mirror (trimmed while we lagged): rebuild from the backplane and
        send every local client a fresh snapshot (a ``welcome`` with ``resumed: false``)."""
        stored = await self.bp.load(self.room_id)
        state: Any = self.kind.new(self.room_id, self.config.limits)
        if stored is not None:
            state = self.kind.from_snapshot(stored.blob["state"])
        raws = await self.bp.read_log(self.room_id, state.revision, limit=10**9)
        for raw in raws:
            state = apply(state, Delta.from_wire(raw))
        self.flush_held()
        self.mirror = state
        self._made.clear()
        self.log.reset(state.revision)
        for link in self.clients.values():
            link.sender.send(
                m.encode(
                    m.server_frame(
                        "welcome",
                        ref=None,
                        room=self.room_id,
                        participant=link.participant,
                        role=link.role,
                        session=link.session,
                        resumed=False,
                        revision=state.revision,
                        state=state.public_snapshot(),
                        presence=poses_as_numbers(self.known_poses),
                    )
                )
            )
        logger.warning("room %s: resynchronised at revision %d", self.room_id, state.revision)

    # ---- replies ---------------------------------------------------------------------------------
    def on_reply(self, pid: str, frame: dict[str, Any]) -> None:
        """Handle the leader's reply for a local participant (welcome, ack or error frame)."""
        if frame["type"] == "welcome":
            link = self.pending.get(pid)
            if link is None:
                return
            if self.mirror.revision >= frame["revision"]:
                self._welcome(frame, link)
            else:
                self._waiting.append((frame, link))
            return
        link = self.clients.get(pid) or self.pending.get(pid)
        if link is None:
            return
        if frame["type"] == "error":
            code = frame["code"]
            if link is self.pending.get(pid):
                del self.pending[pid]
                link.fail(ProtocolError(code, frame["message"], field=frame.get("field")), frame.get("ref"))
                return
        if frame["type"] == "ack":  # the usual reply: a template filled in (``ack_text``)
            self._replies.append((link, m.ack_text(frame), int(frame["revision"])))
        else:
            self._replies.append((link, m.encode(frame), 0))
        self._release_replies()

    def _release_replies(self) -> None:
        """Hold the replies whose revision the mirror has reached, in order, after the deltas held so far."""
        replies, revision = self._replies, self.mirror.revision
        while replies and replies[0][2] <= revision:
            link, text, _ = replies.popleft()
            self._held.append((link, text))

    def _complete_waiting(self) -> None:
        ready = [(f, lk) for f, lk in self._waiting if self.mirror.revision >= f["revision"]]
        self._waiting = [(f, lk) for f, lk in self._waiting if self.mirror.revision < f["revision"]]
        for frame, link in ready:
            if self.pending.get(frame["participant"]) is link:
                self._welcome(frame, link)

    def _welcome(self, frame: dict[str, Any], link: Link) -> None:
        self.flush_held()
        pid = frame["participant"]
        del self.pending[pid]
        body = dict(frame)
        body["revision"] = self.mirror.revision
        body["presence"] = poses_as_numbers(self.known_poses)
        missed = self.log.since(body.pop("from_revision")) if frame["resumed"] and "from_revision" in frame else None
        if missed is not None:
            body["deltas"] = [public_delta(d) for d in missed]
        else:
            body["resumed"] = False
            body["state"] = self.mirror.public_snapshot()
        link.welcomed(pid, frame["role"], frame["session"])
        link.sender.send(m.encode(body))
        self.clients[pid] = link

    # ---- leadership ------------------------------------------------------------------------------
    async def _lead(self) -> None:
        lease_s = self.bp.lease_ms / 1000
        # alone on an in-memory backplane nothing can take the room: no renewal is needed, only the room's timers
        renew_every = lease_s / 4 if self.bp.distributed else IDLE_WAIT_S
        block_ms = max(1, int(renew_every * 1000))
        while self._running:
            mono = time.monotonic()
            try:
                if self.leader is None:
                    if not self.lead:
                        await asyncio.sleep(renew_every)
                        continue
                    lease = await self.bp.acquire(self.room_id)
                    if not lease:
                        # another process leads: look again as its lease would end (renewed, it moves on)
                        await asyncio.sleep(min(lease_s, max(0.005, lease.wait_ms / 1000 + 0.005)))
                        continue
                    await self._take_over(lease.epoch)
                    self._renewed = mono
                elif mono - self._renewed > renew_every:
                    lease = await self.bp.acquire(self.room_id)
                    if not lease:
                        logger.warning("room %s: lease lost to another process", self.room_id)
                        self.leader = None
                        continue
                    if lease.epoch != self._epoch:  # another process led in between: our state is stale
                        logger.warning("room %s: another process led meanwhile; reloading", self.room_id)
                        await self._take_over(lease.epoch)
                    self._renewed = mono
                items = await self.bp.read_inbox(self.room_id, self._cursor, block_ms=block_ms)
                tick = time.monotonic() - self._last_tick > ROOM_TICK_S
                await self._process(items, tick=tick)
                if tick:
                    self._last_tick = time.monotonic()
            except LeaseLost:
                logger.warning("room %s: lease lost while committing", self.room_id)
                self.leader = None
            except (OSError, ConnectionError) as exc:
                logger.warning("room %s: backplane error: %s", self.room_id, exc)
                self.leader = None
                await asyncio.sleep(0.2)
            except Exception:  # a bug or an unexpected answer must not leave the room without a leader for good
                logger.exception("room %s: leading failed; starting over from the stored state", self.room_id)
                self.leader = None
                await asyncio.sleep(0.2)

    async def _take_over(self, epoch: int) -> None:
        now, stalled = self.clock(), self.stalled()  # stalls before now (this process's or another's) are not credited
        self.leader = None
        stored = await self.bp.load(self.room_id)
        if stored is None:
            room = Room(self.room_id, self.config, now, self.kind, stalled)
            cursor = self.bp.start_cursor
        else:
            room = Room.load(stored.blob, self.config, now, self.kind, stalled)
            covered = room.state.revision
            raws = await self.bp.read_log(self.room_id, covered, limit=10**9)
            answers = await self.bp.read_answers(self.room_id, covered)
            room.replay([Delta.from_wire(r) for r in raws], answers)
            cursor = stored.cursor
        self.leader, self._cursor, self._epoch = room, cursor, epoch
        self._checkpoint_rev = room.state.revision
        logger.info("room %s: leading at revision %d (epoch %d)", self.room_id, room.state.revision, epoch)

    async def _process(self, items: list[tuple[str, dict[str, Any]]], tick: bool) -> None:
        room = self.leader
        assert room is not None
        now, stalled = self.clock(), self.stalled()
        outs: list[Any] = []
        nodes: dict[str, str] = {}
        commands: dict[str, str] = {}
        for cursor, raw in items:
            self._cursor = cursor
            try:
                item = inbox.decode(raw)
            except (KeyError, ValueError) as exc:  # a malformed inbox item: never trust the wire twice
                logger.warning("room %s: dropped malformed inbox item: %s", self.room_id, exc)
                continue
            if item.participant:
                nodes[item.participant] = item.node or self.bp.node_id
            if isinstance(item.body, CommandCmd):
                commands[item.body.id] = item.node or self.bp.node_id
            try:
                outs.extend(room.handle_item(item, now, stalled))
            except Exception:  # a bug must not stop the room; the state is unchanged by a failed handle
                logger.exception("room %s: unexpected error handling an inbox item", self.room_id)
        if tick:
            outs.extend(room.tick(now, stalled))
        emits: list[Emit] = []
        deltas: list[dict[str, Any]] = []
        for o in outs:  # a loop, not two comprehensions (each a function call)
            if isinstance(o, Emit):
                emits.append(o)
                deltas.append(o.delta.to_wire())
        answers = room.take_answers()
        if items or deltas:
            try:
                await self._commit(deltas, answers=answers)
            except Exception:
                self.leader = None  # this turn is not in the log: the Room ran ahead of it, so it is reloaded
                raise
        if deltas and not self.bp.distributed:  # alone on the room: the mirror takes them now, before the replies
            self._hand_over(deltas, emits)
        for o in outs:
            if isinstance(o, Reply):
                node = nodes.get(o.participant)
                if node is None:
                    continue
                if node == self.bp.node_id:
                    self.on_reply(o.participant, o.frame)
                else:
                    await self.bp.reply(node, {"room": self.room_id, "participant": o.participant, "frame": o.frame})
            elif self.events is None:
                continue
            elif isinstance(o, Emit):
                self.events.committed(self.room_id, public_delta(o.delta))
            elif isinstance(o, Forward):
                self.events.forward(o.room, o.command)
            elif isinstance(o, Result):
                node = commands.get(o.id, self.bp.node_id)
                if node == self.bp.node_id:
                    self.events.command_done(o.id, o.result, o.error)
                else:
                    payload = {"room": self.room_id, "command": o.id, "result": o.result, "error": o.error}
                    await self.bp.reply(node, payload)

    async def _commit(
        self, deltas: list[dict[str, Any]], force_checkpoint: bool = False, answers: list[dict[str, Any]] | None = None
    ) -> None:
        room = self.leader
        assert room is not None
        mono = time.monotonic()
        checkpoint = None
        if (
            force_checkpoint
            or mono - self._last_checkpoint > CHECKPOINT_EVERY_S
            or room.state.revision - self._checkpoint_rev > CHECKPOINT_EVERY_REVS
        ):
            checkpoint = room.dump()
            self._last_checkpoint = mono
            self._checkpoint_rev = room.state.revision
        await self.bp.commit(self.room_id, deltas, checkpoint, self._cursor, answers)
        self._renewed = mono  # a commit renews the lease
