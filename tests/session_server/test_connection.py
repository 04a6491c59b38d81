import pytest

from session_server.protocol.connection import Connection, Identity
from session_server.protocol.errors import ProtocolError
from session_server.protocol.limits import Limits, TokenBucket

from .helpers import frame, pose


def test_phases() -> None:
    c = Connection(Limits(), 0.0)
    with pytest.raises(ProtocolError) as info:
        c.receive(frame("chat", text="hi"), 0.0)
    assert info.value.code == "not_joined"
    assert c.receive(frame("join", room="r1", token="t"), 0.0).type == "join"  # type: ignore[attr-defined]
    c.start_join()
    with pytest.raises(ProtocolError):
        c.receive(frame("presence", pose=pose(0)), 0.0)
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
