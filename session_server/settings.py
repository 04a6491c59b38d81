"""SessionSettings: read once at the entry point (``PHYGITAL_SESSION_*``) and passed down."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .protocol.auth import ID_RE, ID_RULE
from .protocol.limits import DEFAULT_LIMITS, Limits
from .retail.settings import RetailSettings

DEV_SECRET = "phygital-dev-secret-change-me"


class LimitSettings(BaseModel):
    """Mirror of ``protocol.limits.Limits``; defaults come from there (one place)."""

    max_message_bytes: int = Field(DEFAULT_LIMITS.max_message_bytes, gt=0)
    max_json_depth: int = Field(DEFAULT_LIMITS.max_json_depth, gt=0)
    messages_per_second: float = Field(DEFAULT_LIMITS.messages_per_second, gt=0)
    message_burst: int = Field(DEFAULT_LIMITS.message_burst, gt=0)
    rate_strikes_before_close: int = Field(DEFAULT_LIMITS.rate_strikes_before_close, ge=0)
    rate_strike_window_s: float = Field(DEFAULT_LIMITS.rate_strike_window_s, gt=0)
    max_participants_per_room: int = Field(DEFAULT_LIMITS.max_participants_per_room, gt=0)
    max_objects_per_room: int = Field(DEFAULT_LIMITS.max_objects_per_room, gt=0)
    max_anchors_per_room: int = Field(DEFAULT_LIMITS.max_anchors_per_room, gt=0)
    max_rooms: int = Field(DEFAULT_LIMITS.max_rooms, gt=0)
    max_chat_chars: int = Field(DEFAULT_LIMITS.max_chat_chars, gt=0)
    chat_log_length: int = Field(DEFAULT_LIMITS.chat_log_length, ge=0)
    max_id_chars: int = Field(DEFAULT_LIMITS.max_id_chars, gt=0)
    delta_log_length: int = Field(DEFAULT_LIMITS.delta_log_length, gt=0)

    def to_limits(self) -> Limits:
        """Return these limits as the protocol's Limits."""
        return Limits(**self.model_dump())


assert set(LimitSettings.model_fields) == set(asdict(DEFAULT_LIMITS))


class SessionSettings(BaseSettings):
    """Session server settings from ``PHYGITAL_SESSION_*``: address, tokens, rooms, Redis, timing, limits."""
    model_config = SettingsConfigDict(env_prefix="PHYGITAL_SESSION_", env_nested_delimiter="__", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(8700, ge=0, le=65535)
    token_secret: SecretStr = SecretStr(DEV_SECRET)
    token_ttl_s: float = Field(12 * 3600, gt=0)
    open_rooms: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description='rooms joinable without a token: a comma list or a JSON list; "*" = all'
    )
    redis_url: str | None = None
    redis_prefix: str = "phygital:session"
    node_id: str | None = None
    resume_window_s: float = Field(60.0, gt=0)
    lock_ttl_s: float = Field(15.0, gt=0)
    visit_timeout_s: float = Field(300.0, gt=0, description="a fitting room with nobody in it this long is cleared")
    idle_timeout_s: float = Field(30.0, gt=0)
    quiet_timeout_s: float = Field(30.0, gt=0)
    tick_hz: float = Field(30.0, gt=0, le=240)
    tick_align: bool = Field(
        True,
        description="tick each room just after its members' poses arrive (server.align): shorter waits for poses; "
        "false = rooms keep the tick slot they started in",
    )
    presence_radius_m: float = Field(0.0, ge=0, description="send each device the poses within ~this radius; 0 = all")
    send_queue_bytes: int = Field(256 * 1024, gt=0)
    send_timeout_s: float = Field(10.0, gt=0)
    ws_ping_interval_s: float = Field(20.0, gt=0)
    poll_interval_ms: float = Field(
        1.0,
        ge=0,
        le=20,
        description="a server process of its own reads its sockets at most this often while it has clients "
        "(messages taken together, fewer wake-ups; server.nap); 0 = at every event",
    )
    lease_ms: int = Field(
        600,
        ge=100,
        description="a process that stops renewing a room's lease this long loses the room to another process (Redis)",
    )
    ws_impl: Literal["fast", "auto", "websockets", "websockets-sansio"] = Field(
        "fast", description='"fast": /ws without the ASGI layer (server.fastws); others: uvicorn ASGI implementations'
    )
    shutdown_retry_after_ms: int = Field(500, ge=0)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    retail: RetailSettings = Field(default_factory=RetailSettings)

    @field_validator("open_rooms", mode="before")
    @classmethod
    def _room_list(cls, value: Any) -> Any:
        """``*``, ``a,b`` or ``["a", "b"]`` from the environment; a room id must be a valid id."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                try:
                    value = json.loads(text)
                except ValueError as exc:
                    raise ValueError(f"not a JSON list ({exc}); use a comma list such as 'store-1,store-2'") from None
            else:
                value = [part.strip() for part in text.split(",") if part.strip()]
        if isinstance(value, list):
            for room in value:
                if not isinstance(room, str) or (room != "*" and not ID_RE.fullmatch(room)):
                    raise ValueError(f"{room!r} is not a room id ({ID_RULE}) or '*'")
        return value

    def room_open(self, room: str) -> bool:
        """True when participants may open ``room`` (listed in ``OPEN_ROOMS``, or ``*``)."""
        return "*" in self.open_rooms or room in self.open_rooms
