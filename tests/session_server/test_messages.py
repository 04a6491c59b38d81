import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from session_server.protocol import messages as m
from session_server.protocol.errors import ProtocolError
from session_server.protocol.inbound import parse
from session_server.protocol.kinds import shared_space
from session_server.protocol.limits import Limits

from .helpers import frame, pose

LIMITS = Limits()


def code_of(data: str | bytes, limits: Limits = LIMITS) -> str:
    with pytest.raises(ProtocolError) as info:
        parse(data, limits)
    return info.value.code


def test_valid_messages_parse_to_types() -> None:
    msg = parse(frame("object.move", object="sofa", pose=pose(1.5, 0, 2)), LIMITS)
    assert isinstance(msg, shared_space.ObjectMove) and msg.pose.p == (1.5, 0.0, 2.0)
    assert isinstance(parse(frame("presence", pose=pose(1)), LIMITS), m.PresenceUpdate)


@pytest.mark.parametrize(
    ("data", "code", "field"),
    [
        ("{not json", "bad_json", None),
        ('"just a string"', "bad_message", "message"),
        ('{"v": 2, "type": "ping"}', "bad_version", "v"),
        ('{"v": 1, "type": "teleport", "id": "a"}', "unknown_type", "type"),
        (
            '{"v": 1, "type": "object.move", "id": "a", "object": "x", "pose": {"p": ["1", 0, 0]}}',
            "bad_message",
            "pose.p.0",
        ),
        (
            '{"v": 1, "type": "object.move", "id": "a", "object": 5, "pose": {"p": [1, 0, 0]}}',
            "bad_message",
            "object",
        ),
        ('{"v": 1, "type": "object.move", "object": "x", "pose": {"p": [1, 0, 0]}}', "bad_message", "id"),
        ('{"v": 1, "type": "ping", "extra": 1}', "bad_message", "extra"),
        (
            '{"v": 1, "type": "object.place", "id": "a", "object": "x", "sku": "s", "pose": {"p": [1e400]}}',
            "bad_message",
            "pose.p.0",
        ),
    ],
)
def test_bad_frames_name_the_problem(data: str, code: str, field: str | None) -> None:
    with pytest.raises(ProtocolError) as info:
        parse(data, LIMITS)
    assert info.value.code == code
    assert info.value.field == field
    assert str(info.value)


def test_size_and_depth_limits() -> None:
    assert code_of(frame("chat", text="x" * 40_000)) == "too_big"
    deep = '{"v": 1, "type": "ping", "x": ' + "[" * 50 + "]" * 50 + "}"
    assert code_of(deep) == "too_deep"
    very_deep = "[" * 20_000 + "]" * 20_000
    assert code_of(very_deep, Limits(max_message_bytes=100_000)) == "too_deep"


@settings(max_examples=300, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
        lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
        max_leaves=30,
    )
)
def test_random_json_is_either_valid_or_a_protocol_error(value: object) -> None:
    data = json.dumps(value)
    try:
        parse(data, LIMITS)
    except ProtocolError as exc:
        assert exc.code in {"bad_json", "bad_message", "bad_version", "unknown_type", "too_deep", "too_big"}


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_never_escape_as_other_errors(data: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        parse(data, LIMITS)


def test_server_frames_validate_against_models() -> None:
    f = m.server_frame("ack", ref="r1", revision=3)
    assert m.SERVER_TYPES["ack"].model_validate(f).revision == 3
    assert json.loads(m.encode(f)) == f
