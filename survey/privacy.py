"""Personal numbers in free text: Vietnamese phone numbers and ID card numbers are masked.

Citizens sometimes write their phone number or their citizen ID (CCCD, 12 digits; the older
CMND, 9 digits) into a comment. Officials read comments to improve services, never to contact
or identify a citizen, so pages show such numbers masked: all but the last 2 digits become
``•`` (``0912 345 678`` → ``•••• ••• •78``).

Recognised: a run of 9 to 12 digits, optionally ``+84`` / ``84`` first, with single spaces,
dots or hyphens between groups (``0912.345.678``, ``+84 912 345 678``, ``079 123 456 789``).
Shorter numbers (amounts, dates, dossier counts) are left alone.
"""

from __future__ import annotations

import re

__all__ = ["PERSONAL_NUMBER", "mask_personal_numbers"]

PERSONAL_NUMBER = re.compile(r"(?<![\d+])(?:\+?84[ .\-]?)?\d(?:[ .\-]?\d){8,11}(?!\d)")
_KEEP = 2


def _mask(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = sum(c.isdigit() for c in text)
    if digits < 9:
        return text
    seen = 0
    out = []
    for char in text:
        if char.isdigit():
            seen += 1
            out.append(char if seen > digits - _KEEP else "•")
        else:
            out.append(char)
    return "".join(out)


def mask_personal_numbers(text: str) -> str:
    """``text`` with every phone or ID number masked but for its last two digits."""
    return PERSONAL_NUMBER.sub(_mask, text)
