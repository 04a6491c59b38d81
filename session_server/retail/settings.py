"""RetailSettings: the fitting-room services' part of ``SessionSettings`` (``PHYGITAL_SESSION_RETAIL__*``)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class RetailSettings(BaseModel):
    """Smart fitting rooms: database, token lifetimes, debounce, limits and retention."""

    database_url: str | None = Field(
        None, description="SQLAlchemy URL of the retail tables; default: the catalog database (PHYGITAL_ASSETS_*)"
    )
    device_token_ttl_s: float = Field(900.0, gt=0, description="room tokens exchanged for a device key")
    phone_token_ttl_s: float = Field(3600.0, gt=0, description="room token given to a paired phone")
    pairing_ttl_s: float = Field(120.0, gt=0, description="a pairing code is valid this long, once")
    debounce_s: float = Field(10.0, ge=0, description="repeated reads of one tag within this are one item")
    leave_after_s: float = Field(60.0, gt=0, description="an item with no read for this long has left the room")
    sweep_interval_s: float = Field(2.0, gt=0, description="how often items with no recent read are checked")
    max_reads_per_post: int = Field(200, gt=0)
    reads_per_second: float = Field(20.0, gt=0, description="per reader device; a flood is refused with 429")
    reads_burst: int = Field(400, gt=0, description="tag reads a reader may post at once before the rate applies")
    max_frame_bytes: int = Field(4 * 1024 * 1024, gt=0)
    max_frame_pixels: int = Field(4096 * 4096, gt=0)
    frames_per_second: float = Field(8.0, gt=0, description="per mirror; frames beyond are refused with 429")
    max_wishlist_entries: int = Field(500, gt=0)
    retention_days: float = Field(30.0, gt=0, description="requests and analytics are kept this many days")
    wishlist_retention_days: float = Field(365.0, gt=0, description="wishlists untouched this long are deleted")
    public_url: str | None = Field(None, description="base URL put in the pairing QR (default http://host:port)")
    phone_path: str = Field("/fit/phone", description="page of the phone, opened from the pairing QR")
