"""`lanner server ...`: run Lanner's processes, alone or as a tree."""

from __future__ import annotations

import logging
import os
import time
from importlib.util import find_spec
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from api.cli.data_lock import DataFolderInUse, DataFolderLock
from schemas.settings import LannerSettings, auth_default
from streams.log.admin import ensure_lanner_topics

app = typer.Typer(no_args_is_help=True)
console = Console(stderr=True)

ALL_ROLES = ("executor", "worker", "scheduler", "indexer", "webserver")


def _settings() -> LannerSettings:
    from streams.storage.config import StorageExtraMissing, check_storage_extra

    try:
        check_storage_extra(os.environ)
        settings = LannerSettings.from_env()
        if settings.executor_store == "rocksdb://" and find_spec("rocksdict") is None:
            raise ValueError(
                "LANNER_EXECUTOR_STORE=rocksdb:// needs the rocksdb extra: "
                "pip install 'lanner[rocksdb]'"
            )
        return settings
    except (ValueError, StorageExtraMissing) as exc:
        console.print(f"[red]invalid settings:[/red] {exc}")
        raise typer.Exit(2) from None


def _setup_logging() -> None:
    from api.logs import configure_from_env

    try:
        configure_from_env(os.environ)
    except ValueError as exc:
        console.print(f"[red]invalid settings:[/red] {exc}")
        raise typer.Exit(2) from None


def _role_settings() -> LannerSettings:
    """Logging, settings, and how the role's process ends (api/cli/lifeline.py): a stop
    request is honoured within LANNER_STOP_DEADLINE_S, and a supervised role stops when
    its supervisor is gone."""
    from api.cli.lifeline import ORPHAN_GRACE_S, install_stop_deadline, watch_parent

    _setup_logging()
    settings = _settings()
    install_stop_deadline(settings.stop_deadline_s)
    watch_parent(min(ORPHAN_GRACE_S, settings.stop_deadline_s))
    return settings


@app.command()
def executor() -> None:
    """The executor: decides what runs next, single writer of execution-events."""
    settings = _role_settings()
    from streams.app.run import run_roles

    run_roles(settings, {"executor"})


@app.command()
def worker() -> None:
    """A worker: runs tasks (LANNER_WORKER_THREADS at once)."""
    settings = _role_settings()
    from streams.app.run import run_roles

    run_roles(settings, {"worker"})


@app.command()
def scheduler() -> None:
    """The scheduler: fires schedule triggers (LANNER_SCHEDULER_ENABLED=false turns it off)."""
    settings = _role_settings()
    from streams.scheduler import run_scheduler

    run_scheduler(settings)


@app.command()
def indexer() -> None:
    """The indexer: folds the log into Elasticsearch views."""
    settings = _role_settings()
    from projections.indexer import run_indexer

    run_indexer(settings)


@app.command()
def webserver() -> None:
    """The REST API and web UI."""
    settings = _role_settings()
    from api.web.serve import serve

    serve(settings)


def _lock_data_folder(folder: Path) -> DataFolderLock:
    """The data folder is this tree's alone while any of its processes lives; a second
    start on it is refused in one line naming the folder and the pid that holds it."""
    try:
        return DataFolderLock(folder).acquire()
    except DataFolderInUse as exc:
        typer.echo(f"lanner: {exc}", err=True)
        raise typer.Exit(1) from None


def _run_tree(
    settings: LannerSettings,
    env: dict[str, str],
    flows_dir: Path | None,
    lock: DataFolderLock,
    other_pids: tuple[int, ...] = (),
) -> int:
    from api.cli.supervisor import Supervisor

    ensure_lanner_topics(settings)
    supervisor = Supervisor(env, console, lock, other_pids)
    for role in ALL_ROLES:
        supervisor.spawn(role)
    if flows_dir is not None and flows_dir.is_dir():
        from api.cli.deploy import deploy_directory_when_ready

        deploy_directory_when_ready(settings, flows_dir, console)
    url = f"http://{settings.api_host}:{settings.api_port}"
    console.print(f"[green]Lanner is up:[/green] API and UI on {url} (Ctrl-C stops)")
    return supervisor.watch()


