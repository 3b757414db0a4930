"""What a worker adds around every job, kept out of streams/app/worker.py: secrets (read
here, at the process edge), masking, deferred lookups, storage, the KV view, the
working-directory root (and the folder of a task whose properties name it: `{{ workingDir
}}`), and the outcome as it may go into an event.

Every log line, output and error a worker emits is masked (`******`), and its outputs are
defanged so data cannot smuggle a deferred marker into a later task.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from schemas.states import State
from schemas.storage import namespace_prefix
from schemas.worker import WorkerJob
from streams.core.context import defang
from streams.core.expressions import RenderLimits
from streams.core.expressions.engine import DEFAULT_LIMITS
from streams.deferred_lookups import (
    MAX_READ_BYTES,
    TaskFolder,
    has_deferred,
    make_resolver,
    resolve_deferred,
)
from streams.plugins.base import Outcome
from streams.plugins.kv.store import LiveKvStore
from streams.plugins.kv.view import LiveKvView
from streams.plugins.namespace.paths import normalise
from streams.plugins.namespace.store import LiveNamespaceFiles
from streams.plugins.namespace.view import LiveNamespaceFilesView
from streams.secrets.environment import load_secrets, without_secrets
from streams.secrets.masking import Masker
from streams.secrets.stored import LiveSecretView, SecretCipher, namespace_secrets
from streams.storage import spill_outputs, storage_from_env, task_prefix

log = logging.getLogger("lanner.secrets")

# A task run's error goes into an event; a runaway message must not make it too big.
_MAX_ERROR_CHARS = 10_000


class WorkerEdges:
    """Secrets, masking, deferred lookups, storage, KV and the work root for one worker."""

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
        files_topic_name: str | None = None,
        files_topic: Any = None,
    ) -> None:
        self.render_limits = render_limits  # deferred renders: the executor's limits
        self.secrets = load_secrets(environ)
        self._env_masker = Masker(list(self.secrets.values()))
        self.child_env = without_secrets(environ)
        self.storage = storage_from_env(environ, data_dir)
        # Per tenant: two tenants' workers on one machine must not share working
        # directories or cached venvs (a task may write into its venv).
        self.work_root = Path(data_dir).resolve() / "work" / tenant
        # Stored namespace secrets (streams/secrets/stored.py), when this tenant has a key.
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
        # Per job: the folder made to resolve `{{ workingDir }}` before the task ran; the
        # task works in it (WorkerContext.prepared_dir), `forget` removes what is left.
        self._folders: dict[str, Path] = {}
        self._kv_topic = kv_topic
        self.kv_view = LiveKvView(bootstrap, kv_topic_name).start()
        # Namespace files (streams/plugins/namespace), when the worker is given their topic.
        self._files_topic = files_topic
        self.files_view = (
            LiveNamespaceFilesView(bootstrap, files_topic_name).start()
            if files_topic_name and files_topic is not None
            else None
        )

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
        """The job's attempt is over: its derived secrets need no masking any more, and
        the folder made for it goes (the task removes it itself when it ran)."""
        self._derived.pop(job.job_id, None)
        folder = self._folders.pop(job.job_id, None)
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)

    def _make_folder(self, job: WorkerJob) -> Path:
        root = self.work_root / "runs"
        root.mkdir(parents=True, exist_ok=True)
        prefix = f"{job.task_run_id[:40]}-{job.attempt}-"
        folder = self._folders[job.job_id] = Path(tempfile.mkdtemp(prefix=prefix, dir=root))
        return folder

    async def _send_kv(self, key: str, value: bytes) -> None:
        # Awaiting delivery: a KV Set is done only once its event is in the log.
        pending = await self._kv_topic.send(key=key.encode(), value=value)
        await pending

    def _kv_store(self, job: WorkerJob, now: Callable[[], dt.datetime]) -> LiveKvStore:
        return LiveKvStore(
            self.kv_view, self._send_kv, job.tenant, now, job.execution_id, job.task_run_id
        )

    async def _send_file_event(self, key: str, value: bytes) -> None:
        # Awaiting delivery: an upload is done only once its event is in the log.
        pending = await self._files_topic.send(key=key.encode(), value=value)
        await pending

    def _namespace_files(
        self, job: WorkerJob, now: Callable[[], dt.datetime]
    ) -> LiveNamespaceFiles | None:
        if self.files_view is None:
            return None
        return LiveNamespaceFiles(
            self.files_view,
            self.storage,
            self._send_file_event,
            job.tenant,
            now,
            job.execution_id,
            job.task_run_id,
        )

    def context_fields(self, job: WorkerJob, now: Callable[[], dt.datetime]) -> dict[str, Any]:
        """Extra WorkerContext fields for this job."""
        return {
            "tenant": job.tenant,
            "task_id": job.task_id,
            "storage": self.storage,
            "work_root": self.work_root,
            "kv": self._kv_store(job, now),
            "namespace_files": self._namespace_files(job, now),
            "env": self.child_env,
            "prepared_dir": self._folders.get(job.job_id),
        }

    async def resolve(
        self, job: WorkerJob, now: Callable[[], dt.datetime], folder: Path | None = None
    ) -> dict[str, Any]:
        """The job's task properties with deferred markers resolved (DeferredError if not).
        `{{ workingDir }}` is `folder` when given (a WorkingDirectory's), else a folder made
        now for the job, which its task then works in."""
        properties = job.task
        if not has_deferred(properties):
            return properties
        if has_deferred(properties, "kv"):
            await self._kv_store(job, now).catch_up()
        files = self._namespace_files(job, now)
        if files is not None and has_deferred(properties, "read"):
            await files.catch_up()  # a file uploaded just before the run
        if self.stored is not None and has_deferred(properties, "secret"):
            # A secret set just before the run is on the topic, maybe not folded yet.
            await asyncio.to_thread(self.stored.catch_up, 5.0)

        def read(uri: str) -> bytes:
            return self.storage.get_bytes(uri, MAX_READ_BYTES)

        def read_namespace_file(path: str) -> bytes:
            if self.files_view is None:
                raise FileNotFoundError("this worker has no namespace files")
            found = self.files_view.get(job.tenant, job.namespace, normalise(path))
            if found is None:
                raise FileNotFoundError(
                    f"namespace file {normalise(path)} not found in namespace {job.namespace}"
                )
            return self.storage.get_bytes(found.written.uri, MAX_READ_BYTES)

        def kv_value(key: str) -> tuple[bool, Any]:
            found = self.kv_view.get(job.tenant, job.namespace, key, now())
            return (False, None) if found is None else (True, found.value)

        declared = properties.get("outputFiles")
        task_folder = TaskFolder(
            (lambda: folder) if folder is not None else (lambda: self._make_folder(job)),
            job.task_id,
            [str(n) for n in declared] if isinstance(declared, list) else [],
        )
        derived: list[str] = []
        resolver = make_resolver(
            self.job_secrets(job.namespace),
            read,
            kv_value,
            namespace_prefix(job.tenant, job.namespace),
            derived,
            self.render_limits,
            read_namespace_file,
            task_folder,
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
        # A metric's name and tags are text a script chose: masked as its log lines are.
        metrics = tuple(
            m.model_copy(
                update={
                    "name": self.mask(m.name, job),
                    "tags": {k: self.mask(v, job) for k, v in m.tags.items()},
                }
            )
            for m in outcome.metrics
        )
        return dataclasses.replace(outcome, outputs=outputs, error=error, metrics=metrics)
