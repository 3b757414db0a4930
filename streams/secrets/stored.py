"""Namespace secrets stored in the log: encrypted events on the tenant's `secrets` topic.

Written by the API (PUT/DELETE /api/v1/{tenant}/namespaces/{ns}/secrets/{name}), folded
in memory by readers (API: names; workers: values), like kv-events. The value is only
ever in an event as Fernet ciphertext: AES-128-CBC with an HMAC-SHA256 tag, under a key
derived (HKDF-SHA256) from LANNER_SECRET_KEY and the tenant id, so one tenant's
ciphertext does not even decrypt as another's. The plaintext also names its namespace and
secret, checked on decryption, so a ciphertext copied onto another secret is refused.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import re
import threading
from collections.abc import Mapping
from typing import Annotated, Literal

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from streams.log.follower import FollowedView

log = logging.getLogger("lanner.secrets")

SECRET_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
NAMESPACE = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")


class _SecretEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    tenant: str
    namespace: str
    name: str
    time: dt.datetime
    actor: str

    @property
    def record_key(self) -> str:
        return f"{self.namespace}/{self.name}"


class SecretSet(_SecretEvent):
    type: Literal["SecretSet"] = "SecretSet"
    ciphertext: str


class SecretDeleted(_SecretEvent):
    type: Literal["SecretDeleted"] = "SecretDeleted"


SecretEvent = Annotated[SecretSet | SecretDeleted, Field(discriminator="type")]
SECRET_EVENT_ADAPTER: TypeAdapter[SecretSet | SecretDeleted] = TypeAdapter(SecretEvent)


class SecretKeyMissing(RuntimeError):
    pass


class SecretCipher:
    def __init__(self, secret_key: str, tenant: str) -> None:
        if not secret_key:
            raise SecretKeyMissing("LANNER_SECRET_KEY is not set: stored secrets need it")
        derived = HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=b"lanner-secrets-v1",
            info=f"tenant:{tenant}".encode(),
        ).derive(secret_key.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def encrypt(self, namespace: str, name: str, value: str) -> str:
        plain = json.dumps({"namespace": namespace, "name": name, "value": value})
        return self._fernet.encrypt(plain.encode()).decode()

    def decrypt(self, event: SecretSet) -> str | None:
        try:
            plain = json.loads(self._fernet.decrypt(event.ciphertext.encode()))
        except (InvalidToken, ValueError):
            return None
        if plain.get("namespace") != event.namespace or plain.get("name") != event.name:
            return None
        return str(plain["value"])


def lineage(namespace: str) -> list[str]:
    """`a.b.c` -> [a, a.b, a.b.c]: parents first, so nearer namespaces win when merged."""
    parts = namespace.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


class SecretFold:
    def __init__(self) -> None:
        self._found: dict[str, SecretSet] = {}
        self._lock = threading.Lock()
        # Bumped on every change, so readers can cache what they derive (a masker).
        self.version = 0

    def apply(self, event: SecretSet | SecretDeleted) -> None:
        with self._lock:
            if isinstance(event, SecretSet):
                self._found[event.record_key] = event
            else:
                self._found.pop(event.record_key, None)
            self.version += 1

    def forget(self) -> None:
        with self._lock:
            self._found.clear()
            self.version += 1

    def get(self, namespace: str, name: str) -> SecretSet | None:
        with self._lock:
            return self._found.get(f"{namespace}/{name}")

    def names(self, namespace: str) -> list[SecretSet]:
        with self._lock:
            return sorted(
                (e for e in self._found.values() if e.namespace == namespace), key=lambda e: e.name
            )

    def visible(self, namespace: str) -> dict[str, SecretSet]:
        """Every secret a flow of `namespace` can use: its own, then its parents'."""
        with self._lock:
            merged: dict[str, SecretSet] = {}
            for ns in lineage(namespace):
                merged.update({e.name: e for e in self._found.values() if e.namespace == ns})
            return merged

    def everything(self) -> list[SecretSet]:
        with self._lock:
            return list(self._found.values())


class LiveSecretView(SecretFold, FollowedView):
    """SecretFold kept current by a thread folding the tenant's secrets topic."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        super().__init__()
        decode = SECRET_EVENT_ADAPTER.validate_json
        self.follow(bootstrap, topic, decode, self.apply, self.forget, name="secret-view")


def namespace_secrets(
    namespace: str,
    env_secrets: Mapping[str, str],
    stored: SecretFold | None,
    cipher: SecretCipher | None,
) -> dict[str, str]:
    """What secret('NAME') means in `namespace`, on a worker as in the API (a webhook's
    key): the namespace's stored secret, else its nearest parent's, else SECRET_<NAME> of
    the environment. A stored secret this key does not decrypt is left out, and said."""
    found = dict(env_secrets)
    if stored is not None and cipher is not None:
        for name, event in stored.visible(namespace).items():
            value = cipher.decrypt(event)
            if value is None:
                log.error(
                    "stored secret does not decrypt with this LANNER_SECRET_KEY",
                    extra={"namespace": event.namespace, "secret": name},
                )
                continue
            found[name] = value
    return found
