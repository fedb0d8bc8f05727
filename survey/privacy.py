"""Personal numbers in free text: Vietnamese phone numbers and ID card numbers are masked.

Citizens sometimes write their phone number or their citizen ID (CCCD, 12 digits; the older
CMND, 9 digits) into a comment. Officials read comments to improve services, never to contact
or identify a citizen, so such numbers are masked before a comment is stored
(:func:`survey.repository.save_response`, which records that it did in
``responses.comment_masked``), and again when comments are shown (rows stored before masking
on storage): all but the last 2 digits become ``•`` (``0912 345 678`` → ``•••• ••• •78``).

Recognised: 9 to 12 digits in groups of at least 2, with one kind of separator between groups
(single spaces, dots or hyphens: ``0912.345.678``, ``091 234 5678``, ``079 123 456 789``),
optionally after a country code (``+84 912 345 678``, ``84912345678``) or an area code in
parentheses (``(028) 3829 1234``). Left alone: numbers glued to letters, slashes or other
numbers (dossier codes such as ``000.00.12.H56-240101-0001``, dates such as ``12/01/2024`` or
``2024-01-12 10:30``), amounts written in thousands (``150.000.000 đồng``, ``1.500.000.000``)
and anything shorter than 9 digits.

The patterns are compiled once; a comment with fewer than 9 digits costs one scan for digits
(about 2 µs for 80 characters; the full pattern about 10 µs).
"""

from __future__ import annotations

import re

__all__ = ["PERSONAL_NUMBER", "mask_comment", "mask_personal_numbers"]

PERSONAL_NUMBER = re.compile(
    r"(?<![\w+.,/\-])"  # not inside a word, a code, an amount or a date
    r"(?:\+?84[ .\-]?|\(\+?84\)[ .\-]?|\(0\d{1,3}\)[ .\-]?)?"  # country or area code
    r"\d{2,}(?:([ .\-])\d{2,}(?:\1\d{2,})*)?"  # groups of 2+ digits, one kind of separator
    r"(?![\w/]|[.,\-]\d)"  # not followed by more of a code, a date or a number
)
# A whole number written in thousands (no leading 0): an amount of money, not a phone or ID.
_THOUSANDS = re.compile(r"[1-9]\d{0,2}(?:([.,])\d{3})(?:\1\d{3})*")
_CURRENCY = re.compile(r"\s?(?:đồng|đ\b|vnđ|vnd|triệu|tỷ|nghìn|ngàn)", re.IGNORECASE)
_DIGIT = re.compile(r"\d")
_KEEP = 2


def _mask(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = sum(c.isdigit() for c in text)
    if not 9 <= digits <= 12:
        return text
    if _THOUSANDS.fullmatch(text) and (
        text.endswith("000") or _CURRENCY.match(match.string, match.end())
    ):
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
    return mask_comment(text)[0] or text


def mask_comment(text: str | None) -> tuple[str | None, bool]:
    """``(masked text, whether anything was masked)`` of a comment (``None`` stays ``None``)."""
    if not text or len(_DIGIT.findall(text)) < 9:
        return text, False
    masked = PERSONAL_NUMBER.sub(_mask, text)
    return masked, masked != text
