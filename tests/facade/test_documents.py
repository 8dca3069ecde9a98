"""Snapshots of the exact aliased documents and variables the facade sends (contracts)."""

from __future__ import annotations

import json
from typing import Any

import httpx
from graphql import build_schema, parse, validate
from syrupy.assertion import SnapshotAssertion

from codegen.generate import SCHEMA
from viesus._batching import BatchSize, run_batches
from viesus._retries import RetryPolicy
from viesus._selections import create_job, poll_job, upload_jobs
from viesus._uploads import upload_urls
from viesus_client import ViesusApiClient
from viesus_client.fragments import EnhancedImageFields
from viesus_client.input_types import EnhancedImageInput

JOB = {
    "id": "j",
    "status": "QUEUED",
    "fullUrl": None,
    "filename": None,
    "viesusDuration": None,
    "errorCode": None,
}
UPLOAD = {
    "id": "u",
    "status": "UPLOAD_FINISHED",
    "subStatus": None,
    "filesize": 1,
    "mimetype": "image/jpeg",
    "extension": "jpg",
    "originalFilename": "a.jpg",
    "filename": "u.jpg",
    "width": 1,
    "height": 1,
    "url": None,
    "startedAt": None,
    "finishedAt": None,
    "duration": None,
}


def capturing_api(sent: list[dict[str, Any]]) -> ViesusApiClient:
    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        sent.append(body)
        aliases = [line.split(":")[0].strip() for line in body["query"].splitlines()[1:-1]]
        aliases = [a for a in aliases if a.startswith("a") and a[1:].isdigit()]
        data: dict[str, Any]
        if "createEnhancedImage" in body["query"] or "enhancedImage(" in body["query"]:
            data = {a: JOB for a in aliases}
        elif "EnhancedImages" in body["query"]:
            data = {a: {"id": "u", "EnhancedImages": [JOB]} for a in aliases}
        else:
            data = {a: UPLOAD for a in aliases}
        return httpx.Response(200, json={"data": data})

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return ViesusApiClient(
        url="http://api.test/graphql", headers={"x-api-key": "k"}, http_client=http
    )


def assert_valid(document: str) -> None:
    schema = build_schema(SCHEMA.read_text(encoding="utf-8"))
    assert validate(schema, parse(document)) == []


async def test_batch_of_three_documents(snapshot: SnapshotAssertion) -> None:
    sent: list[dict[str, Any]] = []
    api = capturing_api(sent)
    options = EnhancedImageInput.model_validate(
        {"upscalingFactor": "X2", "noiseReductionProfilingStrength": "0.4"}
    )
    size = BatchSize(3)
    await upload_urls(
        api,
        ["https://img.test/1.jpg", "https://img.test/2.jpg", "https://img.test/3.jpg"],
        size,
        RetryPolicy(),
    )
    creates = await run_batches(
        api,
        ["u1", "u2", "u3"],
        lambda u: create_job(u, options),
        operation_name="CreateEnhancedImages",
        mutation=True,
        size=size,
    )
    polls = await run_batches(
        api,
        ["j1", "j2", "j3"],
        poll_job,
        operation_name="PollEnhancedImages",
        mutation=False,
        size=size,
    )
    await run_batches(
        api,
        ["u1", "u2", "u3"],
        upload_jobs,
        operation_name="ReconcileUploads",
        mutation=False,
        size=size,
    )
    await api.http_client.aclose()
    assert [o.data for o in creates] == [JOB] * 3
    assert [EnhancedImageFields.model_validate(o.data).id for o in polls] == ["j"] * 3
    assert len(sent) == 4
    for body in sent:
        assert_valid(body["query"])
    assert sent == snapshot


def _fragment_fields(name: str) -> list[str]:
    from codegen.generate import ROOT

    document = parse((ROOT / "queries" / "fragments.graphql").read_text(encoding="utf-8"))
    for definition in document.definitions:
        if getattr(definition, "name", None) and definition.name.value == name:  # type: ignore[attr-defined]
            return [s.name.value for s in definition.selection_set.selections]  # type: ignore[attr-defined]
    raise AssertionError(name)


def test_selections_equal_the_generated_fragments() -> None:
    from viesus._selections import upload_selection
    from viesus_client.custom_mutations import Mutation
    from viesus_client.input_types import CreateUploadFromUrlInput

    job = poll_job("x").to_ast(0)
    upload = upload_selection(
        Mutation.create_upload_from_url(CreateUploadFromUrlInput(url="http://x"))
    ).to_ast(0)
    assert job.selection_set is not None
    assert upload.selection_set is not None
    assert [s.name.value for s in job.selection_set.selections] == _fragment_fields(  # type: ignore[attr-defined]
        "EnhancedImageFields"
    )
    assert [s.name.value for s in upload.selection_set.selections] == _fragment_fields(  # type: ignore[attr-defined]
        "UploadFields"
    )
