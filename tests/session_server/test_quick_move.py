"""A move in the usual form is read by the models alone (``inbound.plain_move``: no duplicate-key pass), and that
reading is the full one's (``inbound.parse_full``): the same model, or the same refusal word for word.  A table of
good and bad moves, random numbers and random edits of the common message go through both."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from session_server.protocol.errors import ProtocolError
from session_server.protocol.inbound import parse, parse_full, plain_move
from session_server.protocol.limits import Limits

LIMITS = Limits()
BASE = '{"v":1,"type":"object.move","id":"m17","object":"c3","pose":{"p":[1718.25,0,0]}}'
"""The move the session benchmark's generator sends once a second per client."""


def _model_state(obj: Any) -> Any:
    """Everything a pydantic model instance holds (nested models too), to compare two instances exactly."""
    if not hasattr(obj, "__pydantic_fields_set__"):
        return obj if not isinstance(obj, float) else (obj, repr(obj))  # -0.0 and 0.0 differ here
    return (
        type(obj),
        [(k, _model_state(v)) for k, v in obj.__dict__.items()],
        obj.__pydantic_fields_set__,
        obj.__pydantic_extra__,
        obj.__pydantic_private__,
    )


def _outcome(read: Any, data: str | bytes, limits: Limits) -> Any:
    try:
        msg = read(data, limits)
    except ProtocolError as exc:
        return ("refused", type(exc), exc.code, exc.to_wire("r"), exc.limit, exc.actual)
    return ("read", _model_state(msg) if not isinstance(msg, tuple) else msg)


def _same_as_full(data: str | bytes, limits: Limits = LIMITS) -> bool:
    """``parse`` and the full reading give the same model or the same refusal; True when the quick reading took it."""
    assert _outcome(parse, data, limits) == _outcome(parse_full, data, limits), data
    raw = data.encode() if isinstance(data, str) else data
    return plain_move(raw, limits)


GOOD = [
    BASE,
    '{"v":1,"type":"object.move","id":"m1","object":"sofa-1","pose":{"p":[123456.78912345678,0,0]}}',
    '{"v": 1, "type": "object.move", "id": "r1", "object": "o", "pose": {"p": [1.5, 0.0, 2], "q": [0, 0, 0, 1]}}',
    '{"v":1,"type":"object.move","id":"a.b:c_d-e","object":"X","pose":{"p":[-1e-7,2E+3,-0.0],"q":[0.1,0.2,0.3,0.9]}}',
    '{"v":1,"type":"object.move","id":"m","object":"o","pose":{"p":[1000000,-1000000,1e6]},"scale":100}',
    '{"v":1,"type":"object.move","id":"m","object":"o","pose":{"p":[0,0,0]},"scale":0.001}',
    '{"v":1,"type":"object.move","id":"m","object":"o","pose":{"p":[0,0,0]},"scale":1e-300}',
    ' \t\r\n{ "v" :1 ,"type":\n"object.move" , "id" : "m" , "object":"o","pose" : { "p" : [ 1 , 2 , 3 ] } } \n',
    '{"v":1,"type":"object.move","id":"' + "i" * 64 + '","object":"' + "o" * 64 + '","pose":{"p":[0,0,0]}}',
    '{"v":1,"type":"object.move","id":"m","object":"o","pose":{"p":[0.30000000000000004,1e-400,5e-324]}}',
    '{"v":1,"type":"object.move","id":"m","object":"o","pose":{"p":[999999.99999999999999,0,0]}}',
]

