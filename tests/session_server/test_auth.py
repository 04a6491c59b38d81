import pytest

from session_server.protocol import auth
from session_server.protocol.errors import AuthError

KEY = b"k" * 32


def token(**over: object) -> str:
    claims = {"room": "store-1", "participant": "ana", "role": "phone", "exp": 1000.0, **over}
    return auth.sign(auth.Claims(**claims), KEY)  # type: ignore[arg-type]


def test_roundtrip() -> None:
    claims = auth.verify(token(), KEY, now=10.0, room="store-1")
    assert claims == auth.Claims("store-1", "ana", "phone", 1000.0)


@pytest.mark.parametrize(
    ("tok", "now", "room", "code"),
    [
        (lambda: token(), 1000.0, "store-1", "token_expired"),
        (lambda: token(), 10.0, "store-2", "wrong_room"),
        (
            lambda: auth.sign(auth.Claims("store-1", "ana", "staff", 1000.0), b"other"),
            10.0,
            "store-1",
            "bad_token",
        ),
        (lambda: token()[:-3] + "AAA", 10.0, "store-1", "bad_token"),
        (lambda: "nodot", 10.0, None, "bad_token"),
        (lambda: "a.b.c", 10.0, None, "bad_token"),
        (lambda: "x" * 5000, 10.0, None, "bad_token"),
    ],
)
def test_refusals(tok, now: float, room: str | None, code: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AuthError) as info:
        auth.verify(tok(), KEY, now=now, room=room)
    assert info.value.code == code


def test_forged_claims_with_swapped_body() -> None:
    good = token()
    other = token(role="staff")
    forged = other.split(".")[0] + "." + good.split(".")[1]
    with pytest.raises(AuthError):
        auth.verify(forged, KEY, now=1.0)


def test_unknown_role_cannot_be_signed() -> None:
    with pytest.raises(AuthError):
        auth.sign(auth.Claims("r", "p", "admin", 10.0), KEY)


def signed(body: str) -> str:
    """A token over any claims text, correctly signed (what a buggy or hostile minting service could make)."""
    head = auth._b64(body.encode())
    return head + "." + auth._b64(auth.hmac.new(KEY, head.encode(), auth.hashlib.sha256).digest())


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ('{"room": "store-1", "participant": "ana", "role": "phone", "exp": "99999999999"}', "'exp' must be a number"),
        ('{"room": "store-1", "participant": "ana", "role": "phone", "exp": true}', "'exp' must be a number"),
        (
            '{"room": "store-1", "participant": "ana", "role": "phone"}',
            "'exp' must be a number (Unix seconds), got missing",
        ),
        ('{"room": "store-1", "participant": 7, "role": "phone", "exp": 1000}', "'participant' must be a string"),
        ('{"room": ["store-1"], "participant": "ana", "role": "phone", "exp": 1000}', "'room' must be a string"),
        (
            '{"room": "store-1", "participant": "ana", "role": "phone", "exp": 1000, "role": "staff"}',
            "'role' appears twice",
        ),
        ('{"room": "store-1", "participant": "a b", "role": "phone", "exp": 1000}', "'participant' is not a valid id"),
        ('["store-1", "ana", "phone", 1000]', "not a JSON object"),
        ("{not json", "not a JSON object"),
    ],
)
def test_claims_are_read_strictly(body: str, says: str) -> None:
    with pytest.raises(AuthError) as info:
        auth.verify(signed(body), KEY, now=10.0, room="store-1")
    assert info.value.code == "bad_token" and says in info.value.message, info.value.message


def test_integer_exp_and_unknown_claims_are_accepted() -> None:
    body = '{"room": "store-1", "participant": "ana", "role": "phone", "exp": 1000, "iss": "pos-7", "nbf": 5}'
    assert auth.verify(signed(body), KEY, now=10.0, room="store-1") == auth.Claims("store-1", "ana", "phone", 1000.0)
