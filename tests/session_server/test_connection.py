import pytest

from session_server.protocol.connection import Connection, Identity
from session_server.protocol.errors import ProtocolError
from session_server.protocol.limits import Limits, TokenBucket

from .helpers import frame, pose


def test_phases() -> None:
    c = Connection(Limits(), 0.0)
    with pytest.raises(ProtocolError) as info:
        c.receive(frame("chat", text="hi"), 0.0)
    assert info.value.code == "not_joined" and info.value.close_code is None  # answered, not closed
    assert c.receive(frame("join", room="r1", token="t"), 0.0).type == "join"  # type: ignore[attr-defined]
    assert c.phase == "joining"
    # between the join and its welcome: accepted (the link handles them after the welcome), but no second join
    assert c.receive(frame("presence", pose=pose(0)), 0.0).type == "presence"  # type: ignore[attr-defined]
    assert c.receive(frame("chat", text="hi"), 0.0).type == "chat"  # type: ignore[attr-defined]
    with pytest.raises(ProtocolError) as info:
        c.receive(frame("resume", room="r1", session="s", revision=0), 0.0)
    assert info.value.code == "already_joined" and info.value.close_code is None
    c.join_failed()
    with pytest.raises(ProtocolError) as info:
        c.receive(frame("chat", text="hi"), 0.0)
    assert info.value.code == "not_joined"
    c.receive(frame("join", room="r1", token="t"), 0.0)
    c.joined(Identity("r1", "ana", "phone"))
    c.receive(frame("presence", pose=pose(0)), 0.0)
    with pytest.raises(ProtocolError) as info:
        c.receive(frame("join", room="r1"), 0.0)
    assert info.value.code == "already_joined"


def test_rate_limit_then_close() -> None:
    c = Connection(Limits(messages_per_second=10, message_burst=5, rate_strikes_before_close=3), 0.0)
    c.joined(Identity("r1", "ana", "phone"))
    codes = []
    for _ in range(10):
        try:
            c.receive(frame("ping"), 0.0)
            codes.append("ok")
        except ProtocolError as exc:
            codes.append(exc.code)
            if exc.close_code is not None:
                break
    assert codes == ["ok"] * 5 + ["rate_limited"] * 3 + ["rate_abuse"]
    # tokens refill with time
    b = TokenBucket(10, 1, 0.0)
    assert b.take(0.0) and not b.take(0.05) and b.take(0.2)


def test_idle() -> None:
    c = Connection(Limits(), 0.0)
    assert not c.idle(5.0, 10.0) and c.idle(11.0, 10.0)


def _joined(limits: Limits) -> Connection:
    c = Connection(limits, 0.0)
    c.joined(Identity("r1", "ana", "phone"))
    return c


def _send(c: Connection, now: float, stalled: float = 0.0) -> str:
    try:
        c.receive(frame("ping"), now, stalled)
        return "ok"
    except ProtocolError as exc:
        return exc.code


def test_refusals_age_out() -> None:
    # 10/s, burst 5, close past 20 refusals outstanding, draining over 5 s (4 a second)
    c = _joined(Limits(messages_per_second=10, message_burst=5, rate_strikes_before_close=20, rate_strike_window_s=5))
    t = 0.0
    codes: list[str] = []
    for _second in range(60):  # a minute of bursts: 8 messages in each second's first instant, under 10/s
        codes += [_send(c, t) for _ in range(8)]
        t += 1.0
    assert "rate_abuse" not in codes and codes.count("rate_limited") == 180  # far more than 20, but spread out
    flood = [_send(c, t) for _ in range(40)]  # the same refusals at once close
    assert flood[-1] == "rate_abuse" and flood.count("rate_limited") >= 20


def test_a_server_stall_is_not_charged_to_the_client() -> None:
    limits = Limits(messages_per_second=60, message_burst=120)
    for stall in (5.0, 13.0):
        c = _joined(limits)
        t = 0.0
        for _ in range(30):  # half the rate, read as it comes
            assert _send(c, t) == "ok"
            t += 1 / 30
        # the server stops reading for `stall` s; the client keeps sending at half the rate; all read at once
        backlog = int(stall * 30)
        t += stall
        assert [_send(c, t + i * 1e-5, stalled=stall) for i in range(backlog)] == ["ok"] * backlog
        for _ in range(60):  # and on at half the rate
            t += 1 / 30
            assert _send(c, t, stalled=stall) == "ok"
    # a flood during the stall still gets only what the rate allowed (credit = rate x stall, on top of the burst)
    c = _joined(limits)
    codes = [_send(c, 5.0 + i * 1e-5, stalled=5.0) for i in range(1000)]
    assert codes.count("ok") == 120 + 300 and codes[420] == "rate_limited" and codes[-1] == "rate_abuse"


def test_a_stall_credit_lapses() -> None:
    b = TokenBucket(10, 5, 0.0)
    assert b.take(2.0, stalled=2.0)  # 20 tokens of credit on top of the burst
    assert sum(b.take(5.0) for _ in range(30)) == 5  # three seconds later only the burst is left
