"""Per-connection state machine (sans-I/O): size and rate limits, then parse, then phase checks.

Phases: ``connected`` -> ``joining`` -> ``joined`` -> ``closed``; the table ``_ALLOWED`` says which
message types each phase accepts.  While joining (a join or resume was accepted, its welcome has not
been sent) every message but another join is accepted: the adapter holds them until the welcome.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import LimitExceeded, ProtocolError
from .inbound import binary_steps, parse, quick_pose
from .limits import Limits, Strikes, TokenBucket, check_size
from .messages import Msg
from .presence import PoseValue

_ALLOWED: dict[str, frozenset[str] | None] = {
    "connected": frozenset({"join", "resume", "ping"}),
    "joining": None,  # everything except join/resume; the link holds them until the welcome
    "joined": None,  # everything except join/resume
    "closed": frozenset(),
}


@dataclass(slots=True)
class Identity:
    """Who a joined connection is: room, participant, role, session id."""

    room: str
    participant: str
    role: str
    session: str = ""


class Connection:
    """One connection's phase (connected, joining, joined, closed), identity, rate limiter and last activity."""

    def __init__(self, limits: Limits, now: float) -> None:
        self.limits = limits
        self.phase = "connected"
        self.identity: Identity | None = None
        self.last_received = now
        self._bucket = TokenBucket(limits.messages_per_second, limits.message_burst, now)
        self._strikes = Strikes(limits.rate_strikes_before_close, limits.rate_strike_window_s, now)

    def receive(self, data: str | bytes, now: float, stalled: float = 0.0) -> Msg:
        """Return the typed message or raise ProtocolError (check ``close_code`` to know whether to close).

        ``stalled``: the server's total stalled time so far (seconds); see ``limits.TokenBucket``."""
        self.admit(len(data), now, stalled)
        msg = parse(data, self.limits)
        kind = msg.type  # type: ignore[attr-defined]
        allowed = _ALLOWED[self.phase]
        if allowed is None:
            if kind in ("join", "resume"):
                what = "is joining" if self.phase == "joining" else "has already joined"
                raise ProtocolError("already_joined", f"this connection {what} a room", field="type")
        elif kind not in allowed:
            if self.phase == "closed":
                raise ProtocolError("not_joined", "connection is closed")
            raise ProtocolError("not_joined", f"join first; {kind!r} needs a joined connection", field="type")
        if kind in ("join", "resume"):
            self.phase = "joining"
        return msg

    def receive_pose(self, data: bytes, now: float, stalled: float = 0.0) -> PoseValue | None:
        """The pose of a presence message in the usual form (``inbound.quick_pose``) or of a binary pose
        message (``inbound.binary_steps``) while joining or joined, with the same size and rate checks as
        ``receive``; None for anything else (then call ``receive``)."""
        phase = self.phase
        if phase != "joined" and phase != "joining":  # not ``takes_presence``: a call fewer on every message
            return None
        pose = binary_steps(data) if data[:1] == b"\x01" else quick_pose(data)
        if pose is not None:
            self.admit(len(data), now, stalled)
        return pose

    @property
    def takes_presence(self) -> bool:
        """True in the phases where presence is accepted (joining, joined)."""
        return self.phase == "joined" or self.phase == "joining"

    def admit(self, size: int, now: float, stalled: float = 0.0) -> None:
        """The size and rate checks every received message passes first (``receive`` makes them; a caller
        that read a valid presence message by itself makes them here)."""
        self.last_received = now
        if size > self.limits.max_message_bytes:  # ``check_size`` raises; the usual message needs no call
            check_size(size, self.limits)
        if self._bucket.take_many(now, 1, stalled) != 1:  # ``take``, one call fewer
            raise self.refusal(now)

    def admit_many(self, count: int, size: int, now: float, stalled: float = 0.0) -> int:
        """The checks of ``admit`` for ``count`` messages of at most ``size`` bytes read at once, in order: how
        many pass the rate limit (the first ones); each of the others is refused: raise ``refusal(now)`` for it."""
        self.last_received = now
        check_size(size, self.limits)
        return self._bucket.take_many(now, count, stalled)

    def refusal(self, now: float) -> LimitExceeded:
        """The error for a message refused for rate at ``now`` (counted: ``rate_abuse`` once too many are
        outstanding)."""
        if self._strikes.add(now):
            return LimitExceeded("rate_abuse", limit=self.limits.messages_per_second)
        return LimitExceeded(
            "rate_limited",
            "too many messages per second; message dropped",
            limit=self.limits.messages_per_second,
        )

    def start_join(self) -> None:
        """Mark that a join (or resume) is under way."""
        self.phase = "joining"

    def joined(self, identity: Identity) -> None:
        """Record the identity of the joined participant."""
        self.identity = identity
        self.phase = "joined"

    def join_failed(self) -> None:
        """Go back to connected after a refused join."""
        self.phase = "connected"

    def close(self) -> None:
        """Mark the connection closed."""
        self.phase = "closed"

    def idle(self, now: float, timeout: float) -> bool:
        """True when nothing was received for longer than ``timeout`` seconds at ``now``."""
        return now - self.last_received > timeout
