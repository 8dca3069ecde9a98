"""Contract snapshots: every root field and status transition, normalised.

Ids, timestamps, ports, signatures and durations are placeholders; everything else (field
names, statuses, error codes, messages, URL shapes, filenames) is pinned by the snapshots.
"""

from __future__ import annotations

from typing import Any

from syrupy.assertion import SnapshotAssertion

from tests.emulator.conftest import JOB_FIELDS, UPLOAD_FIELDS, Api, jpeg, normalize
from tests.emulator.peer import Peer
from viesus_emulator import Emulator

UPLOAD_WITH_JOBS = (
    f"query($id: ID!) {{ upload(id: $id) {{ {UPLOAD_FIELDS} EnhancedImages {{ {JOB_FIELDS} }} }} }}"
)
SIGN = (
    "mutation($i: CreateSignedUploadUrlInput!) "
    "{ createSignedUploadUrl(input: $i) { uploadId uploadUrl } }"
)
CREATE = (
    "mutation($u: ID!, $p: EnhancedImageInput) "
    "{ createEnhancedImage(uploadId: $u, input: $p) { id status errorCode } }"
)
WEBHOOK = "id url secret createdAt"


async def test_signed_upload_flow(api: Api, snapshot: SnapshotAssertion) -> None:
    data = jpeg(120, 80)
    reserved = await api.gql(
        SIGN,
        {"i": {"filename": "my photo.jpg", "filesize": len(data), "mimetype": "image/jpeg"}},
    )
    upload_id = reserved["data"]["createSignedUploadUrl"]["uploadId"]
    pending = await api.gql(UPLOAD_WITH_JOBS, {"id": upload_id})
    early = await api.gql(
        "mutation($u: ID!) { completeSignedUpload(uploadId: $u) { id status } }", {"u": upload_id}
    )
    put = await api.http.put(
        reserved["data"]["createSignedUploadUrl"]["uploadUrl"],
        content=data,
        headers={"content-type": "image/jpeg"},
    )
    completed = await api.gql(
        f"mutation($u: ID!) {{ completeSignedUpload(uploadId: $u) {{ {UPLOAD_FIELDS} }} }}",
        {"u": upload_id},
    )
    again = await api.gql(
        "mutation($u: ID!) { completeSignedUpload(uploadId: $u) { id status } }", {"u": upload_id}
    )
    assert (
        normalize(
            {
                "createSignedUploadUrl": reserved,
                "pending": pending,
                "completeBeforePut": early,
                "put": {"status": put.status_code, "body": put.json()},
                "completeSignedUpload": completed,
                "completeAgain": again,
            }
        )
        == snapshot
    )


async def test_enhancement_lifecycle(api: Api, emu: Emulator, snapshot: SnapshotAssertion) -> None:
    upload = await api.signed_upload(jpeg(120, 80), filename="holiday.jpeg")
    queued = await api.enhance(upload["id"], {"noiseReductionProfilingStrength": 0.5})
    finished = await api.wait(queued["id"])
    listed = await api.gql(UPLOAD_WITH_JOBS, {"id": upload["id"]})
    credits = await api.credits()
    assert (
        normalize({"queued": queued, "finished": finished, "upload": listed, "credits": credits})
        == snapshot
    )
    assert emu.stats()["jobs"]["by_status"] == {"FINISHED": 1}


async def test_create_upload_from_url(api: Api, peer: Peer, snapshot: SnapshotAssertion) -> None:
    good = peer.add_file("sunset.jpg", jpeg(64, 48))
    text = peer.add_file("notes.txt", b"hello, not an image", "text/plain")
    query = (
        f"mutation($u: String!) {{ createUploadFromUrl(input: {{url: $u}}) {{ {UPLOAD_FIELDS} }} }}"
    )
    results: dict[str, Any] = {}
    for name, url in {
        "image": good,
        "text": text,
        "missing": peer.url("files/nothing.jpg"),
        "unreachable": "http://127.0.0.1:9/x.jpg",
        "not_http": "ftp://example.com/x.jpg",
    }.items():
        results[name] = await api.gql(query, {"u": url})
    assert normalize(results) == snapshot


