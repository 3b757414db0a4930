"""What `lanner server local` settles before it starts anything: its ports, its key.

Ports: the API's (LANNER_API_PORT) and the embedded Kafka's and Elasticsearch's
(LANNER_LOCAL_KAFKA_PORT, LANNER_LOCAL_ELASTICSEARCH_PORT) are checked first, so a port
already taken is one line naming it and the setting that moves it, not a traceback from
a child process a minute later.

The encryption key of stored secrets: `lanner server local` is the one-command mode, a
user should be able to run `lanner secret set` at once, without learning about
LANNER_SECRET_KEY first. So when the variable is not set, the key lives in the data
folder (`.lanner/secret.key`), created once with a random value and mode 0600, and read
on every later start: secrets stored in one session still decrypt in the next. A
LANNER_SECRET_KEY in the environment wins.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping, MutableMapping
from pathlib import Path

from api.cli.embedded import EmbeddedError, port_in_use, taken_message

KEY_FILE = "secret.key"
DEFAULT_KAFKA_PORT = 9092
DEFAULT_ELASTICSEARCH_PORT = 9200
DEFAULT_API_PORT = 8080


class LocalKeyError(EmbeddedError):
    pass


def _port_of(address: str | None, default: int) -> int:
    if not address or ":" not in address.rsplit("/", 1)[-1]:
        return default
    try:
        return int(address.rstrip("/").rsplit(":", 1)[1])
    except ValueError:
        return default


def local_ports(
    env: Mapping[str, str], kafka_port: int | None, elasticsearch_port: int | None
) -> tuple[int, int]:
    """The embedded Kafka and Elasticsearch ports; EmbeddedError when one of them, or the
    API's, is already taken on loopback."""
    kafka = kafka_port or _port_of(env.get("LANNER_KAFKA_BOOTSTRAP"), DEFAULT_KAFKA_PORT)
    search = elasticsearch_port or _port_of(
        env.get("LANNER_ELASTICSEARCH_URL"), DEFAULT_ELASTICSEARCH_PORT
    )
    api = _port_of(f":{env.get('LANNER_API_PORT') or DEFAULT_API_PORT}", DEFAULT_API_PORT)
    for port, what, setting in (
        (api, "the API", "LANNER_API_PORT"),
        (kafka, "the embedded Kafka", "LANNER_LOCAL_KAFKA_PORT"),
        (search, "the embedded Elasticsearch", "LANNER_LOCAL_ELASTICSEARCH_PORT"),
    ):
        if port_in_use(port):
            raise EmbeddedError(taken_message(port, what, setting))
    return kafka, search


def prepare_local_env(env: MutableMapping[str, str], data_dir: Path) -> None:
    """LANNER_SECRET_KEY from the data folder's key file unless the environment has one."""
    if not env.get("LANNER_SECRET_KEY"):
        env["LANNER_SECRET_KEY"] = local_secret_key(data_dir)


def local_secret_key(data_dir: Path) -> str:
    """The key kept in `data_dir`, created (mode 0600) when there is none."""
    path = data_dir / KEY_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: two servers started at once on one folder must agree on one key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read(path)
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_urlsafe(32))
    return _read(path)


def _read(path: Path) -> str:
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise LocalKeyError(
            f"{path} is readable by others (mode {mode:o}): `chmod 600 {path}`, since it "
            "decrypts every stored secret"
        )
    key = path.read_text().strip()
    if not key:
        raise LocalKeyError(
            f"{path} is empty: delete it to have a new key made "
            "(secrets stored under the old key are lost)"
        )
    return key
