"""Tokens (salted hashes, verification, revocation) and tenant paths, without a broker."""

from __future__ import annotations

import datetime as dt

import pytest

from api.access.tokens import TokenFold, mint, split_token
from api.web.app import create_app
from api.web.tenants import TenantPaths
from schemas.settings import RESERVED_TENANTS, LannerSettings, auth_default
from schemas.tokens import TokenCreated, TokenRevoked


def _created(name: str, tenant: str | None = "a") -> tuple[str, TokenCreated]:
    minted = mint()
    return minted.clear, TokenCreated(
        name=name,
        token_id=minted.token_id,
        time=dt.datetime.now(dt.UTC),
        actor="t",
        tenant=tenant,
        salt=minted.salt,
        hash=minted.hash,
        n=2**14,
        r=8,
        p=1,
    )


def test_a_token_is_stored_hashed_verified_and_revoked() -> None:
    clear, record = _created("ci")
    assert clear not in record.model_dump_json()
    assert split_token(clear) is not None
    fold = TokenFold()
    fold.apply(record)
    assert fold.verify(clear) == record
    assert fold.verify(clear) == record  # from the memory of verified tokens
    assert fold.verify(clear[:-1] + ("x" if clear[-1] != "x" else "y")) is None
    assert fold.verify("garbage") is None
    fold.apply(TokenRevoked(name="ci", token_id=record.token_id, time=record.time, actor="t"))
    assert fold.verify(clear) is None


def test_every_route_group_is_a_reserved_tenant_id() -> None:
    app = create_app(LannerSettings())
    middleware = next(m for m in app.user_middleware if m.cls is TenantPaths)
    assert set(middleware.kwargs["groups"]) <= RESERVED_TENANTS
    for group in RESERVED_TENANTS:
        with pytest.raises(ValueError, match="reserved"):
            LannerSettings(tenant_id=group)


def test_auth_defaults() -> None:
    assert auth_default("local") is False and auth_default("standalone") is True
    assert LannerSettings.from_env({}).auth is True
    assert LannerSettings.from_env({"LANNER_AUTH": "off"}).auth is False
    with pytest.raises(ValueError, match="not safe"):
        LannerSettings.from_env({"LANNER_TENANT_ID": "A/B"})