BAD = [
    BASE.replace('"v":1', '"v":1.0'),
    BASE.replace('"v":1', '"v":true'),
    BASE.replace('"v":1', '"v":"1"'),
    BASE.replace('"v":1', '"v":2'),
    BASE.replace('"v":1', '"v":10'),
    BASE.replace('"v":1', '"v":1e0'),
    BASE.replace('"id":"m17",', ""),
    BASE.replace('"m17"', '""'),
    BASE.replace('"m17"', '"' + "i" * 65 + '"'),
    BASE.replace('"m17"', '"m 17"'),
    BASE.replace('"m17"', '"m/17"'),
    BASE.replace('"m17"', '"m\u00e917"'),
    BASE.replace('"m17"', "17"),
    BASE.replace('"c3"', "null"),
    BASE.replace('"c3"', '"c 3"'),
    BASE.replace('"c3"', '"' + "o" * 65 + '"'),
    BASE.replace("1718.25", "1000000.0000000001"),
    BASE.replace("1718.25", "1000001"),
    BASE.replace("1718.25", "-1000001"),
    BASE.replace("1718.25", "12345678"),
    BASE.replace("1718.25", "1e400"),
    BASE.replace("1718.25", "-1e7"),
    BASE.replace("1718.25", "NaN"),
    BASE.replace("1718.25", "Infinity"),
    BASE.replace("1718.25", '"1"'),
    BASE.replace("1718.25", "true"),
    BASE.replace("1718.25", "null"),
    BASE.replace("1718.25", "01"),
    BASE.replace("1718.25", "1."),
    BASE.replace("1718.25", ".5"),
    BASE.replace("1718.25", "+1"),
    BASE.replace("1718.25", "-0"),
    BASE.replace("1718.25", "1.000000000000000000001"),
    BASE.replace("1718.25", "1e1000"),
    BASE.replace("1718.25", "1-2"),
    BASE.replace("1718.25", "--1"),
    BASE.replace("1718.25,0,0", "1,2"),
    BASE.replace("1718.25,0,0", "1,2,3,4"),
    BASE.replace("[1718.25,0,0]", '[1,2,3],"q":[0,0,1]'),
    BASE.replace("[1718.25,0,0]", '[1,2,3],"q":[0,0,0,1,0]'),
    BASE.replace("[1718.25,0,0]", '[1,2,3],"q":[0,0,0,2e6]'),
    BASE.replace("[1718.25,0,0]", '[1,2,3],"q":null'),
    BASE.replace("[1718.25,0,0]", '[1,2,3],"p":[1,2,3]'),
    BASE.replace("[1718.25,0,0]", '[1,2,3],"x":1'),
    BASE.replace('"pose":{"p":[1718.25,0,0]}', '"pose":{"q":[0,0,0,1],"p":[1,2,3]}'),
    BASE.replace('"pose":{"p":[1718.25,0,0]}', '"pose":{}'),
    BASE.replace('"pose":{"p":[1718.25,0,0]}', '"pose":[1,2,3]'),
    BASE[:-1] + ',"scale":0}',
    BASE[:-1] + ',"scale":-1}',
    BASE[:-1] + ',"scale":100.0000001}',
    BASE[:-1] + ',"scale":1e3}',
    BASE.replace('"m17"', '"m\x01"'),
    BASE.replace('"c3"', '"c\n3"'),
    BASE.replace("1718.25", "1718.25\f"),
    BASE + " x",
    BASE + "}",
    BASE[:-1],
    "[" + BASE + "]",
    BASE.replace(":", ": \f"),
    BASE.replace(",", " \v,"),
]

OTHER_FORMS = [
    BASE.replace('"m17"', '"m\\u0031"'),
    BASE.replace('"c3"', '"c\\"3"'),
    BASE.replace("object.move", "object\\u002emove"),
    BASE.replace("object.move", "object.delete"),
    BASE.replace("object.move", "object.mover"),
    BASE.replace("object.move", "objectXmove"),
    BASE.replace('"type":"object.move","id":"m17"', '"id":"m17","type":"object.move"'),
    BASE.replace('"v":1', '"v":1.0'),
    BASE.replace('"id":"m17",', ""),
    BASE.replace('"m17"', "17"),
    BASE.replace('"c3"', "null"),
    BASE[:-1] + ',"scale":null}',
    BASE[:-1] + ',"scale":"2"}',
    BASE[:-1] + ',"scale":2,"scale":3}',
    BASE[:-1] + ',"later":{"a":1}}',
    BASE[:-1] + ',"id":"m18"}',
    BASE[:-1] + ',"type":"object.move"}',
    BASE.replace("[1718.25,0,0]", '[1,2,3],"p":[1,2,3]'),
    BASE.replace("[1718.25,0,0]", '[1,2,3],"x":1'),
    BASE.replace("[1718.25,0,0]", "[[1],2,3]"),
    BASE.replace('"pose":{"p":[1718.25,0,0]}', '"pose":{"q":[0,0,0,1],"p":[1,2,3]}'),
    BASE.replace(":", ": \f"),
]


