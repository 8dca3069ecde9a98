"""Lifecycle: async and threaded handles, clean shutdown, the ``viesus serve`` command."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from tests.emulator.conftest import FAST, Api, jpeg
from viesus_emulator import Emulator, EmulatorConfig
from viesus_emulator import _runner as runner

CREDITS = {"query": "{ credits { remainingCreditsThisPeriod } }"}


async def test_stop_with_work_in_flight_leaves_nothing_behind(http: httpx.AsyncClient) -> None:
    config = EmulatorConfig(time_scale=10.0, workers=1, webhook_retry_delays=(30.0,))
    async with Emulator(config) as emu:
        api = Api(emu, http)
        data_dir = emu.state.data_dir
        await api.data('mutation { createWebhook(input: {url: "http://127.0.0.1:9/x"}) { id } }')
        upload = await api.signed_upload(jpeg())
        for _ in range(3):
            await api.enhance(upload["id"])
        assert emu.state.dispatcher.pending
        assert data_dir.exists()
    assert not data_dir.exists(), "the temporary data directory is removed"
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert not [t for t in others if not t.done()], "no task of the emulator is left running"


async def test_given_data_dir_is_kept(tmp_path: Path) -> None:
    async with Emulator(EmulatorConfig(data_dir=tmp_path, **FAST)) as emu:  # type: ignore[arg-type]
        assert emu.state.uploads_dir.parent == tmp_path
    assert tmp_path.exists()


async def test_failed_start_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        emu = Emulator(EmulatorConfig(port=busy.getsockname()[1], **FAST))  # type: ignore[arg-type]
        with pytest.raises(OSError, match="already in use"):
            await emu.start()
    assert not list(tmp_path.iterdir()), "a busy port leaves no data directory behind"

    def broken_app(state: object) -> object:
        raise RuntimeError("app construction failed")

    monkeypatch.setattr(runner, "build_app", broken_app)
    emu = Emulator(EmulatorConfig(**FAST))  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="app construction failed"):
        await emu.start()
    assert not list(tmp_path.iterdir()), "the data directory is removed"
    with pytest.raises(RuntimeError, match="not running"):
        emu.state  # noqa: B018
    with socket.socket() as again:
        again.bind(("127.0.0.1", emu.port))  # the port was released


def test_threaded_variant_for_sync_code() -> None:
    with Emulator(EmulatorConfig(api_keys=("k1", "k2"), **FAST)).running_in_thread() as emu:  # type: ignore[arg-type]
        assert emu.endpoint.startswith("http://127.0.0.1:")
        with httpx.Client(trust_env=False) as client:
            ok = client.post(emu.endpoint, json=CREDITS, headers={"x-api-key": "k2"})
            assert ok.json() == {"data": {"credits": {"remainingCreditsThisPeriod": 1000}}}
            assert client.get(f"{emu.base_url}/stats").json()["requests"]["total"] == 1
        assert emu.stats()["requests"]["by_status"] == {"200": 1}
    with pytest.raises(RuntimeError):
        emu.state  # noqa: B018 - stopped


def test_secrets_stay_out_of_reprs() -> None:
    config = EmulatorConfig(api_keys=("super-secret-key",))
    assert "super-secret-key" not in repr(config)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _fetch_a_presigned_url(client: httpx.Client, endpoint: str) -> None:
    """The emulator fetches a source URL whose query string is a credential (as a presigned
    bucket URL's is), from a plain static server on loopback."""
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "a.jpg").write_bytes(jpeg())
        port = _free_port()
        static = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
            cwd=folder,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}/a.jpg?X-Amz-Signature=the-signature"
            deadline = time.monotonic() + 30
            while True:  # the static server is up before the emulator is asked to fetch
                try:
                    httpx.get(url, trust_env=False).raise_for_status()
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "http.server did not come up"
                    time.sleep(0.05)
            headers = {"x-api-key": "cli-key"}
            create = "mutation($u: String!) { createUploadFromUrl(input: {url: $u}) { id } }"
            body = {"query": create, "variables": {"u": url}}
            upload = client.post(endpoint, json=body, headers=headers).json()
            status = "query($id: ID!) { upload(id: $id) { status } }"
            body = {
                "query": status,
                "variables": {"id": upload["data"]["createUploadFromUrl"]["id"]},
            }
            seen = "UPLOAD_PENDING"
            while seen == "UPLOAD_PENDING":
                assert time.monotonic() < deadline, seen
                time.sleep(0.05)
                seen = client.post(endpoint, json=body, headers=headers).json()["data"]["upload"][
                    "status"
                ]
            assert seen == "UPLOAD_FINISHED", seen
        finally:
            static.terminate()
            static.wait()


def test_cli_serve_subprocess() -> None:
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "viesus",
            "serve",
            "--port",
            str(port),
            "--api-key",
            "cli-key",
            "--time-scale",
            "0.01",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    endpoint = f"http://127.0.0.1:{port}/graphql"
    try:
        deadline = time.monotonic() + 30
        with httpx.Client(trust_env=False) as client:
            while True:
                try:
                    response = client.post(endpoint, json=CREDITS, headers={"x-api-key": "cli-key"})
                    break
                except httpx.TransportError:
                    assert process.poll() is None, "viesus serve exited early"
                    assert time.monotonic() < deadline, "viesus serve did not come up"
                    time.sleep(0.1)
            assert response.status_code == 200
            assert response.json()["data"]["credits"]["remainingCreditsThisPeriod"] == 1000
            assert client.post(endpoint, json=CREDITS).status_code == 401
            _fetch_a_presigned_url(client, endpoint)
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    assert process.returncode == 0, output
    assert endpoint in output
    assert "curl" in output
    assert "cli-key" not in output, "a key given on the command line is never printed"
    assert "the-signature" not in output, "a source URL's query string is never logged"
