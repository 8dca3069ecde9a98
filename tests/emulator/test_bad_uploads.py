"""Bad inputs end in clear errors and the server keeps working."""

from __future__ import annotations

import asyncio
import struct
import zlib
from collections.abc import AsyncIterator

import pytest

from tests.emulator.conftest import Api, jpeg
from tests.emulator.peer import Peer
from viesus_emulator import Emulator
from viesus_emulator import _uploads as uploads

URL_UPLOAD = (
    "mutation($u: String!) { createUploadFromUrl(input: {url: $u}) { id status metadata } }"
)
SIGN = (
    "mutation($i: CreateSignedUploadUrlInput!) "
    "{ createSignedUploadUrl(input: $i) { uploadId uploadUrl } }"
)
COMPLETE = "mutation($u: ID!) { completeSignedUpload(uploadId: $u) { id status metadata } }"


def png_header(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims width x height (the pixel data is a few bytes, not 2.5 GP)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", "EMPTY_FILE"),
        (b"just some text\n", "UNSUPPORTED_FORMAT"),
        (png_header(50_000, 50_000), "IMAGE_TOO_LARGE"),
    ],
)
async def test_url_uploads_that_are_not_usable_images(
    api: Api, peer: Peer, content: bytes, code: str
) -> None:
    url = peer.add_file("bad", content, "application/octet-stream")
    upload = (await api.data(URL_UPLOAD, {"u": url}))["createUploadFromUrl"]
    assert upload["status"] == "UPLOAD_FAILED"
    assert upload["metadata"]["error"]["code"] == code
    refused = await api.gql(
        "mutation($u: ID!) { createEnhancedImage(uploadId: $u) { id } }", {"u": upload["id"]}
    )
    assert refused["errors"][0]["extensions"]["code"] == "UPLOAD_NOT_READY"


