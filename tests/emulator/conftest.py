"""Fixtures of the emulator tests: a running emulator, an HTTP client, a peer server."""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.emulator.peer import Peer, running_peer
from viesus_emulator import Emulator, EmulatorConfig

#: Fast: the modelled 2-180 s become 0.02-1.8 s; no webhook retry waits.
FAST = {"time_scale": 0.01, "webhook_retry_delays": (0.05, 0.1)}


def jpeg(width: int = 120, height: int = 80, quality: int = 90) -> bytes:
    """A small real photo-like JPEG (a gradient, so the engine has something to do)."""
    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


class Api:
    """Thin GraphQL helper bound to one emulator."""

    def __init__(self, emu: Emulator, http: httpx.AsyncClient) -> None:
        self.emu = emu
        self.http = http

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, **kw: Any
    ) -> httpx.Response:
        headers = {"x-api-key": self.emu.api_key, **kw.pop("headers", {})}
        body = {"query": query, "variables": variables or {}}
        return await self.http.post(self.emu.endpoint, json=body, headers=headers, **kw)

    async def gql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.post(query, variables)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = await self.gql(query, variables)
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data

    async def signed_upload(
        self, data: bytes, filename: str = "photo.jpg", mimetype: str = "image/jpeg"
    ) -> dict[str, Any]:
        """createSignedUploadUrl + PUT + completeSignedUpload; returns the Upload."""
        reserved = await self.data(
            "mutation($i: CreateSignedUploadUrlInput!) { createSignedUploadUrl(input: $i) "
            "{ uploadId uploadUrl } }",
            {"i": {"filename": filename, "filesize": len(data), "mimetype": mimetype}},
        )
        signed = reserved["createSignedUploadUrl"]
        put = await self.http.put(
            signed["uploadUrl"], content=data, headers={"content-type": mimetype}
        )
        assert put.status_code == 200, put.text
        done = await self.gql(
            f"mutation($u: ID!) {{ completeSignedUpload(uploadId: $u) {{ {UPLOAD_FIELDS} }} }}",
            {"u": signed["uploadId"]},
        )
        assert "errors" not in done, done
        upload: dict[str, Any] = done["data"]["completeSignedUpload"]
        return upload

    async def enhance(self, upload_id: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        body = await self.gql(
            f"mutation($u: ID!, $p: EnhancedImageInput) {{ createEnhancedImage(uploadId: $u, "
            f"input: $p) {{ {JOB_FIELDS} }} }}",
            {"u": upload_id, "p": params},
        )
        assert "errors" not in body, body
        job: dict[str, Any] = body["data"]["createEnhancedImage"]
        return job

    async def job(self, job_id: str) -> dict[str, Any]:
        data = await self.data(
            f"query($i: ID!) {{ enhancedImage(id: $i) {{ {JOB_FIELDS} }} }}", {"i": job_id}
        )
        job: dict[str, Any] = data["enhancedImage"]
        return job

    async def wait(self, job_id: str, timeout: float = 20.0) -> dict[str, Any]:
        """Poll until the job leaves QUEUED."""
        async with asyncio.timeout(timeout):
            while True:
                job = await self.job(job_id)
                if job["status"] != "QUEUED":
                    return job
                await asyncio.sleep(0.02)

    async def credits(self) -> dict[str, Any]:
        data = await self.data(
            "{ credits { periodStart periodEnd usedCreditsThisPeriod remainingCreditsThisPeriod } }"
        )
        credits: dict[str, Any] = data["credits"]
        return credits


UPLOAD_FIELDS = (
    "id status subStatus filesize mimetype extension originalFilename filename width height "
    "url startedAt finishedAt duration metadata"
)
JOB_FIELDS = "id status fullUrl filename viesusDuration errorCode"


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return EmulatorConfig(**FAST)  # type: ignore[arg-type]


@pytest.fixture
async def emu(emulator_config: EmulatorConfig) -> AsyncIterator[Emulator]:
    async with Emulator(emulator_config) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30, trust_env=False) as client:
        yield client


@pytest.fixture
def api(emu: Emulator, http: httpx.AsyncClient) -> Api:
    return Api(emu, http)


@pytest.fixture
async def peer() -> AsyncIterator[Peer]:
    async with running_peer() as running:
        yield running


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_STAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
_SIGNED = re.compile(r"expires=\d+&signature=[0-9a-f]{64}")
_PORT = re.compile(r"http://127\.0\.0\.1:\d+")


def normalize(value: Any) -> Any:
    """Replace ids, timestamps, ports, signatures and timings with stable placeholders."""
    if isinstance(value, dict):
        out = {}
        for key, inner in value.items():
            if key in {"duration", "viesusDuration"} and isinstance(inner, int):
                out[key] = "<ms>"
            elif key == "secret" and isinstance(inner, str):
                out[key] = f"<secret:{len(inner)}>"
            else:
                out[key] = normalize(inner)
        return out
    if isinstance(value, list):
        return [normalize(inner) for inner in value]
    if isinstance(value, str):
        value = _UUID.sub("<id>", value)
        value = _STAMP.sub("<datetime>", value)
        value = _SIGNED.sub("expires=<expires>&signature=<signature>", value)
        return _PORT.sub("http://127.0.0.1:<port>", value)
    return value
