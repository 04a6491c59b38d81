"""Pairing codes: the mirror shows one in a QR; a phone exchanges it, once, for a ``phone`` room token.

Codes are short (8 characters from an alphabet without look-alikes), valid ``pairing_ttl_s``, single
use, and stored only as a hash. A new code for a room replaces the room's unused ones, so only the
code on the mirror's screen works.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import and_, delete, insert, select, update

from .db import RetailDB, pairings
from .errors import RetailError

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
CODE = re.compile(rf"^[{ALPHABET}]{{{CODE_LENGTH}}}$")


@dataclass(frozen=True, slots=True)
class Pairing:
    """Where a redeemed code leads."""

    store: str
    room: str
    expires: float


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def normalise(code: str) -> str:
    """Upper-case, without spaces or dashes (people type what they read)."""
    return code.strip().upper().replace("-", "").replace(" ", "") if isinstance(code, str) else ""


class PairingCodes:
    """Issue and redeem one-time pairing codes."""

    def __init__(self, db: RetailDB, ttl_s: float) -> None:
        self.db = db
        self.ttl_s = ttl_s

    def issue(self, store: str, room: str, now: float | None = None) -> tuple[str, float]:
        """A new code for the room (its older unused codes stop working); returns (code, expires)."""
        now = time.time() if now is None else now
        code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
        expires = now + self.ttl_s
        with self.db.engine.begin() as conn:
            conn.execute(delete(pairings).where(and_(pairings.c.store == store, pairings.c.room == room,
                                                     pairings.c.used.is_(None))))
            conn.execute(insert(pairings).values(code_hash=_hash(code), store=store, room=room, expires=expires,
                                                 used=None))
        return code, expires

    def redeem(self, code: str, now: float | None = None) -> Pairing:
        """Use a code: once, before it expires; else RetailError naming why."""
        now = time.time() if now is None else now
        code = normalise(code)
        if not CODE.match(code):
            raise RetailError("unknown_pairing", "the pairing code is not known; scan the mirror's code again",
                              field="code")
        h = _hash(code)
        with self.db.engine.begin() as conn:
            done = conn.execute(update(pairings).where(and_(pairings.c.code_hash == h, pairings.c.used.is_(None),
                                                            pairings.c.expires > now)).values(used=now))
            row = conn.execute(select(pairings).where(pairings.c.code_hash == h)).first()
        if row is None:
            raise RetailError("unknown_pairing", "the pairing code is not known; scan the mirror's code again",
                              field="code")
        r = row._mapping
        if done.rowcount != 1:
            if r["used"] is not None:
                raise RetailError("pairing_used", "the pairing code was already used; scan the mirror's new code",
                                  field="code")
            raise RetailError("pairing_expired", "the pairing code has expired; scan the mirror's new code",
                              field="code")
        return Pairing(r["store"], r["room"], r["expires"])

    def release(self, code: str) -> None:
        """Make a redeemed code usable again (the pairing it was for was refused, so nothing changed)."""
        with self.db.engine.begin() as conn:
            conn.execute(update(pairings).where(pairings.c.code_hash == _hash(normalise(code))).values(used=None))

    def purge(self, before: float) -> int:
        """Delete codes that expired before ``before``; returns how many."""
        with self.db.engine.begin() as conn:
            return conn.execute(delete(pairings).where(pairings.c.expires < before)).rowcount or 0
