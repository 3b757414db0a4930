"""Secrets from the environment, masking, and the worker-side resolution of deferred lookups.

Secrets live where the workers are: `SECRET_<NAME>` environment variables holding the
base64 of the value, as Kestra's open-source edition reads them. The executor never sees
them: when it renders a worker task's properties, `secret('NAME')` (and `kv()`/`read()`,
whose data the executor does not hold either) renders to an opaque *deferred marker*
(see streams/core/context.py), and the worker replaces each marker by the real value just
before the task runs. So a secret is never in an event: the job carries the marker, and
every log line, output and error a worker emits is masked (`******`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import datetime as dt
import json
import logging
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from schemas.states import State
from schemas.storage import namespace_prefix
from schemas.worker import WorkerJob
from streams.core.context import DEFERRED_PATTERN, defang
from streams.core.deferred import RENDER_KIND, unpack_render
from streams.core.expressions import ExpressionError, RenderLimits, render
from streams.core.expressions.engine import DEFAULT_LIMITS
from streams.plugins.base import Outcome
from streams.plugins.kv.store import LiveKvStore
from streams.plugins.kv.view import LiveKvView
from streams.secret_store import LiveSecretView, SecretCipher, SecretFold
from streams.storage import spill_outputs, storage_from_env, task_prefix

log = logging.getLogger("lanner.secrets")

SECRET_PREFIX = "SECRET_"
MASK = "******"
# A secret shorter than this would mask ordinary text everywhere ("a", "1"...); such
# values are still usable, they are just not masked (Kestra has the same trade-off).
_MIN_MASKED = 3
# A task run's error goes into an event; a runaway message must not make it too big.
_MAX_ERROR_CHARS = 10_000


def load_secrets(environ: Mapping[str, str]) -> dict[str, str]:
    """`SECRET_<NAME>=<base64>` -> {NAME: value}; a value that is not base64 is skipped."""
    found: dict[str, str] = {}
    for key, encoded in environ.items():
        if not key.startswith(SECRET_PREFIX) or len(key) == len(SECRET_PREFIX):
            continue
        name = key[len(SECRET_PREFIX) :]
        try:
            found[name] = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            log.warning("secret is not valid base64 UTF-8; ignored", extra={"secret": name})
    return found


def without_secrets(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment minus the secret variables: what a child process may inherit."""
    return {k: v for k, v in environ.items() if not k.startswith(SECRET_PREFIX)}


class Masker:
    """Replaces every secret value (and its JSON-escaped form) by `******`."""

    def __init__(self, values: list[str]) -> None:
        forms: set[str] = set()
        for value in values:
            if len(value) < _MIN_MASKED:
                continue
            forms.add(value)
            forms.add(json.dumps(value)[1:-1])  # as it appears inside a JSON text
        # Longest first, so a secret containing another is masked whole.
        ordered = sorted(forms, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(f) for f in ordered)) if ordered else None

    def text(self, value: str) -> str:
        return value if self._pattern is None else self._pattern.sub(MASK, value)

    def value(self, value: Any) -> Any:
        """Mask every string inside a JSON-like value (keys too)."""
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.text(str(k)): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value


class DeferredError(Exception):
    """A deferred lookup could not be resolved (unknown secret, missing KV key...)."""


# (kind, argument) -> value; raises DeferredError.
Resolver = Callable[[str, Any], Any]


def resolve_deferred(value: Any, resolve: Resolver) -> Any:
    """Replace deferred markers inside `value` (dicts and lists are walked).

    A string that is exactly one marker takes the looked-up value as is (a KV value may be
    a dict); markers inside text are replaced by the value's text.
    """
    if isinstance(value, str):
        if "\x00" not in value:
            return value
        whole = DEFERRED_PATTERN.fullmatch(value)
        if whole is not None:
            return resolve(whole.group(1), json.loads(whole.group(2)))
        return DEFERRED_PATTERN.sub(
            lambda m: _as_text(resolve(m.group(1), json.loads(m.group(2)))), value
        )
    if isinstance(value, Mapping):
        return {k: resolve_deferred(v, resolve) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_deferred(v, resolve) for v in value]
    return value


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)


# --- the worker's resolver -------------------------------------------------------------

# read() returns text; a file bigger than this is refused rather than put in a property.
MAX_READ_BYTES = 10 * 1024 * 1024


class _Lookups(Mapping[str, Any]):
    """secret()/kv()/read() data for a deferred render, looked up on demand: a key is
    present when the resolver finds it (so `kv('k', errorOnMissing=false)` still works)."""

    def __init__(self, kind: str, resolve: Resolver) -> None:
        self._kind = kind
        self._resolve = resolve
        self._found: dict[str, Any] = {}

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        if key not in self._found:
            try:
                self._found[key] = self._resolve(self._kind, key)
            except DeferredError:
                if self._kind == "secret":
                    raise  # an unknown secret's message names where it was looked for
                return False
        return True

    def __getitem__(self, key: str) -> Any:
        if key not in self:
            raise KeyError(key)
        return self._found[key]

    def __iter__(self) -> Any:
        return iter(self._found)

    def __len__(self) -> int:
        return len(self._found)


