"""CORS on the storage routes (signed PUT, downloads): only the configured origins, none by
default; the GraphQL endpoint never answers CORS (its API key stays on servers)."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest

from tests.emulator.conftest import Api, jpeg
from viesus_emulator import Emulator, EmulatorConfig

PAGE = "http://127.0.0.1:5000"
OTHER = "http://localhost:5000"


def preflight(origin: str) -> dict[str, str]:
    return {
        "origin": origin,
        "access-control-request-method": "PUT",
        "access-control-request-headers": "content-type",
    }


async def reserve(api: Api, size: int) -> tuple[str, str]:
    data = await api.data(
        "mutation($i: CreateSignedUploadUrlInput!) { createSignedUploadUrl(input: $i) "
        "{ uploadId uploadUrl } }",
        {"i": {"filename": "p.jpg", "filesize": size, "mimetype": "image/jpeg"}},
    )
    return data["createSignedUploadUrl"]["uploadId"], data["createSignedUploadUrl"]["uploadUrl"]


async def test_allowed_origin_can_preflight_put_and_download(
    emulator_config: EmulatorConfig, http: httpx.AsyncClient
) -> None:
    config = replace(emulator_config, cors_origins=(PAGE + "/",))
    assert config.cors_origins == (PAGE,)
    async with Emulator(config) as emu:
        api = Api(emu, http)
        body = jpeg()
        upload_id, url = await reserve(api, len(body))
        answer = await http.options(url, headers=preflight(PAGE))
        assert answer.status_code == 200
        assert answer.headers["access-control-allow-origin"] == PAGE
        assert "PUT" in answer.headers["access-control-allow-methods"]
        assert "content-type" in answer.headers["access-control-allow-headers"].lower()
        put = await http.put(
            url, content=body, headers={"content-type": "image/jpeg", "origin": PAGE}
        )
        assert put.status_code == 200
        assert put.headers["access-control-allow-origin"] == PAGE
        # A refusal is readable by the page too (it can say why in words).
        bad = await http.put(
            url, content=b"x", headers={"content-type": "image/png", "origin": PAGE}
        )
        assert bad.status_code == 400
        assert bad.headers["access-control-allow-origin"] == PAGE
        done = await api.data(
            "mutation($u: ID!) { completeSignedUpload(uploadId: $u) { url } }", {"u": upload_id}
        )
        got = await http.get(done["completeSignedUpload"]["url"], headers={"origin": PAGE})
        assert got.status_code == 200
        assert got.headers["access-control-allow-origin"] == PAGE
        assert got.content == body
        # Another origin: the preflight is refused and nothing says "allowed".
        refused = await http.options(url, headers=preflight(OTHER))
        assert refused.status_code == 400
        assert "access-control-allow-origin" not in refused.headers
        plain = await http.get(done["completeSignedUpload"]["url"], headers={"origin": OTHER})
        assert "access-control-allow-origin" not in plain.headers
        # GraphQL takes the API key: never CORS.
        graphql = await http.options(emu.endpoint, headers=preflight(PAGE))
        assert "access-control-allow-origin" not in graphql.headers


async def test_no_origin_is_allowed_by_default(api: Api, http: httpx.AsyncClient) -> None:
    _, url = await reserve(api, 10)
    answer = await http.options(url, headers=preflight(PAGE))
    assert answer.status_code == 405
    assert "access-control-allow-origin" not in answer.headers


@pytest.mark.parametrize("origin", ["*", "ftp://x", "http://h/path", "localhost:5000", "http://"])
def test_origins_are_checked(origin: str) -> None:
    with pytest.raises(ValueError, match="scheme://host"):
        EmulatorConfig(cors_origins=(origin,))
