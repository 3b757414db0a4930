"""Who is calling: the bearer token of a request, checked against the tokens fold."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from api.access.tokens import TokenFold
from api.web.errors import ApiError

# Without authentication (LANNER_AUTH=off) every write is attributed to the API itself.
ANONYMOUS = "api"
_READS = ("GET", "HEAD")


@dataclass(frozen=True)
class Caller:
    name: str
    # None: every tenant (an admin token, or authentication off).
    tenant: str | None
    read_only: bool

    def may_see(self, tenant: str) -> bool:
        return self.tenant is None or self.tenant == tenant


def authenticate(request: Request, tokens: TokenFold | None) -> Caller:
    """The caller, or a 401 that says what is wrong and nothing else."""
    if tokens is None:
        return Caller(ANONYMOUS, None, False)
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise ApiError(401, "an API token is required: send 'Authorization: Bearer <token>'")
    record = tokens.verify(value.strip())
    if record is None:
        raise ApiError(401, "the API token is invalid or revoked")
    return Caller(record.name, record.tenant, record.read_only)


def authorize(request: Request, caller: Caller, tenant: str) -> None:
    # Another tenant's resources do not exist for this caller: 404, so a token cannot
    # even learn which tenants (or execution ids) exist elsewhere.
    if not caller.may_see(tenant):
        raise ApiError(404, f"tenant {tenant} not found")
    if caller.read_only and request.method not in _READS:
        raise ApiError(403, f"token {caller.name!r} is read-only")
