"""A real one-node Elasticsearch 8 on loopback, from the integ-test zip on Maven Central."""

from __future__ import annotations

import json
import logging
import os
import pwd
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from tests.harness.common import (
    HarnessError,
    ManagedService,
    cache_dir,
    file_lock,
    free_ports,
    log_tail,
    pid_alive,
    run_checked,
    terminate_pid,
    wait_until,
)

log = logging.getLogger("tests.harness.elasticsearch")

ES_VERSION = "8.19.21"
_GROUP = "org.elasticsearch.distribution.integ-test-zip"
ES_USER = "lanner-es"
_JAVA17 = Path("/usr/lib/jvm/java-17-openjdk-amd64")


def _m2_zip() -> Path:
    group_path = _GROUP.replace(".", "/")
    return (
        Path.home()
        / ".m2"
        / "repository"
        / group_path
        / "elasticsearch"
        / ES_VERSION
        / f"elasticsearch-{ES_VERSION}.zip"
    )


def fetch_es_distribution(cache: Path | None = None) -> Path:
    """Return the unpacked distribution in the cache, fetching and unzipping when missing."""
    root = (cache or cache_dir()) / "elasticsearch"
    home = root / f"elasticsearch-{ES_VERSION}"
    if (home / "bin" / "elasticsearch").is_file():
        return home
    with file_lock(root / ".lock"):
        if (home / "bin" / "elasticsearch").is_file():
            return home
        archive = _m2_zip()
        if not archive.is_file():
            run_checked(
                [
                    "mvn",
                    "-q",
                    "-B",
                    "dependency:get",
                    f"-Dartifact={_GROUP}:elasticsearch:{ES_VERSION}:zip",
                    "-Dtransitive=false",
                ],
                what="maven fetch of the Elasticsearch zip",
                timeout_s=900,
            )
        if not archive.is_file():
            raise HarnessError(f"maven ran but {archive} is missing (custom local repo?)")
        staging = Path(tempfile.mkdtemp(prefix="unpack-", dir=root))
        _unzip_with_modes(archive, staging)
        unpacked = staging / f"elasticsearch-{ES_VERSION}"
        if not (unpacked / "bin" / "elasticsearch").is_file():
            raise HarnessError(f"{archive} did not hold elasticsearch-{ES_VERSION}/bin")
        unpacked.rename(home)  # atomic: a reader sees a whole distribution or none
        shutil.rmtree(staging, ignore_errors=True)
        log.info("elasticsearch unpacked", extra={"home": str(home)})
    return home


def _unzip_with_modes(archive: Path, target: Path) -> None:
    # zipfile drops Unix modes; the launch scripts and the JDK-less launcher need +x.
    with zipfile.ZipFile(archive) as zipped:
        for info in zipped.infolist():
            path = Path(zipped.extract(info, target))
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                path.chmod(mode)


def java_home() -> Path:
    """Java 17 where Debian puts it, else $JAVA_HOME: what this ES build was checked on."""
    if (_JAVA17 / "bin" / "java").is_file():
        return _JAVA17
    configured = os.environ.get("JAVA_HOME", "")
    if configured and (Path(configured) / "bin" / "java").is_file():
        return Path(configured)
    raise HarnessError(f"no Java found: neither {_JAVA17} nor $JAVA_HOME has bin/java")


def ensure_user() -> pwd.struct_passwd:
    """ES refuses to run as root, and CI runs as root: create an unprivileged user once."""
    try:
        return pwd.getpwnam(ES_USER)
    except KeyError:
        pass
    if os.geteuid() != 0:
        raise HarnessError(f"user {ES_USER} is missing and only root can create it")
    run_checked(
        ["useradd", "-M", "-r", "-s", "/usr/sbin/nologin", ES_USER],
        what=f"useradd {ES_USER}",
        timeout_s=30,
    )
    return pwd.getpwnam(ES_USER)


def _link_tree(source: Path, target: Path) -> None:
    # Hard links make the per-session copy nearly free; copying is the fallback across
    # file systems. Only the folders ES writes to are owned by its user, not these files.
    def link_or_copy(src: str, dst: str) -> object:
        try:
            os.link(src, dst)
            return dst
        except OSError:
            return shutil.copy2(src, dst)

    shutil.copytree(source, target, copy_function=link_or_copy, symlinks=True)


