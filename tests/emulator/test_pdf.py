"""PDFs in the emulator: accepted, analysed in a queue of their own, enhanced image by image.

The PDFs are made on the fly (``tests.pdf_samples``); results are read back with pikepdf and
PDFium (text), independent of the emulator's own reading code.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import numpy as np
import pytest

from tests.emulator.conftest import UPLOAD_FIELDS, Api, jpeg
from tests.emulator.peer import Peer
from tests.emulator.test_webhooks import register, verified
from tests.pdf_samples import (
    PHOTOBOOK,
    TEXTS,
    bomb,
    damaged,
    encrypted,
    images_by_name,
    page_texts,
    photobook,
    text_only,
)
from viesus_emulator import Emulator, EmulatorConfig
from viesus_emulator._pdf.pricing import FEATURE_OF_FIELD, REFUSED_FIELDS
from viesus_emulator._pdf.records import PdfLimits
from viesus_emulator._pricing import FIELDS, cost_of

PDF = "application/pdf"
ANALYZED = "METADATA_ANALYZED_SUCCESSFULLY"
FAILED = "METADATA_ANALYZED_FAILED"


async def upload_pdf(api: Api, data: bytes, name: str = "book.pdf") -> dict[str, Any]:
    return await api.signed_upload(data, filename=name, mimetype=PDF)


async def analysed(api: Api, upload_id: str, timeout: float = 20.0) -> dict[str, Any]:
    """Poll ``upload { subStatus metadata }`` until the analysis ended."""
    async with asyncio.timeout(timeout):
        while True:
            data = await api.data(
                f"query($u: ID!) {{ upload(id: $u) {{ {UPLOAD_FIELDS} }} }}", {"u": upload_id}
            )
            upload: dict[str, Any] = data["upload"]
            if upload["subStatus"] != "METADATA_ANALYZING":
                return upload
            await asyncio.sleep(0.02)


async def enhance_and_fetch(
    api: Api, upload_id: str, params: dict[str, Any] | None
) -> tuple[dict[str, Any], bytes]:
    job = await api.wait((await api.enhance(upload_id, params))["id"])
    assert job["status"] == "FINISHED", job
    response = await api.http.get(job["fullUrl"])
    assert response.status_code == 200
    assert response.headers["content-type"] == PDF
    return job, response.content


async def test_a_pdf_upload_is_analysed_and_counts_its_images(api: Api) -> None:
    data = photobook()
    upload = await upload_pdf(api, data)
    assert upload["status"] == "UPLOAD_FINISHED"
    assert upload["subStatus"] == "METADATA_ANALYZING"
    assert (upload["mimetype"], upload["extension"], upload["width"]) == (PDF, "pdf", None)

    done = await analysed(api, upload["id"])
    assert done["subStatus"] == ANALYZED
    stats = done["metadata"]["statistics"]
    # What is really embedded, counted by pikepdf's own walk (forms included).
    assert stats["totalImages"] == len(images_by_name(data)) == PHOTOBOOK.total_images
    assert stats["pages"] == PHOTOBOOK.pages
    assert stats["placements"] == PHOTOBOOK.placements
    assert stats["colorEnhancementImages"] == PHOTOBOOK.colour
    assert stats["restorationImages"] == PHOTOBOOK.restoration
    assert stats["upscalingImages"] == PHOTOBOOK.upscaling
    estimates = done["metadata"]["estimatedCredits"]
    # Default = colour, 1 credit per colour-eligible image; upscaling 4 per eligible image.
    assert done["metadata"]["totalCredits"] == estimates["colour"] == PHOTOBOOK.colour
    assert estimates["upscaling"] == 4 * PHOTOBOOK.upscaling
    assert estimates["restoration"] == PHOTOBOOK.restoration
    # colour+upscaling: the upscaling images cost 4 each, the other colour image 1.
    assert estimates["colour+upscaling"] == 4 * PHOTOBOOK.upscaling + 1


async def test_x2_doubles_every_eligible_image_and_keeps_pages_and_text(
    api: Api, emu: Emulator
) -> None:
    data = photobook()
    upload = await upload_pdf(api, data)
    metadata = (await analysed(api, upload["id"]))["metadata"]
    before_credits = emu.stats()["credits"]["charged"]

    job, result = await enhance_and_fetch(api, upload["id"], {"upscalingFactor": "X2"})

    assert job["filename"] == "book_enhanced.pdf"
    assert page_texts(result) == list(TEXTS)
    before, after = images_by_name(data), images_by_name(result)
    assert set(after) == set(before)
    doubled = {"/Beach", "/Grey", "/Friends"}  # the images below 300 ppi (pdf_samples)
    for name, image in before.items():
        expected = (image.width * 2, image.height * 2) if name in doubled else image.size
        assert after[name].size == expected, name
        assert after[name].mode == image.mode, name  # grey stays grey, RGB stays RGB
    charged = emu.stats()["credits"]["charged"] - before_credits
    assert charged == metadata["estimatedCredits"]["upscaling"]


async def test_the_default_enhancement_changes_colour_images_only(api: Api, emu: Emulator) -> None:
    data = photobook()
    upload = await upload_pdf(api, data)
    metadata = (await analysed(api, upload["id"]))["metadata"]
    used_before = (await api.credits())["usedCreditsThisPeriod"]

    _, result = await enhance_and_fetch(api, upload["id"], None)

    before, after = images_by_name(data), images_by_name(result)
    for name in ("/Beach", "/Peaks", "/Friends"):  # colour-eligible: enhanced, same size
        assert after[name].size == before[name].size
        assert not np.array_equal(np.asarray(after[name]), np.asarray(before[name])), name
    for name in ("/Grey", "/Icon"):  # grey (not colour) and the icon (too small): untouched
        assert np.array_equal(np.asarray(after[name]), np.asarray(before[name])), name
    used = (await api.credits())["usedCreditsThisPeriod"] - used_before
    assert used == metadata["totalCredits"] == PHOTOBOOK.colour


async def test_a_damaged_pdf_fails_analysis_and_analyze_pdf_runs_it_again(
    api: Api, emu: Emulator
) -> None:
    upload = await upload_pdf(api, damaged(), "broken.pdf")
    assert upload["status"] == "UPLOAD_FINISHED"
    done = await analysed(api, upload["id"])
    assert done["subStatus"] == FAILED
    assert done["metadata"]["error"]["code"] == "PDF_DAMAGED"

    refused = await api.gql(
        "mutation($u: ID!) { createEnhancedImage(uploadId: $u) { id } }", {"u": upload["id"]}
    )
    assert refused["errors"][0]["extensions"]["code"] == "PDF_NOT_ANALYZED"
    assert refused["errors"][0]["extensions"]["subStatus"] == FAILED

    again = await api.data(
        "mutation($u: ID!) { analyzePdf(uploadId: $u) { id subStatus metadata } }",
        {"u": upload["id"]},
    )
    assert again["analyzePdf"]["subStatus"] == "METADATA_ANALYZING"
    assert again["analyzePdf"]["metadata"] is None
    assert (await analysed(api, upload["id"]))["subStatus"] == FAILED
    record = emu.state.store.uploads[upload["id"]].pdf
    assert record is not None
    assert record.runs == 2
    assert emu.stats()["jobs"]["total"] == 0


async def test_analyze_pdf_is_refused_while_analysing_and_on_images(api: Api) -> None:
    api.emu.state.config.time_scale = 1.0  # the modelled >= 1 s analysis: long enough to ask
    upload = await upload_pdf(api, photobook())
    running = await api.gql(
        "mutation($u: ID!) { analyzePdf(uploadId: $u) { id } }", {"u": upload["id"]}
    )
    assert running["errors"][0]["extensions"]["code"] == "PDF_ANALYSIS_RUNNING"
    early = await api.gql(
        "mutation($u: ID!) { createEnhancedImage(uploadId: $u) { id } }", {"u": upload["id"]}
    )
    assert early["errors"][0]["extensions"]["code"] == "PDF_NOT_ANALYZED"

    image = await api.signed_upload(jpeg())
    not_pdf = await api.gql(
        "mutation($u: ID!) { analyzePdf(uploadId: $u) { id } }", {"u": image["id"]}
    )
    assert not_pdf["errors"][0]["extensions"]["code"] == "UNSUPPORTED_FORMAT"
    assert image["subStatus"] is None


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (text_only(), "PDF_NO_IMAGES"),
        (encrypted(), "PDF_ENCRYPTED"),
        (bomb(), "PDF_IMAGE_TOO_LARGE"),
    ],
    ids=["no-images", "encrypted", "decompression-bomb"],
)
async def test_unusable_pdfs_fail_analysis_with_a_code(api: Api, data: bytes, code: str) -> None:
    done = await analysed(api, (await upload_pdf(api, data))["id"])
    assert done["subStatus"] == FAILED
    assert done["metadata"]["error"]["code"] == code


async def test_page_and_image_limits(api: Api, emu: Emulator) -> None:
    analyses = emu.state.workers.pdf
    analyses.limits = PdfLimits(max_pages=2)
    done = await analysed(api, (await upload_pdf(api, photobook()))["id"])
    assert done["metadata"]["error"]["code"] == "PDF_TOO_MANY_PAGES"
    analyses.limits = PdfLimits(max_images=4)
    done = await analysed(api, (await upload_pdf(api, photobook()))["id"])
    assert done["metadata"]["error"]["code"] == "PDF_TOO_MANY_IMAGES"
    analyses.limits = PdfLimits(max_image_pixels=600 * 400 - 1)  # Peaks is 600x400
    done = await analysed(api, (await upload_pdf(api, photobook()))["id"])
    assert done["metadata"]["error"]["code"] == "PDF_IMAGE_TOO_LARGE"
    analyses.limits = PdfLimits(analysis_seconds=0)
    done = await analysed(api, (await upload_pdf(api, photobook()))["id"])
    assert done["metadata"]["error"]["code"] == "PDF_ANALYSIS_TIMEOUT"


async def test_a_pdf_job_over_its_time_limit_ends_in_error_and_is_free(
    api: Api, emu: Emulator
) -> None:
    upload = await upload_pdf(api, photobook())
    await analysed(api, upload["id"])
    emu.state.workers.pdf.limits = PdfLimits(job_seconds=0)
    job = await api.wait((await api.enhance(upload["id"], None))["id"])
    assert (job["status"], job["errorCode"]) == ("ERROR", "PDF_PROCESSING_TIMEOUT")
    assert job["fullUrl"] is None
    stats = emu.stats()["credits"]
    assert (stats["charged"], stats["reserved"]) == (0, 0)


@pytest.mark.parametrize("field", sorted(REFUSED_FIELDS))
async def test_per_image_meaningless_options_are_refused_for_pdfs(
    api: Api, emu: Emulator, field: str
) -> None:
    upload = await upload_pdf(api, photobook())
    await analysed(api, upload["id"])
    value: Any = {
        "backgroundRemovalMode": "BLUR",
        "backgroundRemovalBlur": 0.5,
        "backgroundRemovalReplaceImageUrl": "http://example.invalid/bg.jpg",
        "preset": "auto",
        "upscalingCustomWidth": 1000,
        "upscalingCustomDPI": 300,
    }[field]
    params = {field: value}
    if field == "backgroundRemovalReplaceImageUrl":
        params["backgroundRemovalMode"] = "REPLACE"
    body = await api.gql(
        "mutation($u: ID!, $p: EnhancedImageInput) { createEnhancedImage(uploadId: $u, "
        "input: $p) { id } }",
        {"u": upload["id"], "p": params},
    )
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert emu.stats()["jobs"]["total"] == 0


async def test_a_pdf_from_a_url_is_analysed_and_events_follow_the_sub_status(
    api: Api, emu: Emulator, peer: Peer
) -> None:
    secret = await register(api, peer.url("hooks/pdf"))
    url = peer.add_file("album.pdf", photobook(), PDF)
    data = await api.data(
        "mutation($u: String!) { createUploadFromUrl(input: {url: $u}) { " + UPLOAD_FIELDS + " } }",
        {"u": url},
    )
    upload = data["createUploadFromUrl"]
    assert (upload["status"], upload["subStatus"]) == ("UPLOAD_FINISHED", "METADATA_ANALYZING")
    await analysed(api, upload["id"])
    job = await api.wait((await api.enhance(upload["id"], {"mode": "ENHANCE"}))["id"])
    received = await peer.wait_for(3)
    events = [verified(item, secret) for item in received]
    assert [e["event"] for e in events] == [
        "upload.sub_status_update",
        "upload.sub_status_update",
        "enhanced_image.status_update",
    ]
    first, second, third = (json.loads(json.dumps(e["data"])) for e in events)
    assert first["subStatus"] == "METADATA_ANALYZING"
    assert second["subStatus"] == ANALYZED
    assert second["metadata"]["totalCredits"] == PHOTOBOOK.colour
    assert (third["id"], third["status"]) == (job["id"], "FINISHED")


def test_every_priced_field_is_either_applied_per_image_or_refused_for_pdfs() -> None:
    top_level = {name.split(".", 1)[0] for name in FIELDS}
    assert top_level == set(FEATURE_OF_FIELD) | set(REFUSED_FIELDS)
    assert not set(FEATURE_OF_FIELD) & set(REFUSED_FIELDS)
    # A field's feature agrees with the emulator's price list (upscaling 4, the others 1).
    for name, feature in FEATURE_OF_FIELD.items():
        assert cost_of({name: 1}) == (4 if feature == "upscaling" else 1), name


async def test_a_pdf_job_that_cannot_be_paid_is_refused_before_it_exists() -> None:
    async with (
        Emulator(EmulatorConfig(time_scale=0.01, credits=5)) as emu,
        httpx.AsyncClient(timeout=30, trust_env=False) as http,
    ):
        api = Api(emu, http)
        upload = await upload_pdf(api, photobook())
        await analysed(api, upload["id"])
        body = await api.gql(
            "mutation($u: ID!) { createEnhancedImage(uploadId: $u, "
            "input: {upscalingFactor: X2}) { id } }",
            {"u": upload["id"]},
        )
        error = body["errors"][0]["extensions"]
        assert (error["code"], error["cost"]) == ("INSUFFICIENT_CREDITS", 12)
        assert emu.stats()["jobs"]["total"] == 0
