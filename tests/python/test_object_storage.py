"""Object storage through tensorstore (issue #15): an S3 round trip against a local server.

The server is moto's, started on 127.0.0.1 by the fixture and stopped by it;
tensorstore gets the endpoint, region and credentials from the standard AWS
environment variables, as a user's would.
"""

from __future__ import annotations

import json
import os
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import frame_for
from ome_writers import AcquisitionSettings, Dimension, create_stream

H, W = 16, 12


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    try:
        import tensorstore  # noqa: F401
        from moto import server as moto_server
    except ImportError as e:
        if os.environ.get("CI"):  # the test command installs both (scripts/setup.sh)
            pytest.fail(f"the S3 round trip needs tensorstore and moto: {e}")
        pytest.skip(f"needs tensorstore and moto[server]: {e}")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Any:
    """A boto3 client of a fresh bucket, with the AWS variables set for tensorstore."""
    boto3 = pytest.importorskip("boto3")
    for key, value in {
        "AWS_ENDPOINT_URL": s3_endpoint,
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(key, value)
    client = boto3.client("s3")
    bucket = "lab-" + re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40]
    client.create_bucket(Bucket=bucket)
    client.bucket = bucket
    return client


def _dims() -> list[Dimension]:
    return [
        Dimension(name="t", count=3, chunk_size=1, shard_size_chunks=3, type="time"),
        Dimension(name="c", count=2, type="channel", coords=["DAPI", "GFP"]),
        Dimension(name="y", count=H, type="space"),
        Dimension(name="x", count=W, type="space"),
    ]


def _stream(settings: AcquisitionSettings) -> None:
    with create_stream(settings) as stream:
        for n in range(6):
            stream.append(frame_for(n, (H, W), "uint16"), frame_metadata={"n": n})


def _objects(s3: Any, prefix: str) -> dict[str, bytes]:
    listed = s3.list_objects_v2(Bucket=s3.bucket, Prefix=prefix).get("Contents", [])
    return {
        o["Key"][len(prefix) :]: s3.get_object(Bucket=s3.bucket, Key=o["Key"])["Body"].read()
        for o in listed
    }


@pytest.mark.parametrize("backend", ["auto", "tensorstore"])
def test_s3_round_trip(tmp_path: Path, s3: Any, backend: str) -> None:
    import tensorstore as ts

    url = f"s3://{s3.bucket}/run1.ome.zarr"
    settings = AcquisitionSettings(
        root_path=url,
        dimensions=_dims(),
        dtype="uint16",
        compression="blosc-zstd",
        format={"name": "ome-zarr", "backend": backend},
    )
    _stream(settings)
    objects = _objects(s3, "run1.ome.zarr/")
    assert {"zarr.json", "0/zarr.json"} <= set(objects)
    # Sharded: one shard object per t (shard of 3 chunks along t -> one shard, c=2 shards).
    assert sorted(k for k in objects if k.startswith("0/c/")) == ["0/c/0/0/0/0", "0/c/0/1/0/0"]
    assert not Path(url).exists() and not Path("s3:").exists(), "nothing written locally"

    # Read back from the bucket through tensorstore.
    spec = {
        "driver": "zarr3",
        "kvstore": {
            "driver": "s3",
            "bucket": s3.bucket,
            "path": "run1.ome.zarr/0/",
            "endpoint": s3.meta.endpoint_url,
            "aws_region": "us-east-1",
        },
    }
    data = ts.open(spec).result().read().result()
    for n in range(6):
        np.testing.assert_array_equal(data[n // 2, n % 2], frame_for(n, (H, W), "uint16"))

    # The documents are the native engine's for the same settings.
    local = settings.model_copy(update={"root_path": str(tmp_path / "run1.ome.zarr")})
    local.format.backend = "native"
    _stream(local)
    native_group = json.loads((tmp_path / "run1.ome.zarr" / "zarr.json").read_text())
    assert json.loads(objects["zarr.json"]) == native_group
    frame_metadata = native_group["attributes"]["ome_writers"]["frame_metadata"]
    assert [e["n"] for e in frame_metadata] == list(range(6))


def test_s3_existing_store_needs_overwrite(s3: Any) -> None:
    settings = AcquisitionSettings(
        root_path=f"s3://{s3.bucket}/again.ome.zarr", dimensions=_dims(), dtype="uint16"
    )
    _stream(settings)
    with pytest.raises(FileExistsError, match="already exists"):
        create_stream(settings)
    assert "zarr.json" in _objects(s3, "again.ome.zarr/"), "the refusal removes nothing"
    settings.overwrite = True
    _stream(settings)


def test_explicit_kvstore_spec(s3: Any) -> None:
    import tensorstore as ts

    kvstore = {
        "driver": "s3",
        "bucket": s3.bucket,
        "path": "spec/run.ome.zarr/",
        "endpoint": s3.meta.endpoint_url,
        "aws_region": "us-east-1",
    }
    settings = AcquisitionSettings(
        root_path="run.ome.zarr",
        dimensions=_dims(),
        dtype="uint16",
        format={"name": "ome-zarr", "backend": "tensorstore", "kvstore": kvstore},
    )
    _stream(settings)
    assert not Path("run.ome.zarr").exists()
    data = ts.open({"driver": "zarr3", "kvstore": {**kvstore, "path": kvstore["path"] + "0/"}})
    np.testing.assert_array_equal(
        data.result().read().result()[2, 1], frame_for(5, (H, W), "uint16")
    )


def test_kvstore_spec_needs_tensorstore(tmp_path: Path) -> None:
    settings = AcquisitionSettings(
        root_path=str(tmp_path / "x.ome.zarr"),
        dimensions=_dims(),
        dtype="uint16",
        format={"name": "ome-zarr", "backend": "zarr-python", "kvstore": {"driver": "memory"}},
    )
    with pytest.raises(ValueError, match="kvstore"):
        create_stream(settings)
