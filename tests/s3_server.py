"""moto's standalone S3 server for a test: a real S3 HTTP API on 127.0.0.1, stopped after."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

# Any key works against moto; these are what the tests put into AWS_* for the client.
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "test-access-key",
    "AWS_SECRET_ACCESS_KEY": "test-secret-key",
    "AWS_REGION": "us-east-1",
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """``moto_server -H 127.0.0.1 -p PORT`` in a subprocess; yields its endpoint URL."""
    port = _free_port()
    command = shutil.which("moto_server", path=str(Path(sys.executable).parent))
    assert command is not None, "moto[server] is part of the dev extra"
    process = subprocess.Popen(
        [command, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(endpoint + "/moto-api/", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, "moto_server exited"
                assert time.monotonic() < deadline, "moto_server did not start"
                time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def make_bucket(endpoint: str, bucket: str) -> None:
    """Create ``bucket`` (moto takes an unsigned CreateBucket)."""
    httpx.put(f"{endpoint}/{bucket}", timeout=10).raise_for_status()


def user_with_key(endpoint: str, name: str, actions: list[str]) -> dict[str, str]:
    """An IAM user at moto allowed ``actions`` on every resource (none: no policy at all),
    and its new key pair as ``AWS_*`` variables. Made before :func:`enforce_auth`."""
    import boto3  # type: ignore[import-untyped]  # moto's own dependency

    iam = boto3.client("iam", endpoint_url=endpoint, **_boto_credentials())
    iam.create_user(UserName=name)
    if actions:
        statement = {"Effect": "Allow", "Action": actions, "Resource": "*"}
        document = {"Version": "2012-10-17", "Statement": [statement]}
        iam.put_user_policy(UserName=name, PolicyName="s3", PolicyDocument=json.dumps(document))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {
        "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
        "AWS_REGION": "us-east-1",
    }


def enforce_auth(endpoint: str) -> None:
    """From now on this moto server checks every request's signature and IAM policy."""
    httpx.post(f"{endpoint}/moto-api/reset-auth", content=b"0", timeout=10).raise_for_status()


def _boto_credentials() -> dict[str, str]:
    return {
        "aws_access_key_id": CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        "region_name": CREDENTIALS["AWS_REGION"],
    }
