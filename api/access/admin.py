"""Token administration straight on Kafka: `lanner token create|list|revoke`.

These commands bootstrap access (there is no token yet to call the API with), so they
need what an operator has: the Kafka bootstrap address, i.e. admin rights.
"""

from __future__ import annotations

import datetime as dt
import getpass

from api.access.tokens import SCRYPT_N, SCRYPT_P, SCRYPT_R, TokenFold, mint
from schemas.settings import LannerSettings
from schemas.tokens import TOKEN_EVENT_ADAPTER, TokenCreated, TokenRevoked
from streams.log.admin import ensure_topics
from streams.log.producer import LogProducer
from streams.log.reader import read_all
from streams.log.topics import tokens_topic


class TokenAdminError(Exception):
    pass


def ensure_tokens_topic(settings: LannerSettings) -> str:
    topic = tokens_topic(settings.system_topic_prefix)
    # One partition: a total order of every token fact, which is all a tiny topic needs.
    # Kept forever: a token (or its revocation) must never expire with Kafka's retention.
    ensure_topics(
        settings.kafka_bootstrap,
        [topic],
        1,
        settings.replication_factor,
        config={"retention.ms": "-1", "retention.bytes": "-1"},
    )
    return topic


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name in some containers
        return "cli"


def read_tokens(settings: LannerSettings) -> TokenFold:
    topic = ensure_tokens_topic(settings)
    fold = TokenFold()
    for record in read_all(settings.kafka_bootstrap, topic):
        try:
            fold.apply(TOKEN_EVENT_ADAPTER.validate_json(record.value))
        except ValueError:
            continue
    return fold


def create_token(
    settings: LannerSettings, name: str, tenant: str | None, read_only: bool
) -> tuple[str, TokenCreated]:
    """The clear token (to print once) and its stored record."""
    if not name or len(name) > 100:
        raise TokenAdminError("a token name is 1-100 characters")
    if tenant is not None:
        settings.for_tenant(tenant)  # ValueError with the rule, for an unsafe tenant id
    if read_tokens(settings).by_name(name) is not None:
        raise TokenAdminError(f"a token named {name!r} exists; revoke it first")
    minted = mint()
    event = TokenCreated(
        name=name,
        token_id=minted.token_id,
        time=dt.datetime.now(dt.UTC),
        actor=_actor(),
        tenant=tenant,
        read_only=read_only,
        salt=minted.salt,
        hash=minted.hash,
        n=SCRYPT_N,
        r=SCRYPT_R,
        p=SCRYPT_P,
    )
    _send(settings, name, event.model_dump_json().encode())
    return minted.clear, event


def revoke_token(settings: LannerSettings, name: str) -> TokenRevoked:
    found = read_tokens(settings).by_name(name)
    if found is None:
        raise TokenAdminError(f"no token named {name!r}")
    event = TokenRevoked(
        name=name, token_id=found.token_id, time=dt.datetime.now(dt.UTC), actor=_actor()
    )
    _send(settings, name, event.model_dump_json().encode())
    return event


def _send(settings: LannerSettings, key: str, value: bytes) -> None:
    producer = LogProducer(settings.kafka_bootstrap, client_id="lanner-token-admin")
    try:
        producer.send_and_wait(tokens_topic(settings.system_topic_prefix), key, value)
    finally:
        producer.close(timeout_s=10)
