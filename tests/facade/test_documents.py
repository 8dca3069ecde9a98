"""Snapshots of the exact aliased documents and variables the facade sends (contracts)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from graphql import OperationType, build_schema, parse, validate
from syrupy.assertion import SnapshotAssertion

from codegen.generate import SCHEMA
from viesus._aliased_requests import BatchSize, run_batches
from viesus._retries import RetryPolicy
from viesus._selections import (
    aliased_document,
    create_job,
    poll_job,
    upload_jobs,
    upload_selection,
)
from viesus._uploads import confirmation, upload_urls
from viesus_client import ViesusApiClient
from viesus_client.base_operation import GraphQLField
from viesus_client.custom_mutations import Mutation
from viesus_client.fragments import EnhancedImageFields
from viesus_client.input_types import CreateUploadFromUrlInput, EnhancedImageInput

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
    await run_batches(
        api,
        ["u1", "u2", "u3"],
        confirmation,
        operation_name="CompleteSignedUploads",
        mutation=True,
        size=size,
    )
    await api.http_client.aclose()
    assert [o.data for o in creates] == [JOB] * 3
    assert [EnhancedImageFields.model_validate(o.data).id for o in polls] == ["j"] * 3
    assert len(sent) == 5
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
    confirmed = confirmation("x").to_ast(0)
    assert confirmed.selection_set is not None
    assert [s.name.value for s in confirmed.selection_set.selections] == _fragment_fields(  # type: ignore[attr-defined]
        "CompletedUploadFields"
    )


def _generated_text(fields: list[GraphQLField], operation_name: str, mutation: bool) -> str:
    """The document the generated client would print for these fields (the slow path)."""
    from graphql import print_ast

    api = ViesusApiClient(url="http://api.test/graphql")
    selections = api._build_selection_set(tuple(fields))
    variables = api._combine_variables(tuple(fields))
    definitions = api._build_variable_definitions(variables["types"])
    operation = api._build_operation_ast(
        selections,
        OperationType.MUTATION if mutation else OperationType.QUERY,
        operation_name,
        definitions,
    )
    return print_ast(operation)


@pytest.mark.parametrize("count", [1, 2, 3, 50])
def test_cached_documents_equal_the_generated_builders(count: int) -> None:
    """Polls, reconciliations and uploads: the same text as the generated client prints."""
    cases: list[tuple[list[GraphQLField], str, bool]] = [
        ([poll_job(f"j{i}") for i in range(count)], "PollEnhancedImages", False),
        ([upload_jobs(f"u{i}") for i in range(count)], "ReconcileUploads", False),
        (
            [
                upload_selection(
                    Mutation.create_upload_from_url(CreateUploadFromUrlInput(url=f"http://x/{i}"))
                )
                for i in range(count)
            ],
            "CreateUploadsFromUrl",
            True,
        ),
    ]
    for fields, name, mutation in cases:
        aliases = [f"a{i}" for i in range(count)]
        text, variables = aliased_document(fields, aliases, name, mutation=mutation)
        expected = _generated_text(
            [f.alias(a) for f, a in zip(fields, aliases, strict=True)], name, mutation
        )
        assert text == expected
        assert_valid(text)
        assert len(variables) == count


def test_shared_options_are_one_input_variable_and_valid() -> None:
    options = EnhancedImageInput.model_validate({"mode": "ENHANCE", "upscalingFactor": "X2"})
    fields = [create_job(f"u{i}", options) for i in range(50)]
    text, variables = aliased_document(
        fields, [f"a{i}" for i in range(50)], "CreateEnhancedImages", mutation=True
    )
    assert_valid(text)
    assert text.count("$input:") == 1
    assert variables["input"] is options
    assert sorted(k for k in variables if k.startswith("uploadId_")) == sorted(
        f"uploadId_{i}" for i in range(50)
    )
    # The same K and shape give the same (cached) text object.
    again, _ = aliased_document(
        [create_job(f"v{i}", options) for i in range(50)],
        [f"a{i}" for i in range(50)],
        "CreateEnhancedImages",
        mutation=True,
    )
    assert again is text


def test_different_options_per_item_get_their_own_variables() -> None:
    first = EnhancedImageInput.model_validate({"mode": "ENHANCE"})
    second = EnhancedImageInput.model_validate({"upscalingFactor": "X2"})
    fields = [create_job("u0", first), create_job("u1", second)]
    text, variables = aliased_document(fields, ["a0", "a1"], "CreateEnhancedImages", mutation=True)
    assert_valid(text)
    assert "$input:" not in text
    assert variables["input_0"] is first
    assert variables["input_1"] is second