@pytest.mark.parametrize("data", GOOD)
def test_the_usual_moves_are_read_quickly_as_the_full_reading_reads_them(data: str) -> None:
    """Each of these is taken by the quick reading (as bytes and as text), with the very model of the full reading."""
    assert _same_as_full(data.encode())
    assert _same_as_full(data)


@pytest.mark.parametrize("data", BAD + OTHER_FORMS)
def test_every_other_move_gets_the_full_readings_answer(data: str) -> None:
    """Bad moves get the full reading's refusal (code, message, field, limit), moves in other forms its model."""
    _same_as_full(data.encode())
    _same_as_full(data)


@pytest.mark.parametrize("data", OTHER_FORMS)
def test_other_forms_go_through_the_duplicate_key_pass(data: str) -> None:
    """Escapes in strings, other keys or other orders, other value types: the full reading (with its duplicate-key
    and depth checks) reads them."""
    assert not plain_move(data.encode(), LIMITS)


def test_the_depth_and_size_limits_hold_on_the_quick_path() -> None:
    """A move is 3 deep: with a depth limit under 3 it is refused ``too_deep`` as before; over the size limit
    ``too_big`` (``parse`` checks the size before either reading)."""
    assert not _same_as_full(BASE.encode(), Limits(max_json_depth=2))
    with pytest.raises(ProtocolError, match="nesting"):
        parse(BASE.encode(), Limits(max_json_depth=2))
    assert _same_as_full(BASE.encode(), Limits(max_json_depth=3))
    with pytest.raises(ProtocolError) as info:
        parse(BASE.encode(), Limits(max_message_bytes=len(BASE) - 1))
    assert info.value.code == "too_big"


def _number(rng: random.Random) -> str:
    pick = rng.randrange(7)
    if pick == 0:
        return repr(rng.uniform(-1e6, 1e6))
    if pick == 1:
        return f"{rng.uniform(-2e6, 2e6):.{rng.randrange(0, 22)}f}"
    if pick == 2:
        return f"{rng.randrange(-99999999, 99999999)}e{rng.randrange(-330, 4)}"
    if pick == 3:
        return str(rng.randrange(-1_100_000, 1_100_000))
    if pick == 4:
        return json.dumps(rng.choice([0.0, -0.0, 1.0, 1e-7, 5e-324, 0.1 + 0.2, 1e6, -1e6, 100.0, 1e-5]))
    if pick == 5:
        return f"{rng.uniform(-1, 1):.17g}"
    return rng.choice(["0", "-0", "1", "100", "101", "1E2", "1e+2", "-1e-2", "0.0", "-0.0", "1e06", "1000000.5"])


def test_random_numbers_read_alike() -> None:
    """Moves with random numbers of every form (positions, rotations, scales, in range or not) read alike, and most
    in range are taken by the quick reading."""
    rng = random.Random(13)
    quick = 0
    for _ in range(3000):
        p = ",".join(_number(rng) for _ in range(3))
        q = ',"q":[' + ",".join(_number(rng) for _ in range(4)) + "]" if rng.random() < 0.5 else ""
        scale = ',"scale":' + _number(rng) if rng.random() < 0.3 else ""
        rid = f"m{rng.randrange(10**6)}"
        data = f'{{"v":1,"type":"object.move","id":"{rid}","object":"o","pose":{{"p":[{p}]{q}}}{scale}}}'
        quick += _same_as_full(data.encode())
    assert quick > 600


def test_random_edits_of_the_usual_move_read_alike() -> None:
    """Random edits (a character inserted, removed or replaced, from JSON's own and some others) of the usual move:
    the quick reading takes only what the full reading reads the same, and refuses nothing itself."""
    rng = random.Random(7)
    alphabet = '{}[]",:.-+eE0123456789 \t\n\\/ab\u00e9v1qpx'
    quick = 0
    for _ in range(4000):
        chars = list(BASE if rng.random() < 0.5 else GOOD[rng.randrange(len(GOOD))])
        for _ in range(rng.randrange(1, 3)):
            at = rng.randrange(len(chars))
            edit = rng.randrange(3)
            if edit == 0:
                chars.insert(at, rng.choice(alphabet))
            elif edit == 1:
                del chars[at]
            else:
                chars[at] = rng.choice(alphabet)
        quick += _same_as_full("".join(chars).encode("utf-8", "surrogatepass"))
    assert quick > 100