def render_deferred(
    argument: Any,
    resolve: Resolver,
    limits: RenderLimits = DEFAULT_LIMITS,
    derived: list[str] | None = None,
) -> Any:
    """A template the executor deferred (streams/core/deferred.py), rendered with the real
    secrets, KV values and files, within the same render limits as the executor's;
    DeferredError if it fails. What a template made of a secret is added to `derived`."""
    try:
        template, variables, now = unpack_render(argument)
    except (ValueError, TypeError) as exc:
        raise DeferredError(f"malformed deferred render: {exc}") from None
    context = {
        **variables,
        "_secrets": _Lookups("secret", resolve),
        "_kv": _Lookups("kv", resolve),
        "_files": _Lookups("read", resolve),
    }
    try:
        value = render(template, context, now=now, limits=limits)
    except ExpressionError as exc:
        raise DeferredError(str(exc)) from None
    if derived is not None and "secret(" in template:
        derived.append(_as_text(value))
    return value


def make_resolver(
    secrets: Mapping[str, str],
    read_file: Callable[[str], bytes] | None,
    kv_value: Callable[[str], tuple[bool, Any]] | None,
    files_scope: str,
    derived: list[str] | None = None,
    render_limits: RenderLimits = DEFAULT_LIMITS,
) -> Resolver:
    """The lookups a worker can do for one job. `files_scope` is the `kestra://` prefix a
    task may read (its tenant and namespace), so a flow cannot read another one's files.
    A deferred render that used a secret adds its text to `derived`, to be masked too."""

    def resolve(kind: str, argument: Any) -> Any:
        name = str(argument)
        if kind == RENDER_KIND:
            return render_deferred(argument, resolve, render_limits, derived)
        if kind == "secret":
            if name not in secrets:
                raise DeferredError(
                    f"secret {name!r} is not defined (not in this namespace or its parents, "
                    f"nor as {SECRET_PREFIX}{name} on this worker)"
                )
            return secrets[name]
        if kind == "read":
            if read_file is None:
                raise DeferredError("read(): this worker has no storage")
            if not name.startswith(files_scope):
                raise DeferredError(f"read(): {name} is outside this flow's namespace")
            try:
                return read_file(name).decode("utf-8", errors="replace")
            except Exception as exc:  # missing file, too big, storage down
                raise DeferredError(f"read(): {exc}") from None
        if kind == "kv":
            if kv_value is None:
                raise DeferredError("kv(): this worker has no KV store")
            found, value = kv_value(name)
            if not found:
                raise DeferredError(f"KV key {name!r} is not defined")
            return value
        raise DeferredError(f"unknown deferred lookup {kind!r}")

    return resolve


def has_deferred(value: Any, kind: str | None = None) -> bool:
    """Whether `value` holds a marker of `kind` (any kind when None); a deferred render
    may call any lookup, so it counts as every kind."""
    if isinstance(value, str):
        return (
            any(
                kind is None or m.group(1) in (kind, RENDER_KIND)
                for m in DEFERRED_PATTERN.finditer(value)
            )
            if "\x00" in value
            else False
        )
    if isinstance(value, Mapping):
        return any(has_deferred(v, kind) for v in value.values())
    if isinstance(value, list):
        return any(has_deferred(v, kind) for v in value)
    return False


# --- the worker's edges ------------------------------------------------------------------


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