async def test_url_that_httpx_cannot_use(api: Api, emu: Emulator) -> None:
    # Passes the http(s) check, but the IDNA codec refuses the host: a failed fetch, not a
    # resolver crash that leaves the upload UPLOAD_PENDING for ever.
    upload = (await api.data(URL_UPLOAD, {"u": "http://xn--/photo.jpg"}))["createUploadFromUrl"]
    assert upload["status"] == "UPLOAD_FAILED"
    assert upload["metadata"]["error"]["code"] == "FETCH_FAILED"
    refused = await api.gql(URL_UPLOAD, {"u": "http://exa\u0000mple.com/photo.jpg"})
    assert refused["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert {u.status for u in emu.state.store.uploads.values()} == {"UPLOAD_FAILED"}


async def test_truncated_jpeg_ends_in_a_clear_error(api: Api, emu: Emulator) -> None:
    data = jpeg(300, 200)
    truncated = data[: len(data) // 3]
    reserved = (
        await api.data(
            SIGN,
            {"i": {"filename": "cut.jpg", "filesize": len(truncated), "mimetype": "image/jpeg"}},
        )
    )["createSignedUploadUrl"]
    put = await api.http.put(
        reserved["uploadUrl"], content=truncated, headers={"content-type": "image/jpeg"}
    )
    assert put.status_code == 200
    upload = (await api.data(COMPLETE, {"u": reserved["uploadId"]}))["completeSignedUpload"]
    if upload["status"] == "UPLOAD_FAILED":  # the header may already show the damage
        assert upload["metadata"]["error"]["code"] == "CORRUPT_INPUT"
    else:
        job = await api.wait((await api.enhance(upload["id"]))["id"])
        assert (job["status"], job["errorCode"]) == ("ERROR", "CORRUPT_INPUT")
    assert (await api.credits())["usedCreditsThisPeriod"] == 0
    assert (await api.signed_upload(jpeg()))["status"] == "UPLOAD_FINISHED", "server still fine"


async def test_signed_text_file_fails_the_upload(api: Api) -> None:
    text = b"hello"
    reserved = (
        await api.data(
            SIGN, {"i": {"filename": "a.txt", "filesize": len(text), "mimetype": "text/plain"}}
        )
    )["createSignedUploadUrl"]
    await api.http.put(reserved["uploadUrl"], content=text, headers={"content-type": "text/plain"})
    upload = (await api.data(COMPLETE, {"u": reserved["uploadId"]}))["completeSignedUpload"]
    assert upload["status"] == "UPLOAD_FAILED"
    assert upload["metadata"]["error"]["code"] == "UNSUPPORTED_FORMAT"


async def test_signed_put_enforces_signature_and_declaration(api: Api, emu: Emulator) -> None:
    data = jpeg()
    reserved = (
        await api.data(
            SIGN, {"i": {"filename": "p.jpg", "filesize": len(data), "mimetype": "image/jpeg"}}
        )
    )["createSignedUploadUrl"]
    url = reserved["uploadUrl"]
    jpeg_type = {"content-type": "image/jpeg"}

    async def put(target: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        response = await api.http.put(target, content=body, headers=headers)
        return response.status_code, response.json()["error"]["code"]

    assert await put(url.split("?")[0], data, jpeg_type) == (403, "AccessDenied")
    assert await put(url.replace("signature=", "signature=1"), data, jpeg_type) == (
        403,
        "AccessDenied",
    )
    assert await put(url, data, {"content-type": "image/png"}) == (400, "MimetypeMismatch")
    assert await put(url, data + b"x", jpeg_type) == (400, "SizeMismatch")
    assert await put(url, data[:-1], jpeg_type) == (400, "SizeMismatch")

    async def chunks() -> object:
        yield data[:100]
        yield data[100:] + b"extra"

    chunked = await api.http.put(url, content=chunks(), headers=jpeg_type)  # type: ignore[arg-type]
    assert chunked.status_code == 400
    assert not emu.state.store.uploads[reserved["uploadId"]].received

    assert (await api.http.put(url, content=data, headers=jpeg_type)).status_code == 200
    await api.data(COMPLETE, {"u": reserved["uploadId"]})
    assert await put(url, data, jpeg_type) == (409, "AlreadyCompleted")


async def reserve(api: Api, data: bytes) -> tuple[str, str]:
    reserved = (
        await api.data(
            SIGN, {"i": {"filename": "p.jpg", "filesize": len(data), "mimetype": "image/jpeg"}}
        )
    )["createSignedUploadUrl"]
    return reserved["uploadId"], reserved["uploadUrl"]


async def test_refused_put_keeps_the_bytes_of_an_earlier_one(api: Api) -> None:
    data = jpeg()
    upload_id, url = await reserve(api, data)
    jpeg_type = {"content-type": "image/jpeg"}
    assert (await api.http.put(url, content=data, headers=jpeg_type)).status_code == 200

    async def short() -> object:
        yield data[:-1]

    refused = await api.http.put(url, content=short(), headers=jpeg_type)  # type: ignore[arg-type]
    assert refused.status_code == 400
    done = (await api.data(COMPLETE, {"u": upload_id}))["completeSignedUpload"]
    assert done["status"] == "UPLOAD_FINISHED"
    stored = await api.data("query($u: ID!) { upload(id: $u) { url } }", {"u": upload_id})
    assert (await api.http.get(stored["upload"]["url"])).content == data


async def test_concurrent_puts_each_store_a_whole_body(api: Api, emu: Emulator) -> None:
    first, second = jpeg(quality=90), jpeg(quality=90)[::-1]
    upload_id, _ = await reserve(api, first)
    half = asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        yield first[:100]
        half.set()
        await asyncio.sleep(0.05)
        yield first[100:]

    async def fast() -> AsyncIterator[bytes]:
        await half.wait()
        yield second

    sizes = await asyncio.gather(
        uploads.receive_put(emu.state, upload_id, "image/jpeg", None, slow()),
        uploads.receive_put(emu.state, upload_id, "image/jpeg", None, fast()),
    )
    assert list(sizes) == [len(first), len(second)]
    stored = (emu.state.uploads_dir / f"{upload_id}.bin").read_bytes()
    assert stored == first, "the PUT that ended last wins, whole"
    assert not list(emu.state.uploads_dir.glob("*.part"))


async def test_concurrent_completes_finish_once(api: Api, emu: Emulator) -> None:
    data = jpeg()
    upload_id, url = await reserve(api, data)
    jpeg_type = {"content-type": "image/jpeg"}
    assert (await api.http.put(url, content=data, headers=jpeg_type)).status_code == 200
    done = await asyncio.gather(*(uploads.complete_signed(emu.state, upload_id) for _ in range(3)))
    assert {record.status for record in done} == {"UPLOAD_FINISHED"}
    assert emu.stats()["webhooks"]["events"] == 1, "one upload event, not one per complete"
    late = await api.http.put(url, content=data, headers=jpeg_type)
    assert (late.status_code, late.json()["error"]["code"]) == (409, "AlreadyCompleted")


async def test_complete_can_be_retried_after_an_unexpected_failure(
    api: Api, emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = jpeg()
    upload_id, url = await reserve(api, data)
    assert (
        await api.http.put(url, content=data, headers={"content-type": "image/jpeg"})
    ).is_success
    real_probe = getattr(uploads, "probe_file")  # noqa: B009 - imported, not exported

    async def failing_probe(path: object) -> object:
        monkeypatch.setattr(uploads, "probe_file", real_probe)
        raise OSError("disk hiccup")

    monkeypatch.setattr(uploads, "probe_file", failing_probe)
    failed = await api.gql(COMPLETE, {"u": upload_id})
    assert failed["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    done = (await api.data(COMPLETE, {"u": upload_id}))["completeSignedUpload"]
    assert done["status"] == "UPLOAD_FINISHED"


async def test_expired_upload_url_is_refused(api: Api, emu: Emulator) -> None:
    emu.state.config.upload_url_ttl = -1
    data = jpeg()
    reserved = (
        await api.data(
            SIGN, {"i": {"filename": "p.jpg", "filesize": len(data), "mimetype": "image/jpeg"}}
        )
    )["createSignedUploadUrl"]
    response = await api.http.put(
        reserved["uploadUrl"], content=data, headers={"content-type": "image/jpeg"}
    )
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "the URL has expired"


async def test_oversized_declaration_is_refused(api: Api, emu: Emulator) -> None:
    emu.state.config.max_upload_bytes = 1000
    body = await api.gql(
        SIGN, {"i": {"filename": "big.jpg", "filesize": 1001, "mimetype": "image/jpeg"}}
    )
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
