"""Resolvers of every root field, thin: the behaviour lives in uploads, jobs and the ledger.

Unknown ids: the nullable query fields answer null; mutations raise ``NOT_FOUND``.
"""

from __future__ import annotations

import secrets
from typing import Any

from ariadne import MutationType, ObjectType, QueryType
from graphql import GraphQLResolveInfo

from viesus_emulator import _codes as codes
from viesus_emulator import _jobs as jobs
from viesus_emulator import _uploads as uploads
from viesus_emulator._pdf import analysis as pdf_analysis
from viesus_emulator._store import UploadRecord, WebhookRecord, new_id, utcnow
from viesus_emulator._url_policy import UrlRefused
from viesus_emulator._validation import is_http_url
from viesus_emulator._views import job_view, upload_view, webhook_view
from viesus_emulator._world import EmulatorState

query = QueryType()
mutation = MutationType()
upload_type = ObjectType("Upload")


def _state(info: GraphQLResolveInfo) -> EmulatorState:
    state = info.context["state"]
    assert isinstance(state, EmulatorState)
    return state


def _upload(state: EmulatorState, upload: UploadRecord) -> dict[str, Any]:
    return upload_view(upload, state.signer, state.config.download_url_ttl)


# --- queries ----------------------------------------------------------------------------------


@query.field("credits")
def resolve_credits(_: None, info: GraphQLResolveInfo) -> dict[str, Any]:
    return _state(info).ledger.snapshot(utcnow())


@query.field("upload")
def resolve_upload(_: None, info: GraphQLResolveInfo, id: str) -> dict[str, Any] | None:
    state = _state(info)
    upload = state.store.uploads.get(id)
    return None if upload is None else _upload(state, upload)


@query.field("enhancedImage")
def resolve_enhanced_image(_: None, info: GraphQLResolveInfo, id: str) -> dict[str, Any] | None:
    state = _state(info)
    job = state.store.jobs.get(id)
    return None if job is None else job_view(job, state.signer, state.config.download_url_ttl)


@query.field("webhooks")
def resolve_webhooks(_: None, info: GraphQLResolveInfo) -> list[dict[str, Any]]:
    return [webhook_view(w, with_secret=False) for w in _state(info).store.webhooks.values()]


@query.field("webhook")
def resolve_webhook(_: None, info: GraphQLResolveInfo, id: str) -> dict[str, Any] | None:
    webhook = _state(info).store.webhooks.get(id)
    return None if webhook is None else webhook_view(webhook, with_secret=False)


@upload_type.field("EnhancedImages")
def resolve_upload_jobs(obj: dict[str, Any], info: GraphQLResolveInfo) -> list[dict[str, Any]]:
    state = _state(info)
    ttl = state.config.download_url_ttl
    return [job_view(job, state.signer, ttl) for job in state.store.jobs_of(obj["id"])]


# --- mutations --------------------------------------------------------------------------------


@mutation.field("createUploadFromUrl")
async def resolve_create_upload_from_url(
    _: None, info: GraphQLResolveInfo, input: dict[str, Any]
) -> dict[str, Any]:
    state = _state(info)
    return _upload(state, await uploads.create_from_url(state, input["url"]))


@mutation.field("createSignedUploadUrl")
def resolve_create_signed_upload_url(
    _: None, info: GraphQLResolveInfo, input: dict[str, Any]
) -> dict[str, Any]:
    api_key = info.context["request"].headers["x-api-key"]  # checked before execution
    upload, url = uploads.create_signed(
        _state(info), api_key, input["filename"], input["filesize"], input["mimetype"]
    )
    return {"uploadId": upload.id, "uploadUrl": url}


@mutation.field("completeSignedUpload")
async def resolve_complete_signed_upload(
    _: None, info: GraphQLResolveInfo, uploadId: str
) -> dict[str, Any]:
    state = _state(info)
    return _upload(state, await uploads.complete_signed(state, uploadId))


@mutation.field("analyzePdf")
def resolve_analyze_pdf(_: None, info: GraphQLResolveInfo, uploadId: str) -> dict[str, Any]:
    state = _state(info)
    return _upload(state, pdf_analysis.request_analysis(state, uploadId))


@mutation.field("createEnhancedImage")
def resolve_create_enhanced_image(
    _: None, info: GraphQLResolveInfo, uploadId: str, input: dict[str, Any] | None = None
) -> dict[str, Any]:
    state = _state(info)
    job = jobs.create_job(state, uploadId, input)
    return job_view(job, state.signer, state.config.download_url_ttl)


@mutation.field("createWebhook")
def resolve_create_webhook(
    _: None, info: GraphQLResolveInfo, input: dict[str, Any]
) -> dict[str, Any]:
    state = _state(info)
    url = input["url"]
    if not is_http_url(url):
        raise codes.graphql_error(
            codes.BAD_USER_INPUT, "url must be an absolute http(s) URL", field="url"
        )
    try:
        state.url_policy.check_url(url)  # literal addresses now; names again at delivery
    except UrlRefused as exc:
        raise codes.graphql_error(codes.BAD_USER_INPUT, str(exc), field="url") from exc
    limit = state.config.max_webhooks
    if len(state.store.webhooks) >= limit:
        raise codes.graphql_error(
            codes.LIMIT_EXCEEDED, f"at most {limit} webhooks per account", limit=limit
        )
    webhook = WebhookRecord(id=new_id(), url=url, created_at=utcnow(), secret=secrets.token_hex(32))
    state.store.webhooks[webhook.id] = webhook
    return webhook_view(webhook, with_secret=True)


@mutation.field("deleteWebhook")
def resolve_delete_webhook(_: None, info: GraphQLResolveInfo, id: str) -> dict[str, Any]:
    if _state(info).store.webhooks.pop(id, None) is None:
        raise codes.graphql_error(codes.NOT_FOUND, "no webhook with this id", id=id)
    return {"success": True}


BINDABLES = (query, mutation, upload_type)
