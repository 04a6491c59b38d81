"""RetailService: the fitting-room services of one server process, shared by the HTTP routes."""

from __future__ import annotations

import logging
import re
import secrets
import time
from typing import TYPE_CHECKING, Any

from ..protocol import auth
from .db import RetailDB
from .devices import DeviceRegistry
from .errors import RetailError
from .pairing import PairingCodes
from .rooms import RoomGateway, fitting_room_id

if TYPE_CHECKING:  # settings imports retail.settings: a run-time import here would be a cycle
    from ..settings import SessionSettings

logger = logging.getLogger(__name__)
PAIRING_PATH = re.compile(r"(/api/pairing/)[^/?\s\"]+")


def database_url(settings: SessionSettings) -> str:
    """The retail tables' database: the session setting, else the catalog's database."""
    if settings.retail.database_url:
        return settings.retail.database_url
    from assets_pipeline.settings import AssetSettings

    return AssetSettings().catalog_database_url()


class RedactPairingCodes(logging.Filter):
    """Access-log filter: a pairing code in a request path is shown as ``***``."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's path argument; never drops a record."""
        if isinstance(record.args, tuple) and any(isinstance(a, str) and "/api/pairing/" in a for a in record.args):
            record.args = tuple(PAIRING_PATH.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args)
        return True


class RetailService:
    """Devices, pairing, requests, wishlists and analytics of one process, over one database."""

    def __init__(self, settings: SessionSettings, db: RetailDB, node: Any) -> None:
        self.settings = settings
        self.db = db
        self.node = node
        self.key = settings.token_secret.get_secret_value().encode()
        self.devices = DeviceRegistry(db)
        self.pairing = PairingCodes(db, settings.retail.pairing_ttl_s)
        self.rooms = RoomGateway(node)

    @classmethod
    def open(cls, settings: SessionSettings, node: Any) -> RetailService:
        """The service over the database the settings name (connected on first use)."""
        return cls(settings, RetailDB(database_url(settings)), node)

    async def start(self) -> None:
        """Start background work (none yet)."""

    async def close(self) -> None:
        """Stop background work and release the database."""
        self.db.close()

    def pairing_url(self, code: str) -> str:
        """What the mirror's QR holds: the phone page with the code in the fragment (never sent to servers)."""
        r = self.settings.retail
        base = r.public_url or f"http://{self.settings.host}:{self.settings.port}"
        return f"{base.rstrip('/')}{r.phone_path}#code={code}"

    async def pair_phone(self, code: str) -> dict[str, Any]:
        """Redeem a pairing code: pair a new phone participant with the room and give it a token."""
        found = await self.db.run(self.pairing.redeem, code)
        room_id = fitting_room_id(found.store, found.room)
        participant = "phone-" + secrets.token_hex(5)
        try:
            await self.rooms.command(room_id, {"type": "phone.pair", "participant": participant})
        except RetailError:
            await self.db.run(self.pairing.release, code)
            raise
        expires = time.time() + self.settings.retail.phone_token_ttl_s
        token = auth.sign(auth.Claims(room_id, participant, "phone", expires), self.key)
        return {"token": token, "room": room_id, "role": "phone", "participant": participant, "expires": expires,
                "store": found.store, "fitting_room": found.room, "ws": "/ws"}
