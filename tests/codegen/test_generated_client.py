"""The generated typed client against a real server, and the exact bytes it sends."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
import pytest
from syrupy.assertion import SnapshotAssertion

from viesus_client import (
    CreateWebhookInput,
    CustomColorConfigInput,
    EnhancedImageInput,
    EnhancedImageParametersUpscalingFactor,
    ViesusApiClient,
)
from viesus_client.custom_fields import CreditsFields, EnhancedImageFields
from viesus_client.custom_queries import Query
from viesus_client.exceptions import GraphQLClientGraphQLMultiError, GraphQLClientHttpError


async def test_query_against_server(schema_server: str) -> None:
    async with ViesusApiClient(url=schema_server) as client:
        result = await client.get_credits()
    assert result.credits is not None
    assert result.credits.remaining_credits_this_period == 93
    assert result.credits.period_start is not None
    assert result.credits.period_start.year == 2026


async def test_mutation_against_server(schema_server: str) -> None:
    async with ViesusApiClient(url=schema_server) as client:
        result = await client.create_webhook(CreateWebhookInput(url="https://example.test/hook"))
    assert result.create_webhook.id == "wh_1"
    assert result.create_webhook.url == "https://example.test/hook"


async def test_aliased_custom_query_against_server(schema_server: str) -> None:
    async with ViesusApiClient(url=schema_server) as client:
        data = await client.query(
            Query.enhanced_image(id="a").alias("j0").fields(EnhancedImageFields.id),
            Query.credits().alias("c").fields(CreditsFields.remaining_credits_this_period),
            operation_name="Mixed",
        )
    assert data == {"j0": None, "c": {"remainingCreditsThisPeriod": 93}}


async def test_errors_only_answer_is_a_typed_error(schema_server: str) -> None:
    async with ViesusApiClient(url=schema_server) as client:
        with pytest.raises((GraphQLClientGraphQLMultiError, GraphQLClientHttpError)):
            # deleteWebhook is non-null and has no resolver: the whole data is null.
            await client.delete_webhook("nope")


async def test_shared_http_client_is_not_closed_by_the_generated_client(
    schema_server: str,
) -> None:
    async with httpx.AsyncClient() as shared:
        async with ViesusApiClient(url=schema_server, http_client=shared) as client:
            await client.get_credits()
        assert not shared.is_closed


async def test_create_enhanced_image_request_body(snapshot: SnapshotAssertion) -> None:
    """Unset optional inputs are omitted (not null); Decimals go out as JSON numbers."""
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        job = {
            "id": "job_1",
            "status": "QUEUED",
            "fullUrl": None,
            "filename": None,
            "viesusDuration": None,
            "errorCode": None,
        }
        return httpx.Response(200, json={"data": {"createEnhancedImage": job}})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        client = ViesusApiClient(
            url="https://api.viesus.cloud/graphql",
            headers={"x-api-key": "k"},
            http_client=http,
        )
        result = await client.create_enhanced_image(
            upload_id="up_1",
            input=EnhancedImageInput(
                upscaling_factor=EnhancedImageParametersUpscalingFactor.X2,
                noise_reduction_profiling_strength=Decimal("0.35"),
                red_eye_corrections_strength=Decimal("1"),
                custom_color_config=CustomColorConfigInput(highlightfac=Decimal("0.10")),
            ),
        )
    assert result.create_enhanced_image.id == "job_1"
    (request,) = sent
    body: dict[str, Any] = json.loads(request.content)
    assert body["variables"] == {
        "uploadId": "up_1",
        "input": {
            "upscalingFactor": "X2",
            "noiseReductionProfilingStrength": 0.35,
            "redEyeCorrectionsStrength": 1,
            "customColorConfig": {"highlightfac": 0.1},
        },
    }
    assert request.headers["content-type"] == "application/json"
    assert "application/graphql-response+json" in request.headers["accept"]
    assert body == snapshot
    assert request.content == snapshot(name="raw-bytes")


def test_decimal_serialiser_refuses_silent_rounding() -> None:
    from viesus_client.scalars import parse_decimal, serialize_decimal

    assert serialize_decimal(Decimal("0.5")) == 0.5
    assert serialize_decimal(Decimal("2")) == 2
    with pytest.raises(ValueError, match="more precision"):
        serialize_decimal(Decimal("0.12345678901234567890"))
    with pytest.raises(ValueError, match="not a finite"):
        serialize_decimal(Decimal("NaN"))
    assert parse_decimal(0.1) == Decimal("0.1")
    assert parse_decimal("0.25") == Decimal("0.25")
