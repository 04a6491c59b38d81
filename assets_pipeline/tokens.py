"""API tokens for the catalog HTTP API: ``v1.<payload>.<signature>`` (base64url JSON + HMAC-SHA256).

The payload holds ``sub`` (who), ``role`` (``artist`` may upload; ``manager`` may change stores, stock and tags;
``reader`` may only read) and ``exp`` (unix seconds). The secret and the clock are passed in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass

from .errors import Forbidden, InvalidAsset, Unauthorized

ROLES = ("artist", "reader", "manager")


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """An API token's subject, role (artist or reader) and expiry time."""
    sub: str
    role: str
    exp: float


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(claims: TokenClaims, secret: bytes) -> str:
    """Return a signed API token (``v1.<payload>.<hmac>``) for the claims."""
    if claims.role not in ROLES:
        raise InvalidAsset(f"{claims.role!r} is not one of {', '.join(ROLES)}", field="role")
    payload = _b64(json.dumps({"sub": claims.sub, "role": claims.role, "exp": claims.exp},
                              separators=(",", ":")).encode())
    sig = hmac.new(secret, f"v1.{payload}".encode(), hashlib.sha256).digest()
    return f"v1.{payload}.{_b64(sig)}"


def verify(token: str, secret: bytes, now: float) -> TokenClaims:
    """Return the claims of a token signed with ``secret`` and not expired at ``now``; Unauthorized otherwise."""
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != "v1":
        raise Unauthorized("malformed API token", field="authorization")
    expected = hmac.new(secret, f"v1.{parts[1]}".encode(), hashlib.sha256).digest()
    try:
        good = hmac.compare_digest(expected, _unb64(parts[2]))
        data = json.loads(_unb64(parts[1])) if good else None
    except (ValueError, UnicodeDecodeError):
        raise Unauthorized("malformed API token", field="authorization") from None
    if not good or not isinstance(data, dict):
        raise Unauthorized("wrong API token", field="authorization")
    claims = TokenClaims(str(data.get("sub", "")), str(data.get("role", "")), float(data.get("exp", 0)))
    if claims.exp <= now:
        raise Unauthorized("API token expired", field="authorization")
    return claims


def require_role(claims: TokenClaims, role: str) -> None:
    """Raise Forbidden unless the token's role is ``role``."""
    if claims.role != role:
        raise Forbidden(f"this needs the {role!r} role; the token has {claims.role!r}", field="authorization")