@app.command()
def standalone(
    flows: Annotated[
        Path | None, typer.Option(help="Deploy the flows of this folder at start.")
    ] = None,
) -> None:
    """Every role in one process tree, against the configured Kafka and Elasticsearch."""
    settings = _settings()
    lock = _lock_data_folder(Path(settings.data_dir))
    try:
        code = _run_tree(settings, dict(os.environ), flows, lock)
    finally:
        lock.release()
    raise typer.Exit(code)


@app.command()
def local(
    flows: Annotated[Path, typer.Option(help="Deploy the flows of this folder at start.")] = Path(
        "flows"
    ),
    data_dir: Annotated[
        Path, typer.Option(help="Where the embedded server keeps its data.")
    ] = Path(".lanner"),
    kafka_port: Annotated[
        int | None,
        typer.Option(
            envvar="LANNER_LOCAL_KAFKA_PORT",
            show_default=False,
            help="Port of the embedded Kafka (default: 9092, or LANNER_KAFKA_BOOTSTRAP's).",
        ),
    ] = None,
    elasticsearch_port: Annotated[
        int | None,
        typer.Option(
            envvar="LANNER_LOCAL_ELASTICSEARCH_PORT",
            show_default=False,
            help="Port of the embedded Elasticsearch (default: 9200, or "
            "LANNER_ELASTICSEARCH_URL's).",
        ),
    ] = None,
) -> None:
    """One command, no Docker, no Java: embedded Kafka/Elasticsearch (noida-db) plus every role."""
    from api.cli.embedded import EmbeddedError, EmbeddedServer
    from api.cli.local_mode import local_ports, prepare_local_env

    logging.basicConfig(level=logging.WARNING)
    env = dict(os.environ)
    # The lock first: a second start on a folder in use is told so, not that its ports
    # are taken (they are, by the first tree).
    lock = _lock_data_folder(data_dir)
    assert lock.fd is not None
    try:
        kafka_port, es_port = local_ports(env, kafka_port, elasticsearch_port)
        prepare_local_env(env, data_dir)
    except EmbeddedError as exc:
        lock.release()
        console.print(f"[red]{exc}[/red]", soft_wrap=True)
        raise typer.Exit(1) from None
    server = EmbeddedServer(data_dir / "noida", kafka_port, es_port, keep_fds=(lock.fd,))
    console.print(f"starting the embedded back end (noida-db) in {data_dir}/noida ...")
    started = time.monotonic()
    try:
        server.start()
    except EmbeddedError as exc:
        lock.release()
        console.print(f"[red]{exc}[/red]", soft_wrap=True)
        raise typer.Exit(1) from None
    console.print(
        f"embedded back end ready in {time.monotonic() - started:.1f} s: Kafka on "
        f"{server.bootstrap}, Elasticsearch on {server.url}"
    )
    env.update(
        {
            "LANNER_KAFKA_BOOTSTRAP": server.bootstrap,
            "LANNER_ELASTICSEARCH_URL": server.url,
            "LANNER_DATA_DIR": str(data_dir),
            "LANNER_PARTITIONS": env.get("LANNER_PARTITIONS", "1"),
        }
    )
    # settings.auth_default: off in local mode unless LANNER_AUTH says otherwise.
    env.setdefault("LANNER_AUTH", "on" if auth_default("local") else "off")
    try:
        settings = LannerSettings.from_env(env)
    except ValueError as exc:
        server.stop()
        lock.release()
        console.print(f"[red]invalid settings:[/red] {exc}")
        raise typer.Exit(2) from None
    if not settings.auth:
        console.print(
            "authentication is off in local mode (LANNER_AUTH=off): do not expose this port"
        )
    try:
        noida = (server.proc.pid,) if server.proc is not None else ()
        code = _run_tree(settings, env, flows, lock, noida)
    finally:
        server.stop()
        lock.release()
    raise typer.Exit(code)
