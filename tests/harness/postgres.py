"""A real PostgreSQL server for the SQL plugins' tests: Debian's package, initdb + postgres on a
loopback port in a temp folder.

PostgreSQL refuses to run as root, so as root (CI containers) the server runs as the
`postgres` user the Debian package creates, through `runuser`; as anyone else it runs as
that user. When the binaries are missing and we are root, `apt-get install postgresql`
fetches them (a clean Debian CI machine); otherwise the fixture skips, loudly.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from tests.harness.common import (
    HarnessError,
    ManagedService,
    cache_dir,
    file_lock,
    free_ports,
    port_open,
    run_checked,
    stop_process,
    wait_until,
)

log = logging.getLogger("tests.harness.postgres")

PG_ROOT = Path("/usr/lib/postgresql")
SERVICE_USER = "postgres"


def _installed_bin() -> Path | None:
    if not PG_ROOT.is_dir():
        return None
    versions = sorted(
        (p for p in PG_ROOT.iterdir() if (p / "bin" / "postgres").exists()),
        key=lambda p: int(p.name) if p.name.isdigit() else 0,
    )
    return versions[-1] / "bin" if versions else None


def postgres_bin() -> Path:
    """The newest installed server's bin folder, installing Debian's package if we may."""
    found = _installed_bin()
    if found is not None:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise HarnessError(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/postgres) and this "
            "user cannot apt-get install it"
        )
    with file_lock(cache_dir() / "postgres-install.lock"):
        if _installed_bin() is None:
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "postgresql"]):
                done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
                if done.returncode != 0:
                    raise HarnessError(f"{cmd} failed:\n{(done.stdout + done.stderr)[-3000:]}")
    found = _installed_bin()
    if found is None:
        raise HarnessError("apt-get install postgresql left no server binaries")
    return found


class PostgresServer(ManagedService):
    """One PostgreSQL cluster on a free loopback port, password auth over TCP."""

    def __init__(self, *, startup_timeout_s: float = 60.0) -> None:
        self._startup_timeout_s = startup_timeout_s
        (self.port,) = free_ports(1)
        self.user = "lanner"
        self.password = "lanner-pg-secret"
        self.database = "postgres"
        self.host = "127.0.0.1"
        self._workdir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def jdbc_url(self) -> str:
        return f"jdbc:postgresql://{self.host}:{self.port}/{self.database}"

    @property
    def log_file(self) -> Path | None:
        return None if self._workdir is None else self._workdir / "postgres.log"

    def _as_service_user(self, cmd: list[str]) -> list[str]:
        return ["runuser", "-u", SERVICE_USER, "--", *cmd] if os.geteuid() == 0 else cmd

    def _own(self, path: Path) -> None:
        if os.geteuid() == 0:
            shutil.chown(path, user=SERVICE_USER)

    def start(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            return
        binaries = postgres_bin()
        started = time.monotonic()
        data = None
        if self._workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix="lanner-pg-"))
            self._own(self._workdir)
            data = self._workdir / "data"
            pwfile = self._workdir / "pwfile"
            pwfile.write_text(self.password + "\n")
            self._own(pwfile)
            run_checked(
                self._as_service_user(
                    [
                        str(binaries / "initdb"),
                        "-D",
                        str(data),
                        "-U",
                        self.user,
                        "--pwfile",
                        str(pwfile),
                        "--auth-host=scram-sha-256",
                        "--auth-local=scram-sha-256",
                        "-E",
                        "UTF8",
                        "--locale=C",
                    ]
                ),
                what="initdb",
                timeout_s=120,
            )
        data = self._workdir / "data"
        assert self.log_file is not None
        cmd = self._as_service_user(
            [
                str(binaries / "postgres"),
                "-D",
                str(data),
                "-p",
                str(self.port),
                "-k",
                str(self._workdir),
                "-c",
                f"listen_addresses={self.host}",
                # A test server: durability is not what is tested here.
                "-c",
                "fsync=off",
                "-c",
                "full_page_writes=off",
            ]
        )
        with self.log_file.open("ab") as out:
            self._proc = subprocess.Popen(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        proc = self._proc
        try:
            wait_until(
                self._ready,
                timeout_s=self._startup_timeout_s,
                what="postgres",
                alive=lambda: proc.poll() is None,
                log_file=self.log_file,
            )
        except BaseException:
            self.stop()
            raise
        log.info(
            "postgres ready",
            extra={"port": self.port, "pid": proc.pid, "seconds": time.monotonic() - started},
        )

    def _ready(self) -> bool:
        if not port_open(self.port):
            return False
        import psycopg

        try:
            with psycopg.connect(self.dsn(), connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def dsn(self) -> str:
        return (
            f"host={self.host} port={self.port} dbname={self.database} "
            f"user={self.user} password={self.password}"
        )

    def stop(self) -> None:
        if self._proc is None:
            return
        proc = self._proc
        if proc.poll() is None:
            # SIGINT is postgres's "fast" shutdown (SIGTERM waits for clients to leave); sent
            # to the session we started, so it reaches postgres under runuser too.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=30)
        stop_process(proc, what="postgres", timeout_s=10)
        self._proc = None
