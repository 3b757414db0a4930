"""/api/v1/{tenant}/namespaces/{ns}/secrets: set, list (names only) and delete secrets.

Values go onto the tenant's `secrets` topic encrypted (streams/secrets/stored.py); no route
ever returns one.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Response

from api.web.errors import ApiError, not_found
from api.web.models import ANSWER
from api.web.models_namespaces import SecretName
from api.web.services import Services, services
from streams.secrets.stored import NAMESPACE, SECRET_NAME, SecretCipher, SecretDeleted, SecretSet

router = APIRouter(prefix="/namespaces", tags=["secrets"])
Svc = Annotated[Services, Depends(services)]


def _checked(namespace: str, name: str | None = None) -> None:
    if not NAMESPACE.match(namespace):
        raise ApiError(422, f"{namespace!r} is not a namespace")
    if name is not None and not SECRET_NAME.match(name):
        raise ApiError(
            422,
            f"secret name {name!r}: use letters, digits and '_', not "
            "starting with a digit (it is used as secret('NAME'))",
        )


def _write(svc: Services, event: SecretSet | SecretDeleted) -> None:
    partition, offset = svc.producer.send_and_wait(
        svc.topics.secrets, event.record_key, event.model_dump_json().encode()
    )
    # Read your writes: the list (and this API's view) shows it before we answer.
    svc.secrets.wait_for_record(partition, offset, svc.settings.read_your_writes_timeout_s)


@router.put(
    "/{namespace}/secrets/{name}",
    status_code=204,
    response_class=Response,
    responses={204: {"description": "Set, encrypted (its value is never returned)"}},
)
def set_secret(
    namespace: str, name: str, svc: Svc, value: Annotated[str, Body(embed=True)]
) -> Response:
    _checked(namespace, name)
    key = svc.settings.secret_key
    if key is None:
        raise ApiError(503, "this server has no LANNER_SECRET_KEY: it cannot store secrets")
    cipher = SecretCipher(key.get_secret_value(), svc.settings.tenant_id)
    _write(
        svc,
        SecretSet(
            tenant=svc.settings.tenant_id,
            namespace=namespace,
            name=name,
            time=dt.datetime.now(dt.UTC),
            actor=svc.actor,
            ciphertext=cipher.encrypt(namespace, name, value),
        ),
    )
    return Response(status_code=204)


@router.get("/{namespace}/secrets", response_model=list[SecretName], **ANSWER)
def list_secrets(namespace: str, svc: Svc) -> list[dict[str, Any]]:
    _checked(namespace)
    return [
        {"name": e.name, "namespace": e.namespace, "updated": e.time.isoformat(), "actor": e.actor}
        for e in svc.secrets.names(namespace)
    ]


@router.delete(
    "/{namespace}/secrets/{name}",
    status_code=204,
    response_class=Response,
    responses={204: {"description": "Deleted"}},
)
def delete_secret(namespace: str, name: str, svc: Svc) -> Response:
    _checked(namespace, name)
    if svc.secrets.get(namespace, name) is None:
        raise not_found(f"secret {name} of namespace {namespace}")
    _write(
        svc,
        SecretDeleted(
            tenant=svc.settings.tenant_id,
            namespace=namespace,
            name=name,
            time=dt.datetime.now(dt.UTC),
            actor=svc.actor,
        ),
    )
    return Response(status_code=204)