async def test_validation_errors(api: Api, snapshot: SnapshotAssertion) -> None:
    upload = await api.signed_upload(jpeg(120, 80))
    mutation = CREATE
    cases: dict[str, tuple[str, dict[str, Any] | None]] = {
        "strength_above_1": (upload["id"], {"noiseReductionProfilingStrength": 1.5}),
        "negative_colour": (upload["id"], {"customColorConfig": {"shadowfac": -0.1}}),
        "zero_custom_width": (upload["id"], {"upscalingCustomWidth": 0}),
        "replace_without_url": (upload["id"], {"backgroundRemovalMode": "REPLACE"}),
        "unknown_upload": ("no-such-upload", None),
        "upscaling_limit": (upload["id"], {"upscalingCustomWidth": 600}),
    }
    results = {name: await api.gql(mutation, {"u": u, "p": p}) for name, (u, p) in cases.items()}
    pending = await api.gql(
        SIGN,
        {"i": {"filename": "x.jpg", "filesize": 10, "mimetype": "image/jpeg"}},
    )
    results["upload_not_ready"] = await api.gql(
        mutation, {"u": pending["data"]["createSignedUploadUrl"]["uploadId"], "p": None}
    )
    results["bad_signed_size"] = await api.gql(
        SIGN,
        {"i": {"filename": "x.jpg", "filesize": 0, "mimetype": "image/jpeg"}},
    )
    results["credits_unchanged"] = await api.credits()
    assert normalize(results) == snapshot


async def test_unknown_ids(api: Api, snapshot: SnapshotAssertion) -> None:
    queries = await api.gql(
        '{ upload(id: "u") { id } enhancedImage(id: "e") { id } '
        'webhook(id: "w") { id } webhooks { id } }'
    )
    mutations = {
        name: await api.gql(f"mutation {{ {field} {{ {sel} }} }}")
        for name, field, sel in [
            ("complete", 'completeSignedUpload(uploadId: "u")', "id"),
            ("analyzePdf", 'analyzePdf(uploadId: "u")', "id"),
            ("deleteWebhook", 'deleteWebhook(id: "w")', "success"),
        ]
    }
    assert normalize({"queries": queries, "mutations": mutations}) == snapshot


async def test_analyze_pdf_and_pdf_upload(api: Api, snapshot: SnapshotAssertion) -> None:
    pdf = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
    upload = await api.signed_upload(pdf, filename="brochure.pdf", mimetype="application/pdf")
    await api.emu.drain()  # the analysis ends (this PDF has no page: FAILED); then re-run it
    analysis = await api.gql(
        "mutation($u: ID!) { analyzePdf(uploadId: $u) { id status subStatus metadata } }",
        {"u": upload["id"]},
    )
    assert normalize({"upload": upload, "analyzePdf": analysis}) == snapshot


async def test_webhook_crud(api: Api, snapshot: SnapshotAssertion) -> None:
    created = await api.gql(
        f'mutation {{ createWebhook(input: {{url: "https://example.com/hook"}}) {{ {WEBHOOK} }} }}'
    )
    hook_id = created["data"]["createWebhook"]["id"]
    one = await api.gql(
        "query($i: ID!) { webhook(id: $i) { id url secret createdAt } }", {"i": hook_id}
    )
    listed = await api.gql("{ webhooks { id url secret createdAt } }")
    bad_url = await api.gql('mutation { createWebhook(input: {url: "not a url"}) { id } }')
    deleted = await api.gql(
        "mutation($i: ID!) { deleteWebhook(id: $i) { success } }", {"i": hook_id}
    )
    after = await api.gql("{ webhooks { id } }")
    assert (
        normalize(
            {
                "createWebhook": created,
                "webhook": one,
                "webhooks": listed,
                "badUrl": bad_url,
                "deleteWebhook": deleted,
                "after": after,
            }
        )
        == snapshot
    )


async def test_webhook_limit(api: Api) -> None:
    for n in range(5):
        await api.data(
            f'mutation {{ createWebhook(input: {{url: "https://example.com/{n}"}}) {{ id }} }}'
        )
    sixth = await api.gql(
        'mutation { createWebhook(input: {url: "https://example.com/6"}) { id } }'
    )
    assert sixth["data"] is None
    assert sixth["errors"][0]["extensions"] == {"code": "LIMIT_EXCEEDED", "limit": 5}
