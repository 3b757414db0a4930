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
import time
from collections import OrderedDict
from dataclasses import dataclass

from schemas.tokens import TOKEN_EVENT_ADAPTER, TokenCreated, TokenRevoked
from streams.log.reader import end_offsets, tail

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
    return hashlib.scrypt(secret.encode(), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024,
                          dklen=32)


def mint() -> Minted:
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    salt = secrets.token_bytes(16)
    digest = _scrypt(secret, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return Minted(f"{PREFIX}_{token_id}_{secret}", token_id,
                  base64.b64encode(salt).decode(), base64.b64encode(digest).decode())


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
        self._positions: dict[int, int] = {}
        self._lock = threading.Lock()
        self._moved = threading.Condition(self._lock)
        # sha256(clear token) -> token id, for tokens already verified with scrypt.
        self._verified: OrderedDict[bytes, str] = OrderedDict()

    def apply(self, event: TokenCreated | TokenRevoked, partition: int = 0,
              offset: int = -1) -> None:
        with self._moved:
            if isinstance(event, TokenCreated):
                self._by_id[event.token_id] = event
            else:
                self._by_id.pop(event.token_id, None)
            self._advance(partition, offset)

    def _advance(self, partition: int, offset: int) -> None:
        if offset >= 0:
            self._positions[partition] = max(self._positions.get(partition, 0), offset + 1)
        self._moved.notify_all()

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

    def wait_until(self, ends: dict[int, int], timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        with self._moved:
            while any(self._positions.get(p, 0) < end for p, end in ends.items() if end > 0):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._moved.wait(remaining)
            return True


class LiveTokenView(TokenFold):
    """TokenFold kept current by a thread tailing the tokens topic (about 0.1 s behind)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        super().__init__()
        self._bootstrap = bootstrap
        self._topic = topic
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="token-view", daemon=True)

    def start(self) -> LiveTokenView:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def catch_up(self, timeout_s: float = 10.0) -> bool:
        return self.wait_until(end_offsets(self._bootstrap, self._topic), timeout_s)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                for record in tail(self._bootstrap, [self._topic], from_beginning=True,
                                   stop=self._stop):
                    try:
                        event = TOKEN_EVENT_ADAPTER.validate_json(record.value)
                    except ValueError:
                        log.warning("skipping a malformed token event",
                                    extra={"partition": record.partition,
                                           "offset": record.offset})
                        with self._moved:
                            self._advance(record.partition, record.offset)
                        continue
                    self.apply(event, record.partition, record.offset)
                return
            except Exception:
                log.exception("token view lost its consumer; reconnecting")
                time.sleep(1.0)
