import contextlib
import dataclasses
import json
import random
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from session_server.protocol import messages as m
from session_server.protocol.errors import ProtocolError
from session_server.protocol.inbound import parse, quick_pose, short_pose, short_presence
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
        ('{"v": 1.0, "type": "ping"}', "bad_version", "v"),
        ('{"v": true, "type": "ping"}', "bad_version", "v"),
        ('{"v": "1", "type": "ping"}', "bad_version", "v"),
        ('{"type": "ping"}', "bad_version", "v"),
        ('{"v": 1, "type": "ping", "type": "ping"}', "bad_message", "type"),
        ('{"v": 1, "type": "object.delete", "id": "a", "object": "x", "object": "y"}', "bad_message", "object"),
        ('{"v": 1, "type": "presence", "pose": {"p": [0, 0, 0], "p": [1, 0, 0]}}', "bad_message", "p"),
        ('{"v": 1, "type": "ping", "later": {"a": 1, "a": 2}}', "bad_message", "a"),
        ('{"v": 1, "type": "ping", "later": ' + "[" * 20 + "]" * 20 + "}", "too_deep", None),
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


def test_unknown_fields_are_ignored_anywhere() -> None:
    """Additive evolution within version 1: a field this server does not know is ignored, not refused."""
    msg = parse(
        '{"v": 1, "type": "object.move", "id": "a", "object": "x", "priority": "high",'
        ' "pose": {"p": [1, 2, 3], "frame": "floor", "q": [0, 0, 0, 1]}, "meta": {"from": "v1.3 client"}}',
        LIMITS,
    )
    assert isinstance(msg, shared_space.ObjectMove) and msg.object == "x" and msg.pose.p == (1.0, 2.0, 3.0)
    assert not hasattr(msg, "priority") and msg.model_dump().keys() == {"v", "id", "type", "object", "pose", "scale"}
    assert parse('{"v": 1, "type": "ping", "sent_at": 12.5}', LIMITS).type == "ping"  # type: ignore[attr-defined]


def test_duplicate_key_error_names_the_key() -> None:
    with pytest.raises(ProtocolError) as info:
        parse('{"v": 1, "type": "chat", "id": "a", "text": "hi", "text": "bye"}', LIMITS)
    assert info.value.code == "bad_message" and info.value.field == "text"
    assert "'text' appears twice" in info.value.message


def _parsed_pose(data: bytes) -> list[float] | None:
    """The pose ``parse`` reads from a presence frame, or None when it refuses the frame."""
    try:
        msg = parse(data, LIMITS)
    except ProtocolError:
        return None
    return m.pose_list(msg.pose) if isinstance(msg, m.PresenceUpdate) else None


QUICK = [
    b'{"v":1,"type":"presence","pose":{"p":[1.5,0,-2.25],"q":[0,0,0,1]}}',
    b'{"v":1,"type":"presence","pose":{"p":[1e2,-0.0,3E-3]}}',
    b' {\n"v" : 1,\t"type":"presence" ,"pose":{ "p":[ 1 , 2 , 3 ] , "q":[0.5,0.5,0.5,0.5] } }\r\n',
    b'{"v":1,"type":"presence","pose":{"p":[1000000,-1000000,0.123456789],"q":[0,0,0,1]}}',
]
NOT_QUICK = [  # each is either refused by parse or only valid in a form the quick path leaves to it
    b'{"v":1,"type":"presence","pose":{"p":[1000001,0,0]}}',  # out of range
    b'{"v":1,"type":"presence","pose":{"p":[1e400,0,0]}}',  # not a finite float
    b'{"v":1.0,"type":"presence","pose":{"p":[0,0,0]}}',
    b'{"v":true,"type":"presence","pose":{"p":[0,0,0]}}',
    b'{"v":1,"type":"presence","pose":{"p":[0,0,0],"p":[1,1,1]}}',  # duplicate key
    b'{"v":1,"type":"presence","pose":{"p":[01,0,0]}}',
    b'{"v":1,"type":"presence","pose":{"p":["1",0,0]}}',
    b'{"v":1,"type":"presence","pose":{"p":[true,0,0]}}',
    b'{"v":1,"type":"presence","pose":{"p":[0,0]}}',
    b'{"v":1,"type":"presence","pose":{"p":[0,0,0],"q":[0,0,1]}}',
    b'{"v":1,"type":"presence","pose":{"p":[0,0,0]}}\x0c',  # \f is not JSON whitespace
    b'{"v":1,"type":"presence","pose":{"p":[NaN,0,0]}}',
    b'{"v":1,"type":"presence","pose":{"p":[0,0,0]},"id":"a"}',  # valid, with a field the quick form lacks
    b'{"type":"presence","v":1,"pose":{"p":[0,0,0]}}',  # valid, keys in another order
    b'{"v":1,"type":"presence","pose":{"p":[0,0,0]}}{}',
]


