"""API tokens: minting, salted hashing, verification, and the fold of the tokens topic.

A clear token reads `lnr_<token id>_<secret>`. The id (not secret) finds the stored
record in O(1); only the secret part is hashed, with scrypt and a random salt per token,
so a copy of the topic does not give working tokens. scrypt costs tens of milliseconds
on purpose: a verified token is remembered in memory by its SHA-256, so each token pays
it once per API process, and revocation is still checked on every request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass

from schemas.tokens import TOKEN_EVENT_ADAPTER, TokenCreated, TokenRevoked
from streams.log.follower import FollowedView

log = logging.getLogger("lanner.tokens")

PREFIX = "lnr"
# scrypt cost (RFC 7914 interactive figures): about 16 MB and ~50 ms per hash.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
_VERIFIED_MEMORY = 10_000


@dataclass(frozen=True)
class Minted:
    clear: str
    token_id: str
    salt: str
    hash: str


def _scrypt(secret: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        secret.encode(), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024, dklen=32
    )


def mint() -> Minted:
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    salt = secrets.token_bytes(16)
    digest = _scrypt(secret, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return Minted(
        f"{PREFIX}_{token_id}_{secret}",
        token_id,
        base64.b64encode(salt).decode(),
        base64.b64encode(digest).decode(),
    )


def split_token(clear: str) -> tuple[str, str] | None:
    """(token id, secret) of a well-formed clear token, else None."""
    prefix, sep, rest = clear.partition("_")
    token_id, sep2, secret = rest.partition("_")
    if prefix != PREFIX or not sep or not sep2 or not token_id or not secret:
        return None
    return token_id, secret


def matches(record: TokenCreated, secret: str) -> bool:
    digest = _scrypt(secret, base64.b64decode(record.salt), record.n, record.r, record.p)
    return hmac.compare_digest(digest, base64.b64decode(record.hash))


class TokenFold:
    """{token id: TokenCreated} of the tokens still valid; pure bookkeeping."""

    def __init__(self) -> None:
        self._by_id: dict[str, TokenCreated] = {}
        self._lock = threading.Lock()
        # sha256(clear token) -> token id, for tokens already verified with scrypt.
        self._verified: OrderedDict[bytes, str] = OrderedDict()

    def apply(self, event: TokenCreated | TokenRevoked) -> None:
        with self._lock:
            if isinstance(event, TokenCreated):
                self._by_id[event.token_id] = event
            else:
                self._by_id.pop(event.token_id, None)

    def forget(self) -> None:
        with self._lock:
            self._by_id.clear()
            self._verified.clear()

    def active(self) -> list[TokenCreated]:
        with self._lock:
            return sorted(self._by_id.values(), key=lambda t: t.name)

    def by_name(self, name: str) -> TokenCreated | None:
        with self._lock:
            return next((t for t in self._by_id.values() if t.name == name), None)

    def verify(self, clear: str) -> TokenCreated | None:
        """The valid token record `clear` stands for, or None (unknown, wrong, revoked)."""
        parts = split_token(clear)
        if parts is None:
            return None
        token_id, secret = parts
        fingerprint = hashlib.sha256(clear.encode()).digest()
        with self._lock:
            record = self._by_id.get(token_id)
            known = self._verified.get(fingerprint) == token_id
        if record is None:
            return None  # never created, or revoked: checked on every request
        if known:
            return record
        if not matches(record, secret):
            return None
        with self._lock:
            self._verified[fingerprint] = token_id
            if len(self._verified) > _VERIFIED_MEMORY:
                self._verified.popitem(last=False)
        return record


class LiveTokenView(TokenFold, FollowedView):
    """TokenFold kept current by a thread folding the tokens topic (about 0.1 s behind)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        super().__init__()
        decode = TOKEN_EVENT_ADAPTER.validate_json
        self.follow(bootstrap, topic, decode, self.apply, self.forget, name="token-view")
