"""The small, fixed rules of the retail layer: ids, sizes, colours, product attributes and colour harmony.

Kept apart from the database code so the recommendation rules can be read (and are explained in the README)
in one place.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..errors import InvalidAsset

STORE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
ROOM_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,15}$")
ATTRIBUTE_FIELDS = ("type", "colour", "style")
SIZE_ORDER = ("XXXS", "XXS", "XS", "S", "M", "L", "XL", "XXL", "XXXL", "4XL", "5XL")
NEUTRALS = frozenset({"black", "white", "grey", "navy", "beige", "cream", "ecru", "denim", "brown", "camel",
                      "khaki", "nude", "silver", "gold"})
SLOTS = {"top": ("t-shirt", "shirt", "blouse", "top", "sweater", "jumper", "hoodie", "polo", "tank"),
         "bottom": ("trousers", "jeans", "skirt", "shorts", "leggings", "chinos"),
         "full": ("dress", "jumpsuit", "overall"),
         "outer": ("jacket", "coat", "blazer", "cardigan", "parka")}
"""Where a piece is worn, from its ``type``; otherwise its category is its slot (shoes, accessory, makeup...)."""
_SLOT_OF = {t: slot for slot, types in SLOTS.items() for t in types}
_CLASHES = {frozenset(("full", "top")), frozenset(("full", "bottom"))}
_COLOUR_ALIASES = {"gray": "grey", "off-white": "ecru", "off white": "ecru", "navy blue": "navy"}


def check_store_id(store: str) -> str:
    """A store id usable in room ids (``fit.<store>.<room>``): letters, digits, '_', '-', at most 32."""
    if not STORE_ID.match(store):
        raise InvalidAsset(f"{store!r} is not a valid store id (letters, digits, '_', '-'; at most 32)", field="store")
    return store


def check_room_id(room: str) -> str:
    """A fitting-room id within its store: letters, digits, '_', '-', at most 16."""
    if not ROOM_ID.match(room):
        raise InvalidAsset(f"{room!r} is not a valid fitting-room id (letters, digits, '_', '-'; at most 16)",
                           field="room")
    return room


def check_timezone(timezone: str) -> str:
    """An IANA time zone name such as Europe/Paris."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidAsset(f"{timezone!r} is not a time zone such as Europe/Paris", field="timezone") from None
    return timezone


def norm_size(size: str, field: str = "size") -> str:
    """Sizes compare case-insensitively (``m`` is ``M``); at most 16 characters."""
    text = " ".join(size.split()).upper()
    if not text or len(text) > 16:
        raise InvalidAsset(f"{size!r} is not a size (1 to 16 characters)", field=field)
    return text


def norm_colour(colour: str, field: str = "colour") -> str:
    """Colours compare case-insensitively, with a few spellings merged (``Gray`` is ``grey``); at most 32."""
    text = " ".join(colour.split()).lower()
    text = _COLOUR_ALIASES.get(text, text)
    if not text or len(text) > 32:
        raise InvalidAsset(f"{colour!r} is not a colour (1 to 32 characters)", field=field)
    return text


def size_key(size: str) -> tuple[int, float, str]:
    """Sort key: letter sizes in garment order, then numeric sizes by value, then the rest alphabetically."""
    if size in SIZE_ORDER:
        return (0, SIZE_ORDER.index(size), size)
    try:
        return (1, float(size.replace(",", ".")), size)
    except ValueError:
        return (2, 0.0, size)


def slot(category: str, kind: str | None) -> str:
    """The outfit slot of a piece: top, bottom, full, outer from its type; else its category."""
    return _SLOT_OF.get(kind or "", category if category != "apparel" else f"apparel:{kind or ''}")


def completes(a: str, b: str) -> bool:
    """Whether pieces in slots ``a`` and ``b`` are worn together (not the same slot; a dress takes top and bottom)."""
    return a != b and frozenset((a, b)) not in _CLASHES


def goes_with(a: str | None, b: str | None) -> str | None:
    """Why colour ``b`` goes with ``a`` ("same colour", "neutral"), or None when the rule says nothing."""
    if a is None or b is None:
        return None
    if a == b:
        return "same colour"
    if a in NEUTRALS or b in NEUTRALS:
        return "neutral"
    return None


def check_attributes(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Validated, normalized retail attributes: ``type`` (text), ``colour`` (text), ``style`` (list of tags)."""
    out: dict[str, Any] = {}
    for key, value in attrs.items():
        if key not in ATTRIBUTE_FIELDS:
            raise InvalidAsset(f"unknown attribute (expected {', '.join(ATTRIBUTE_FIELDS)})", field=f"attributes.{key}")
        if value is None:
            continue
        if key == "style":
            tags = value.replace("|", " ").replace(",", " ").split() if isinstance(value, str) else value
            if not isinstance(tags, list) or not all(isinstance(t, str) and 0 < len(t) <= 32 for t in tags):
                raise InvalidAsset("expected style tags (words of at most 32 characters)", field="attributes.style")
            out["style"] = sorted({t.lower() for t in tags})
        elif key == "colour":
            if not isinstance(value, str):
                raise InvalidAsset("expected a colour name", field="attributes.colour")
            out["colour"] = norm_colour(value, "attributes.colour")
        else:
            if not isinstance(value, str) or not 0 < len(value.strip()) <= 32:
                raise InvalidAsset("expected a product type such as 'shirt' (1 to 32 characters)",
                                   field="attributes.type")
            out["type"] = value.strip().lower()
    return out