@pytest.mark.parametrize("data", QUICK)
def test_quick_presence_reads_what_parse_reads(data: bytes) -> None:
    quick = quick_pose(data)
    assert quick is not None and quick == _parsed_pose(data)


@pytest.mark.parametrize("data", NOT_QUICK)
def test_quick_presence_leaves_everything_else_to_parse(data: bytes) -> None:
    assert quick_pose(data) is None


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False) | st.integers(-(10**6), 10**6)
space = st.sampled_from(["", " ", "\n", "\t ", "\r\n"])


@settings(max_examples=200, deadline=None)
@given(st.lists(finite, min_size=7, max_size=7), st.lists(space, min_size=4, max_size=4), st.booleans())
def test_quick_presence_matches_parse_on_random_poses(values: list[float], ws: list[str], with_q: bool) -> None:
    p, q = json.dumps(values[:3]), json.dumps(values[3:])
    text = f'{ws[0]}{{"v":{ws[1]}1,"type":"presence","pose":{{"p":{p}' + (f',{ws[2]}"q":{q}' if with_q else "")
    data = (text + f"}}{ws[3]}}}").encode()
    assert quick_pose(data) is not None
    assert quick_pose(data) == _parsed_pose(data)


short = st.decimals(min_value=-999999, max_value=999999, places=4, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(st.lists(short, min_size=7, max_size=7), st.booleans())
def test_short_presence_is_read_as_quick_pose_reads_it(values: list[Any], with_q: bool) -> None:
    p, q = ",".join(str(v) for v in values[:3]), ",".join(str(v) for v in values[3:])
    data = f'{{"v":1,"type":"presence","pose":{{"p":[{p}]' + (f',"q":[{q}]' if with_q else "") + "}}"
    match = short_presence(data.encode())
    if match is None:  # str(Decimal) may use an exponent ("0E-4"), or a form JSON does not allow ("-0.0000" is fine)
        assert "E" in data or quick_pose(data.encode()) is None
        return
    assert short_pose(match) == quick_pose(data.encode()) == _parsed_pose(data.encode())


@pytest.mark.parametrize(
    "data",
    [
        b'{"v":1,"type":"presence","pose":{"p":[1000000,0,0]}}',  # 1e6 and over: quick_pose checks the range
        b'{"v":1,"type":"presence","pose":{"p":[1.23456,0,0]}}',  # 5 decimals in the position: rounded
        b'{"v":1,"type":"presence","pose":{"p":[0,0,0],"q":[0.123456,0,0,1]}}',
        b'{"v":1,"type":"presence","pose":{"p":[1e2,0,0]}}',
        *NOT_QUICK,
    ],
)
def test_short_presence_leaves_the_rest_to_quick_pose_and_parse(data: bytes) -> None:
    assert short_presence(data) is None


def _as_read(text: str) -> str:
    """The parsed JSON of a text, spelled out: key order, int against float and the sign of zero all show."""
    return repr(json.loads(text))


def test_encode_writes_the_standard_encoders_json() -> None:
    """``messages.encode`` (``orjson``) writes the JSON that ``json.dumps`` writes with the frames' options, read
    back value for value (UTF-8 characters instead of escapes and ``0.00001`` for ``1e-05`` are the same JSON),
    for the frames the server sends, floats at the edges of their shortest text, unicode and nesting; what
    ``orjson`` refuses (ints past 64 bits, keys that are not strings, lone surrogates) is the standard text."""
    rng = random.Random(13)
    edges = [0.0, -0.0, 1.0, -1.0, 1e-05, 2.5e-05, -1.5e-07, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308,
             0.1 + 0.2, 1e15, 1e16, 1e17, 123456789012345680.0, 9007199254740993.0, 1e22, 1e-4, 0.001, 123456.7891,
             1733380000.1234, 2**53 + 1, 2**63 - 1, -(2**63), 2**64 - 1]  # fmt: skip
    texts = ["", "plain", 'q"b\\s/', "\n\t\r\b\f\x00\x1f\x7f", "é€ü", "\u2028\u2029", "\U0001f600 grin", "日本語"]

    def value(depth: int) -> Any:
        pick = rng.randrange(9 if depth < 4 else 6)
        if pick == 0:
            return rng.choice([None, True, False])
        if pick == 1:
            return rng.choice([*edges, rng.randint(-(2**62), 2**62), rng.uniform(-1e6, 1e6), round(rng.random(), 5)])
        if pick == 2:
            return rng.choice([round(rng.uniform(-1e3, 1e3) * 1e4) / 1e4, rng.random() * 10 ** rng.randint(-30, 30)])
        if pick in (3, 4, 5):
            return rng.choice(texts) + "".join(rng.choice(texts) for _ in range(rng.randrange(3)))
        if pick in (6, 7):
            return [value(depth + 1) for _ in range(rng.randrange(5))]
        return {rng.choice(texts) + str(i): value(depth + 1) for i in range(rng.randrange(5))}

    pose7 = m.rounded_pose((1.23456, -0.00004, 100000.0), (0.0, 0.70711, -1e-05, 0.70711))
    frames: list[dict[str, Any]] = [
        m.server_frame("delta", rev=7, op="object.move", data={"object": "o", "pose": pose7, "scale": None}),
        m.server_frame("ack", ref="m1", revision=7, duplicate=False),
        m.server_frame("presence", t=1733380000.1234, poses={"c1": pose7, "é": [0.0] * 7}, gone=["c2"]),
        m.server_frame("delta", rev=8, op="chat", data={"text": "héllo \u2028 \U0001f600", "at": 1e-05}),
        *({"k": value(0)} for _ in range(400)),
    ]
    for sent in frames:
        standard = json.dumps(sent, separators=(",", ":"), allow_nan=False)
        assert _as_read(m.encode(sent)) == _as_read(standard)
    for odd in ({"big": 2**64}, {"neg": -(2**63) - 1}, {1: "int key"}, {"s": "\ud800"}, {"deep": [[[[2**70]]]]}):
        assert m.encode(odd) == json.dumps(odd, separators=(",", ":"))  # type: ignore[arg-type]


def test_encode_refuses_nan_and_infinity_as_the_standard_encoder_does() -> None:
    """A NaN or an infinity anywhere in a frame is a ValueError (``orjson`` alone would write ``null``), beside a
    ``null`` or not, in a list, a tuple or a dict; an object JSON has no form for is a TypeError."""
    for bad in (float("nan"), float("inf"), -float("inf")):
        for sent in ({"pose": [bad]}, {"t": bad}, {"a": None, "d": {"p": (1.0, bad)}}, {"x": [[{"y": [bad, None]}]]}):
            with pytest.raises(ValueError, match="not JSON compliant"):
                m.encode(sent)
            with pytest.raises(ValueError, match="not JSON compliant"):
                json.dumps(sent, allow_nan=False)
    for obj in (object(), {1, 2}, b"bytes", dataclasses.make_dataclass("D", ["a"])(1), datetime.now(UTC)):
        with pytest.raises(TypeError):
            m.encode({"t": obj})
