"""Room tokens: HMAC-SHA256 signed claims (room, participant, role, exp).  Key and clock are passed in.

Format: ``base64url(json claims) + "." + base64url(hmac_sha256(key, first part))``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import re
from dataclasses import dataclass
from typing import Literal, get_args

from .errors import AuthError

Role = Literal["phone", "headset", "mirror", "staff", "viewer"]
ROLES: tuple[str, ...] = get_args(Role)
MAX_TOKEN_CHARS = 2048
ID_PATTERN = r"^[A-Za-z0-9_.:\-]{1,64}$"
"""Room, participant, session and request ids (``messages.Id`` on the wire)."""
ID_RE = re.compile(ID_PATTERN)
ID_RULE = "1-64 letters, digits and _ . : - (no spaces)"


@dataclass(frozen=True, slots=True)
class Claims:
    """What a join token grants: room, participant, role, expiry time."""

    room: str
    participant: str
    role: str
    exp: float


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(claims: Claims, key: bytes) -> str:
    """Return a join token for the claims signed with HMAC-SHA256 under ``key``; AuthError for an unknown role."""
    if claims.role not in ROLES:
        raise AuthError("bad_token", f"role must be one of {', '.join(ROLES)}", field="role")
    for name, value in (("room", claims.room), ("participant", claims.participant)):
        if not ID_RE.fullmatch(value):
            raise AuthError("bad_token", f"{value!r} is not a valid {name} id: use {ID_RULE}", field=name)
    body = json.dumps(
        {"room": claims.room, "participant": claims.participant, "role": claims.role, "exp": claims.exp},
        separators=(",", ":"),
        sort_keys=True,
    ).encode()
    head = _b64(body)
    mac = hmac.new(key, head.encode("ascii"), hashlib.sha256).digest()
    return f"{head}.{_b64(mac)}"


def verify(token: str, key: bytes, now: float, room: str | None = None) -> Claims:
    """Check signature, expiry and (when given) the room; return the claims or raise AuthError."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
        raise AuthError("bad_token", "token is malformed", field="token")
    head, mac_text = token.split(".")
    try:
        mac = _unb64(mac_text)
        expected = hmac.new(key, head.encode("ascii"), hashlib.sha256).digest()
    except (binascii.Error, ValueError, UnicodeEncodeError) as exc:
        raise AuthError("bad_token", "token is malformed", field="token") from exc
    if not hmac.compare_digest(mac, expected):
        raise AuthError("bad_token", "token signature is wrong", field="token")
    claims = _read_claims(head)
    if claims.role not in ROLES:
        raise AuthError("bad_token", f"token role {claims.role!r} is not known", field="token")
    for name, value in (("room", claims.room), ("participant", claims.participant)):
        if not ID_RE.fullmatch(value):
            raise AuthError("bad_token", f"token claim {name!r} is not a valid id: use {ID_RULE}", field="token")
    if claims.exp <= now:
        raise AuthError("token_expired", "token has expired", field="token")
    if room is not None and claims.room != room:
        raise AuthError("wrong_room", "token names another room", field="room")
    return claims


def _unique(pairs: list[tuple[str, object]]) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in pairs:
        if key in out:
            raise AuthError("bad_token", f"token claim {key!r} appears twice", field="token")
        out[key] = value
    return out


def _read_claims(head: str) -> Claims:
    """The claims of a token's first part, strictly: a JSON object, each key once, strings for
    ``room``, ``participant`` and ``role``, a number for ``exp``; other claims are ignored."""
    try:
        raw = json.loads(_unb64(head), object_pairs_hook=_unique)
    except (ValueError, binascii.Error, RecursionError) as exc:
        raise AuthError("bad_token", "token claims are not a JSON object", field="token") from exc
    if not isinstance(raw, dict):
        raise AuthError("bad_token", "token claims are not a JSON object", field="token")
    for name in ("room", "participant", "role"):
        if not isinstance(raw.get(name), str):
            got = "missing" if name not in raw else f"a {_json_type(raw[name])}"
            raise AuthError("bad_token", f"token claim {name!r} must be a string, got {got}", field="token")
    exp = raw.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, int | float) or not math.isfinite(exp):
        got = "missing" if "exp" not in raw else f"a {_json_type(exp)}"
        raise AuthError("bad_token", f"token claim 'exp' must be a number (Unix seconds), got {got}", field="token")
    return Claims(room=str(raw["room"]), participant=str(raw["participant"]), role=str(raw["role"]), exp=float(exp))


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", list: "list", dict: "object", type(None): "null"}.get(type(value), type(value).__name__)
