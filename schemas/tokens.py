"""Facts about API tokens, on the installation-wide `_system.tokens` topic.

A token is stored as a salted scrypt hash, never in clear: the clear token is shown once,
by `lanner token create`, and only its holder can present it again.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class _TokenEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    token_id: str
    time: dt.datetime
    actor: str


class TokenCreated(_TokenEvent):
    type: Literal["TokenCreated"] = "TokenCreated"
    # None: an admin token, good for every tenant.
    tenant: str | None
    read_only: bool = False
    # scrypt(secret part of the token, salt, n, r, p), both base64.
    salt: str
    hash: str
    n: int
    r: int
    p: int


class TokenRevoked(_TokenEvent):
    type: Literal["TokenRevoked"] = "TokenRevoked"


TokenEvent = Annotated[TokenCreated | TokenRevoked, Field(discriminator="type")]
TOKEN_EVENT_ADAPTER: TypeAdapter[TokenCreated | TokenRevoked] = TypeAdapter(TokenEvent)
