"""The pieces of a first day that need no server: log formats, the local key, ports, the
S3 extra, librdkafka's logging configuration."""

from __future__ import annotations

import io
import json
import logging
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.cli.embedded import EmbeddedError
from api.cli.local_mode import (
    LocalKeyError,
    local_ports,
    local_secret_key,
    prepare_local_env,
)
from api.logs import configure_logging, log_format
from streams.log.client_logging import LIBRDKAFKA_LOGGER, admin_config, kafka_logging
from streams.storage.config import StorageExtraMissing, check_storage_extra, storage_from_env


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    stream = io.StringIO()
    yield stream
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_logs_are_one_object_a_line_with_ids_and_tenant(captured: io.StringIO) -> None:
    configure_logging("INFO", "WARNING", "json", tenant="acme", stream=captured)
    logging.getLogger("lanner.executor").warning(
        "worker lost; the task runs again",
        extra={"execution_id": "e1", "task_run_id": "t1", "attempt": 2},
    )
    logging.getLogger("uvicorn.error").info("Started", extra={"color_message": "\x1b[36mx"})
    lines = captured.getvalue().splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert first["execution_id"] == "e1" and first["task_run_id"] == "t1"
    assert first["tenant"] == "acme" and first["level"] == "WARNING"
    assert "color_message" not in json.loads(lines[1])
    assert "\x1b" not in captured.getvalue()


def test_text_logs_carry_no_colour_codes_off_a_terminal(captured: io.StringIO) -> None:
    configure_logging("INFO", "WARNING", "text", tenant="main", stream=captured)
    logging.getLogger("lanner.worker").error("task raised", extra={"execution_id": "e9"})
    text = captured.getvalue()
    assert "ERROR" in text and "task raised" in text and "execution_id=e9" in text
    assert "\x1b[" not in text


def test_busy_machine_noise_is_demoted_and_real_warnings_stay(captured: io.StringIO) -> None:
    configure_logging("INFO", "WARNING", "text", stream=captured)
    logging.getLogger("faust.transport.drivers.aiokafka").error(
        "Thread keepalive is not responding..."
    )
    logging.getLogger("aiokafka.consumer.group_coordinator").warning(
        "Heartbeat failed for group %s because it is rebalancing", "g"
    )
    logging.getLogger("aiokafka.consumer.group_coordinator").error(
        "Heartbeat session expired - marking coordinator dead"
    )
    text = captured.getvalue()
    assert "keepalive" not in text and "rebalancing" not in text
    assert "Heartbeat session expired" in text


def test_an_unknown_log_format_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="LANNER_LOG_FORMAT"):
        log_format("xml")
    assert log_format(None) == "text" and log_format("JSON") == "json"


def test_every_kafka_client_logs_through_python_at_warning() -> None:
    assert kafka_logging() == {"logger": LIBRDKAFKA_LOGGER, "log_level": 4}
    assert admin_config("127.0.0.1:1")["bootstrap.servers"] == "127.0.0.1:1"
    from confluent_kafka.admin import AdminClient

    # librdkafka accepts the configuration (a typo in a key would raise here).
    AdminClient(admin_config("127.0.0.1:1"))


def test_the_local_key_is_made_once_with_mode_0600_and_kept(tmp_path: Path) -> None:
    first = local_secret_key(tmp_path / "data")
    path = tmp_path / "data" / "secret.key"
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(first) >= 40
    assert local_secret_key(tmp_path / "data") == first
    env: dict[str, str] = {}
    prepare_local_env(env, tmp_path / "data")
    assert env["LANNER_SECRET_KEY"] == first
    given = {"LANNER_SECRET_KEY": "mine"}
    prepare_local_env(given, tmp_path / "data")
    assert given["LANNER_SECRET_KEY"] == "mine"
    path.chmod(0o644)
    with pytest.raises(LocalKeyError, match="chmod 600"):
        local_secret_key(tmp_path / "data")


def test_taken_ports_are_named_with_their_setting() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        with pytest.raises(
            EmbeddedError,
            match=f"port {taken} for the embedded Elasticsearch.*LANNER_LOCAL_ELASTICSEARCH_PORT",
        ):
            local_ports({"LANNER_API_PORT": "1"}, None, taken)
        with pytest.raises(EmbeddedError, match=f"port {taken} for the API.*LANNER_API_PORT"):
            local_ports({"LANNER_API_PORT": str(taken)}, 1, 1)
    assert local_ports(
        {
            "LANNER_KAFKA_BOOTSTRAP": "127.0.0.1:1",
            "LANNER_ELASTICSEARCH_URL": "http://127.0.0.1:2",
            "LANNER_API_PORT": "3",
        },
        None,
        None,
    ) == (1, 2)


def test_s3_storage_without_its_extra_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)
    monkeypatch.delitem(sys.modules, "streams.storage.s3", raising=False)
    env = {"LANNER_STORAGE_S3_BUCKET": "b"}
    with pytest.raises(StorageExtraMissing, match=r"pip install 'lanner\[s3\]'"):
        check_storage_extra(env)
    with pytest.raises(StorageExtraMissing):
        storage_from_env(env, str(tmp_path))
    check_storage_extra({})  # the local folder needs nothing


def test_the_api_refuses_a_taken_port_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from api.web.serve import PortTaken, check_port_free

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        with pytest.raises(PortTaken):
            check_port_free("127.0.0.1", taken)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"port {taken}" in err and "LANNER_API_PORT" in err
