"""The generated typed client works unchanged; aliases batch; max_root_fields refuses."""

from __future__ import annotations

import asyncio
import io
from decimal import Decimal

import httpx
from PIL import Image

from tests.emulator.conftest import Api, jpeg
from viesus._aliased_requests import BatchSize, run_batches
from viesus_client import ViesusApiClient
from viesus_client.custom_fields import SignedUploadUrlFields
from viesus_client.custom_mutations import Mutation
from viesus_client.enums import (
    EnhancedImageParametersUpscalingFactor,
    EnhancedImageStatus,
    UploadStatus,
)
from viesus_client.input_types import (
    CreateSignedUploadUrlInput,
    CreateWebhookInput,
    CustomColorConfigInput,
    EnhancedImageInput,
)
from viesus_emulator import Emulator


async def test_generated_client_full_flow(emu: Emulator, http: httpx.AsyncClient) -> None:
    data = jpeg(200, 100)
    client = ViesusApiClient(url=emu.endpoint, headers={"x-api-key": "local"}, http_client=http)
    signed = await client.create_signed_upload_url(
        CreateSignedUploadUrlInput(filename="beach.jpg", filesize=len(data), mimetype="image/jpeg")
    )
    target = signed.create_signed_upload_url
    put = await http.put(target.upload_url, content=data, headers={"content-type": "image/jpeg"})
    assert put.status_code == 200
    upload = (await client.complete_signed_upload(target.upload_id)).complete_signed_upload
    assert upload.status == UploadStatus.UPLOAD_FINISHED
    assert (upload.width, upload.height) == (200, 100)

    params = EnhancedImageInput(
        upscaling_factor=EnhancedImageParametersUpscalingFactor.X2,
        custom_color_config=CustomColorConfigInput(colorfac=Decimal("0.7")),
        noise_reduction_profiling_strength=Decimal("0.25"),
    )
    created = (await client.create_enhanced_image(upload.id, params)).create_enhanced_image
    assert created.status == EnhancedImageStatus.QUEUED
    async with asyncio.timeout(20):
        while True:
            job = (await client.get_enhanced_image(created.id)).enhanced_image
            assert job is not None
            if job.status != EnhancedImageStatus.QUEUED:
                break
            await asyncio.sleep(0.02)
    assert job.status == EnhancedImageStatus.FINISHED
    assert job.full_url is not None
    image = Image.open(io.BytesIO((await http.get(job.full_url)).content))
    assert image.size == (400, 200)

    listed = (await client.get_upload(upload.id)).upload
    assert listed is not None
    assert [j.id for j in listed.enhanced_images] == [created.id]
    credits = (await client.get_credits()).credits
    assert credits is not None
    assert credits.used_credits_this_period == 4

    hook = await client.create_webhook(CreateWebhookInput(url="https://example.com/h"))
    assert hook.create_webhook.secret
    assert [w.id for w in (await client.list_webhooks()).webhooks] == [hook.create_webhook.id]
    assert (await client.delete_webhook(hook.create_webhook.id)).delete_webhook.success


def aliased(count: int, upload_id: str) -> str:
    fields = " ".join(
        f'j{n}: createEnhancedImage(uploadId: "{upload_id}", '
        f"input: {{noiseReductionProfilingStrength: {n / 100}}}) {{ id status }}"
        for n in range(count)
    )
    return f"mutation Batch {{ {fields} }}"


async def test_aliases_batch_many_root_fields(api: Api, emu: Emulator) -> None:
    upload = await api.signed_upload(jpeg())
    data = await api.data(aliased(12, upload["id"]))
    assert sorted(data) == sorted(f"j{n}" for n in range(12))
    assert {job["status"] for job in data.values()} == {"QUEUED"}
    stats = emu.stats()
    assert stats["requests"]["by_root_field"]["createEnhancedImage"] == 12
    assert stats["requests"]["by_operation"]["Batch"] == 1
    await emu.drain()


async def test_max_root_fields_refuses_bigger_documents(api: Api, emu: Emulator) -> None:
    emu.state.config.max_root_fields = 10
    upload = await api.signed_upload(jpeg())
    response = await api.post(aliased(11, upload["id"]))
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["extensions"] == {"code": "TOO_MANY_ROOT_FIELDS", "limit": 10, "count": 11}
    assert "at most 10" in error["message"]
    assert emu.stats()["jobs"]["total"] == 0, "nothing ran"
    assert (await api.post(aliased(10, upload["id"]))).status_code == 200
    assert emu.stats()["jobs"]["total"] == 10
    await emu.drain()


async def test_one_failing_alias_nulls_data_but_the_others_ran(api: Api, emu: Emulator) -> None:
    upload = await api.signed_upload(jpeg())
    document = (
        f'mutation {{ ok: createEnhancedImage(uploadId: "{upload["id"]}") {{ id }} '
        'bad: createEnhancedImage(uploadId: "missing") { id } }'
    )
    body = await api.gql(document)
    # GraphQL spec: a non-null root field error nulls all of data...
    assert body["data"] is None
    assert body["errors"][0]["path"] == ["bad"]
    # ...although the other alias created its job (the client must reconcile via the upload).
    assert emu.stats()["jobs"]["total"] == 1
    await emu.drain()
    assert (await api.credits())["usedCreditsThisPeriod"] == 1


async def test_the_client_adapts_to_the_default_root_field_limit(
    emu: Emulator, http: httpx.AsyncClient
) -> None:
    """The emulator's default limit (100) and the client's contract (``extensions.limit``)."""
    client = ViesusApiClient(url=emu.endpoint, headers={"x-api-key": "local"}, http_client=http)

    def build(index: int) -> SignedUploadUrlFields:
        signed = CreateSignedUploadUrlInput(
            filename=f"p{index}.jpg", filesize=10, mimetype="image/jpeg"
        )
        return Mutation.create_signed_upload_url(signed).fields(SignedUploadUrlFields.upload_id)

    size = BatchSize(130)
    outcomes = await run_batches(
        client, list(range(130)), build, operation_name="Reserve", mutation=True, size=size
    )
    assert size.value == 100  # shrunk to the announced limit, not halved
    assert all(outcome.data for outcome in outcomes)
    assert len(emu.state.store.uploads) == 130  # the refused document created nothing
    assert emu.stats()["requests"]["by_status"] == {"400": 1, "200": 2}