class ElasticsearchNode(ManagedService):
    """One single-node cluster on 127.0.0.1 with security off; `url` is its HTTP address."""

    def __init__(
        self, *, cache: Path | None = None, startup_timeout_s: float = 240.0, heap: str = "512m"
    ) -> None:
        self._cache = cache
        self._startup_timeout_s = startup_timeout_s
        self._heap = heap
        self.http_port, self.transport_port = free_ports(2)
        self.url = f"http://127.0.0.1:{self.http_port}"
        self._workdir: Path | None = None
        self._pid: int | None = None
        self.start_seconds: float | None = None

    @property
    def log_file(self) -> Path | None:
        return None if self._workdir is None else self._workdir / "logs" / "lanner-test.log"

    def start(self) -> None:
        if self._pid is not None and pid_alive(self._pid):
            return
        dist = fetch_es_distribution(self._cache)
        user = ensure_user()
        started = time.monotonic()
        if self._workdir is None:
            self._workdir = self._prepare(dist, user)
        work = self._workdir
        pid_file = work / "es.pid"
        pid_file.unlink(missing_ok=True)
        env = {
            "ES_JAVA_HOME": str(java_home()),
            "ES_JAVA_OPTS": f"-Xms{self._heap} -Xmx{self._heap}",
            "ES_PATH_CONF": str(work / "config"),
            "ES_TMPDIR": str(work / "tmp"),
            # The launcher's own JVM leaves scratch files in java.io.tmpdir: keep them ours.
            "CLI_JAVA_OPTS": f"-Djava.io.tmpdir={work / 'tmp'}",
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        }
        launcher_log = work / "launcher.log"
        with launcher_log.open("ab") as out:
            # `-d` returns once the node has started (or failed); `env` keeps our variables
            # through runuser, which would otherwise reset parts of the environment.
            cmd = [
                "runuser",
                "-u",
                ES_USER,
                "--",
                "env",
                *(f"{key}={value}" for key, value in env.items()),
                str(work / "home" / "bin" / "elasticsearch"),
                "-d",
                "-p",
                str(pid_file),
            ]
            try:
                done = subprocess.run(
                    cmd,
                    cwd=work,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    timeout=self._startup_timeout_s,
                    check=False,
                )
            except subprocess.TimeoutExpired as exc:
                self._adopt_pid(pid_file)
                self.stop()
                raise HarnessError(
                    f"elasticsearch launcher hung\n{log_tail(launcher_log)}"
                    f"\n{log_tail(self.log_file)}"
                ) from exc
        self._adopt_pid(pid_file)
        if done.returncode != 0 or self._pid is None:
            self.stop()
            raise HarnessError(
                f"elasticsearch failed to start (exit {done.returncode})\n"
                f"{log_tail(launcher_log)}\n{log_tail(self.log_file)}"
            )
        pid = self._pid
        try:
            wait_until(
                self._healthy,
                timeout_s=self._startup_timeout_s,
                what="elasticsearch",
                alive=lambda: pid_alive(pid),
                log_file=self.log_file,
            )
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - started
        log.info(
            "elasticsearch ready",
            extra={"url": self.url, "pid": pid, "seconds": round(self.start_seconds, 1)},
        )

    def _prepare(self, dist: Path, user: pwd.struct_passwd) -> Path:
        work = Path(tempfile.mkdtemp(prefix="lanner-es-"))
        _link_tree(dist, work / "home")
        shutil.copytree(dist / "config", work / "config")  # copied: ES writes its keystore
        (work / "config" / "elasticsearch.yml").write_text(self._config(work))
        for name in ("data", "logs", "tmp"):
            (work / name).mkdir()
        owned = [work] + [
            p
            for name in ("config", "data", "logs", "tmp")
            for p in (work / name, *(work / name).rglob("*"))
        ]
        for path in owned:
            os.chown(path, user.pw_uid, user.pw_gid)
        return work

    def _config(self, work: Path) -> str:
        settings = {
            "cluster.name": "lanner-test",
            "node.name": "lanner-test",
            "path.data": str(work / "data"),
            "path.logs": str(work / "logs"),
            "discovery.type": "single-node",
            "network.host": "127.0.0.1",
            "http.port": self.http_port,
            "transport.port": self.transport_port,
            "xpack.security.enabled": False,
            "cluster.routing.allocation.disk.threshold_enabled": False,
            # Tests clean up with wildcards (`prefix-*`), which ES refuses by default.
            "action.destructive_requires_name": False,
        }
        return "".join(f"{key}: {json.dumps(value)}\n" for key, value in settings.items())

    def _adopt_pid(self, pid_file: Path) -> None:
        try:
            self._pid = int(pid_file.read_text().strip())
        except (OSError, ValueError):
            self._pid = None

    def _healthy(self) -> bool:
        # This minimal build answers `GET /` with 405, so health is the readiness probe.
        try:
            with urllib.request.urlopen(f"{self.url}/_cluster/health", timeout=2) as resp:
                status = json.loads(resp.read()).get("status")
        except (OSError, urllib.error.URLError, ValueError):
            return False
        return status in ("green", "yellow")

    def stop(self) -> None:
        if self._pid is not None:
            terminate_pid(self._pid, what="elasticsearch", timeout_s=30)
            self._pid = None
