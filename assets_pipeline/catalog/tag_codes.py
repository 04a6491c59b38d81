"""Codes on garments, normalized so that every way of reading one finds the same tag row.

- GTIN family (EAN-8, UPC-A, EAN-13, GTIN-14): digits with a valid check digit, stored as 14 digits
  (a UPC-A ``036000291452`` and the EAN-13 ``0036000291452`` are the same GTIN).
- EPC (RFID): hexadecimal, stored upper-case. An SGTIN-96 EPC also carries a GTIN (:func:`sgtin96_gtin`), so a
  reader's EPC resolves through the GTIN when the EPC itself is not in the table.
- GS1 Digital Link QR codes (``https://.../01/<gtin>/...``) carry a GTIN too (:func:`digital_link_gtin`).
- Anything else (a QR code's text) is kept as it is, trimmed.
"""

from __future__ import annotations

import re

from ..errors import InvalidAsset

KINDS = ("gtin", "epc", "text")
_DIGITS = re.compile(r"^\d+$")
_HEX = re.compile(r"^[0-9A-Fa-f]+$")
_DIGITAL_LINK = re.compile(r"^https?://[^/\s]+(?:/[^\s]*)?/01/(\d{8}|\d{12,14})(?:[/?#]|$)")
# SGTIN-96 partition -> (company prefix bits, digits, item reference bits, digits)
_SGTIN_PARTITIONS = {0: (40, 12, 4, 1), 1: (37, 11, 7, 2), 2: (34, 10, 10, 3), 3: (30, 9, 14, 4),
                     4: (27, 8, 17, 5), 5: (24, 7, 20, 6), 6: (20, 6, 24, 7)}
MAX_CODE = 256


def gtin_check_digit(body: str) -> int:
    """The GS1 check digit of ``body`` (the GTIN without its last digit)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def is_gtin(text: str) -> bool:
    """8, 12, 13 or 14 digits with a valid check digit."""
    return (len(text) in (8, 12, 13, 14) and bool(_DIGITS.match(text))
            and gtin_check_digit(text[:-1]) == int(text[-1]))


def sgtin96_gtin(epc_hex: str) -> str | None:
    """The GTIN-14 encoded in an SGTIN-96 EPC (header 0x30), or None if the EPC is not one."""
    if len(epc_hex) != 24 or not _HEX.match(epc_hex):
        return None
    bits = int(epc_hex, 16)
    if bits >> 88 != 0x30:
        return None
    partition = (bits >> 82) & 0b111
    if partition not in _SGTIN_PARTITIONS:
        return None
    cp_bits, cp_digits, ir_bits, ir_digits = _SGTIN_PARTITIONS[partition]
    company = (bits >> (82 - cp_bits)) & ((1 << cp_bits) - 1)
    item = (bits >> (82 - cp_bits - ir_bits)) & ((1 << ir_bits) - 1)
    company_s, item_s = f"{company:0{cp_digits}d}", f"{item:0{ir_digits}d}"
    if len(company_s) != cp_digits or len(item_s) != ir_digits:
        return None
    body = item_s[0] + company_s + item_s[1:]
    return body + str(gtin_check_digit(body))


def sgtin96_epc(gtin: str, serial: int, company_prefix_digits: int = 7, filter_value: int = 1) -> str:
    """The SGTIN-96 EPC (24 hex digits) of a GTIN and a serial number, as a tag printer encodes it."""
    if not is_gtin(gtin):
        raise InvalidAsset(f"{gtin!r} is not a GTIN", field="gtin")
    digits = gtin.zfill(14)
    partition = next((p for p, v in _SGTIN_PARTITIONS.items() if v[1] == company_prefix_digits), None)
    if partition is None or not 0 <= serial < 1 << 38 or not 0 <= filter_value < 8:
        raise InvalidAsset("company prefix of 6 to 12 digits, serial below 2**38, filter 0-7", field="epc")
    cp_bits, cp_digits, ir_bits, _ = _SGTIN_PARTITIONS[partition]
    company, item = int(digits[1:1 + cp_digits]), int(digits[0] + digits[1 + cp_digits:13])
    bits = (0x30 << 88) | (filter_value << 85) | (partition << 82) | (company << (82 - cp_bits))
    bits |= (item << (82 - cp_bits - ir_bits)) | serial
    return f"{bits:024X}"


def digital_link_gtin(text: str) -> str | None:
    """The GTIN-14 in a GS1 Digital Link URL (``.../01/<gtin>``), or None."""
    m = _DIGITAL_LINK.match(text.strip())
    if m is None or not is_gtin(m.group(1)):
        return None
    return m.group(1).zfill(14)


def normalize(code: str, *, field: str = "code") -> tuple[str, str]:
    """``(kind, normalized code)`` of a code read from a tag or typed in a CSV; InvalidAsset if unusable."""
    text = code.strip()
    if not text:
        raise InvalidAsset("empty code", field=field)
    if len(text) > MAX_CODE:
        raise InvalidAsset(f"code longer than {MAX_CODE} characters", field=field)
    if _DIGITS.match(text) and len(text) in (8, 12, 13, 14):
        if not is_gtin(text):
            raise InvalidAsset(f"{text!r} looks like a GTIN/EAN/UPC but its check digit is wrong", field=field)
        return "gtin", text.zfill(14)
    if len(text) == 24 and _HEX.match(text):
        return "epc", text.upper()
    return "text", text


def lookup_keys(code: str) -> list[str]:
    """Table keys to try for a code as read, most specific first (the EPC itself, then the GTIN it carries)."""
    try:
        kind, norm = normalize(code)
    except InvalidAsset:
        text = code.strip()
        return [text] if text and len(text) <= MAX_CODE else []
    keys = [norm]
    alt = sgtin96_gtin(norm) if kind == "epc" else digital_link_gtin(norm) if kind == "text" else None
    if alt is not None:
        keys.append(alt)
    return keys
