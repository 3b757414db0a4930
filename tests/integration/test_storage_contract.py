"""One contract for the storage port, held by the local folder and by an S3-compatible
store (moto's S3 server on loopback stands in for AWS, MinIO, Ceph ...)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from schemas.storage import Storage, StorageError
from streams.storage.config import storage_from_env
from streams.storage.local import LocalStorage
from streams.storage.s3 import S3Storage
from tests.harness.common import free_ports

URI = "kestra://main/company/team/flow/executions/e1/tasks/t/r1/1/out.csv"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    (port,) = free_ports(1)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def _s3(endpoint: str, bucket: str) -> S3Storage:
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    client.create_bucket(Bucket=bucket)
    return S3Storage(bucket, prefix="lanner", client=client)


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return LocalStorage(tmp_path / "storage")
    endpoint: str = request.getfixturevalue("s3_endpoint")
    return _s3(endpoint, f"bucket-{tmp_path.name.lower().replace('_', '-')[:40]}")


def test_bytes_round_trip_and_overwrite(storage: Storage) -> None:
    assert storage.put_bytes(URI, b"a,b\n1,2\n") == URI
    assert storage.get_bytes(URI) == b"a,b\n1,2\n"
    assert storage.exists(URI) and storage.size(URI) == 8
    storage.put_bytes(URI, b"again")  # a retried attempt overwrites its file
    assert storage.get_bytes(URI) == b"again"


def test_files_round_trip(storage: Storage, tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    source.write_bytes(bytes(range(256)) * 4096)
    storage.put_file(URI, source)
    target = tmp_path / "back.bin"
    storage.get_file(URI, target)
    assert target.read_bytes() == source.read_bytes()


def test_missing_too_big_and_malformed_are_clear_errors(storage: Storage) -> None:
    with pytest.raises(StorageError, match="does not exist"):
        storage.get_bytes(URI.replace("out.csv", "none.csv"))
    assert not storage.exists(URI.replace("out.csv", "none.csv"))
    storage.put_bytes(URI, b"x" * 100)
    with pytest.raises(StorageError, match="more than 10"):
        storage.get_bytes(URI, max_bytes=10)
    for bad in ("s3://elsewhere/x", "kestra://a/../b", "kestra://"):
        with pytest.raises(StorageError):
            storage.put_bytes(bad, b"x")


def test_the_bucket_is_chosen_by_configuration(s3_endpoint: str, tmp_path: Path) -> None:
    boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    ).create_bucket(Bucket="configured")
    environ = {
        "LANNER_STORAGE_S3_BUCKET": "configured",
        "LANNER_STORAGE_S3_ENDPOINT": s3_endpoint,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environ.items():
            patch.setenv(name, value)
        configured = storage_from_env(environ, str(tmp_path))
    assert isinstance(configured, S3Storage)
    configured.put_bytes(URI, b"via configuration")
    assert isinstance(storage_from_env({}, str(tmp_path)), LocalStorage)
