"""Deterministic ids: the same inputs give the same ids, so a re-decided history has them."""

from __future__ import annotations

import hashlib

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def base62(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    chars: list[str] = []
    while number:
        number, rest = divmod(number, 62)
        chars.append(_ALPHABET[rest])
    return "".join(reversed(chars)) or "0"


def derive_id(*parts: str | int | None) -> str:
    """A 22-character base62 id (Kestra's shape) derived from its parts."""
    text = "\x1f".join("" if p is None else str(p) for p in parts)
    return base62(hashlib.blake2b(text.encode(), digest_size=16).digest()).rjust(22, "0")