class WorkerEdges:
    """What a worker adds around every job for issue 6, kept out of streams/app/worker.py:
    secrets (read here, at the process edge), masking, deferred lookups, storage, the KV
    view, the working-directory root, and the outcome as it may go into an event."""

    def __init__(
        self,
        environ: Mapping[str, str],
        data_dir: str,
        bootstrap: str,
        kv_topic_name: str,
        kv_topic: Any,
        *,
        tenant: str = "main",
        secrets_topic: str | None = None,
        secret_key: str | None = None,
        render_limits: RenderLimits = DEFAULT_LIMITS,
    ) -> None:
        self.render_limits = render_limits  # deferred renders: the executor's limits
        self.secrets = load_secrets(environ)
        self._env_masker = Masker(list(self.secrets.values()))
        self.child_env = without_secrets(environ)
        self.storage = storage_from_env(environ, data_dir)
        # Per tenant: two tenants' workers on one machine must not share working
        # directories or cached venvs (a task may write into its venv).
        self.work_root = Path(data_dir).resolve() / "work" / tenant
        # Stored namespace secrets (streams/secret_store.py), when this tenant has a key.
        self._cipher = SecretCipher(secret_key, tenant) if secret_key else None
        self.stored = (
            LiveSecretView(bootstrap, secrets_topic).start()
            if secrets_topic and self._cipher
            else None
        )
        self._masker_of: tuple[int, Masker] = (-1, self._env_masker)
        # Per job: what its deferred renders made of secrets (`secret('X') | upper` is not
        # the secret's text, yet must be masked as well); dropped by `forget`.
        self._derived: dict[str, Masker] = {}
        self._kv_topic = kv_topic
        self.kv_view = LiveKvView(bootstrap, kv_topic_name).start()

    @property
    def masker(self) -> Masker:
        """Masks the environment's secrets and every stored secret of the tenant (all
        namespaces: masking too much is harmless), rebuilt when the stored ones change."""
        if self.stored is None or self._cipher is None:
            return self._env_masker
        version, masker = self._masker_of
        if version != self.stored.version:
            version = self.stored.version
            stored = [self._cipher.decrypt(e) for e in self.stored.everything()]
            masker = Masker([*self.secrets.values(), *(v for v in stored if v is not None)])
            self._masker_of = (version, masker)
        return masker

    def job_secrets(self, namespace: str) -> dict[str, str]:
        """What secret('NAME') means for a job of `namespace` (namespace_secrets)."""
        return namespace_secrets(namespace, self.secrets, self.stored, self._cipher)

    def mask(self, message: str, job: WorkerJob | None = None) -> str:
        derived = self._derived.get(job.job_id) if job is not None else None
        if derived is not None:
            message = derived.text(message)
        return self.masker.text(message)

    def _mask_value(self, job: WorkerJob, value: Any) -> Any:
        derived = self._derived.get(job.job_id)
        if derived is not None:
            value = derived.value(value)
        return self.masker.value(value)

    def forget(self, job: WorkerJob) -> None:
        """The job's attempt is over: its derived secrets need no masking any more."""
        self._derived.pop(job.job_id, None)

    async def _send_kv(self, key: str, value: bytes) -> None:
        # Awaiting delivery: a KV Set is done only once its event is in the log.
        pending = await self._kv_topic.send(key=key.encode(), value=value)
        await pending

    def _kv_store(self, job: WorkerJob, now: Callable[[], dt.datetime]) -> LiveKvStore:
        return LiveKvStore(
            self.kv_view, self._send_kv, job.tenant, now, job.execution_id, job.task_run_id
        )

    def context_fields(self, job: WorkerJob, now: Callable[[], dt.datetime]) -> dict[str, Any]:
        """Extra WorkerContext fields for this job."""
        return {
            "tenant": job.tenant,
            "task_id": job.task_id,
            "storage": self.storage,
            "work_root": self.work_root,
            "kv": self._kv_store(job, now),
            "env": self.child_env,
        }

    async def resolve(self, job: WorkerJob, now: Callable[[], dt.datetime]) -> dict[str, Any]:
        """The job's task properties with deferred markers resolved (DeferredError if not)."""
        properties = job.task
        if not has_deferred(properties):
            return properties
        if has_deferred(properties, "kv"):
            await self._kv_store(job, now).catch_up()
        if self.stored is not None and has_deferred(properties, "secret"):
            # A secret set just before the run is on the topic, maybe not folded yet.
            await asyncio.to_thread(self.stored.catch_up, 5.0)

        def read(uri: str) -> bytes:
            return self.storage.get_bytes(uri, MAX_READ_BYTES)

        def kv_value(key: str) -> tuple[bool, Any]:
            found = self.kv_view.get(job.tenant, job.namespace, key, now())
            return (False, None) if found is None else (True, found.value)

        derived: list[str] = []
        resolver = make_resolver(
            self.job_secrets(job.namespace),
            read,
            kv_value,
            namespace_prefix(job.tenant, job.namespace),
            derived,
            self.render_limits,
        )
        try:
            resolved = resolve_deferred(properties, resolver)
        finally:
            if derived:
                self._derived[job.job_id] = Masker(derived)
        assert isinstance(resolved, dict)
        return resolved

    async def publishable(self, job: WorkerJob, outcome: Outcome) -> Outcome:
        """Outputs and error as they may go into an event: secrets masked, deferred markers
        defanged (so data cannot smuggle one into a later task), big values spilled."""
        try:
            return await asyncio.to_thread(self._publishable, job, outcome)
        except Exception as exc:  # storage failing must still end the task run
            log.exception("could not publish outputs", extra={"task_run_id": job.task_run_id})
            error = self.mask(f"outputs could not be stored: {exc}", job)
            return Outcome(State.FAILED, error=error)

    def _publishable(self, job: WorkerJob, outcome: Outcome) -> Outcome:
        outputs = defang(self._mask_value(job, dict(outcome.outputs)))
        prefix = task_prefix(
            job.tenant,
            job.namespace,
            job.flow_id,
            job.execution_id,
            job.task_id,
            job.task_run_id,
            job.attempt,
        )
        outputs, spilled = spill_outputs(outputs, self.storage, prefix)
        if spilled:
            log.info(
                "outputs spilled to storage",
                extra={"task_run_id": job.task_run_id, "outputs": spilled},
            )
        error = self.mask(outcome.error, job)[:_MAX_ERROR_CHARS] if outcome.error else None
        return dataclasses.replace(outcome, outputs=outputs, error=error)
