"""The emulator's HTTP surface: one Starlette app."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from stat import S_ISREG
from typing import Any

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from viesus_emulator import _uploads as uploads
from viesus_emulator._cors import StorageCors
from viesus_emulator._graphql_http import GraphQLEndpoint, InjectedDisconnect
from viesus_emulator._store import FINISHED, UPLOAD_FINISHED
from viesus_emulator._world import EmulatorState

access_log = logging.getLogger("viesus_emulator.access")
http_log = logging.getLogger("viesus_emulator.http")
#: Status recorded (access log) for a request whose client went away mid-body (nginx's 499);
#: nothing is sent: the connection is gone.
CLIENT_CLOSED_REQUEST = 499

ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def _storage_error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


async def _client_gone(request: Request, exc: Exception) -> Response:
    """A body cut short by its client (or by the read timeout) is routine for a server: one
    line, not the traceback uvicorn logs for an exception escaping the app."""
    http_log.info(
        "%s %s: the connection closed before the request body was complete",
        request.method,
        request.url.path,
    )
    return Response(status_code=CLIENT_CLOSED_REQUEST)


def build_app(state: EmulatorState) -> Starlette:
    graphql = GraphQLEndpoint(state)

    def check_signature(request: Request, method: str) -> Response | None:
        reason = state.signer.verify(
            method,
            request.scope["path"],
            request.query_params.get("expires"),
            request.query_params.get("signature"),
        )
        return _storage_error(403, "AccessDenied", reason) if reason else None

    async def put_upload(request: Request) -> Response:
        denied = check_signature(request, "PUT")
        if denied is not None:
            return denied
        try:
            size = await uploads.receive_put(
                state,
                request.path_params["upload_id"],
                request.headers.get("content-type"),
                request.headers.get("content-length"),
                request.stream(),
            )
        except uploads.PutRejected as exc:
            return _storage_error(exc.status, exc.code, exc.message)
        return JSONResponse({"uploadId": request.path_params["upload_id"], "size": size})

    async def download(request: Request) -> Response:
        denied = check_signature(request, "GET")
        if denied is not None:
            return denied
        kind = request.path_params["kind"]
        record_id = request.path_params["record_id"]
        filename = request.path_params["filename"]
        path: Path | None = None
        media_type: str | None = None
        if kind == "uploads":
            upload = state.store.uploads.get(record_id)
            if upload and upload.status == UPLOAD_FINISHED and upload.filename == filename:
                path, media_type = upload.path, upload.mimetype
        elif kind == "enhanced":
            job = state.store.jobs.get(record_id)
            if job and job.status == FINISHED and job.filename == filename:
                path, media_type = job.result_path, job.result_mimetype
        if path is not None:
            # The file may have been deleted from outside (or swept): a 404, never a 500.
            # The stat result is handed on, so FileResponse does not look it up again.
            try:
                stat = await asyncio.to_thread(os.stat, path)
            except OSError:
                stat = None
            if stat is not None and S_ISREG(stat.st_mode):
                return FileResponse(
                    path, media_type=media_type, filename=filename, stat_result=stat
                )
        return _storage_error(404, "NoSuchKey", "no such file")

    async def stats(_: Request) -> Response:
        return JSONResponse(state.stats_snapshot())

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    routes = [
        Route("/graphql", graphql.handle, methods=ALL_METHODS),
        Route("/uploads/{upload_id}", put_upload, methods=["PUT"]),
        Route("/files/{kind}/{record_id}/{filename}", download, methods=["GET"]),
        Route("/stats", stats, methods=["GET"]),
        Route("/healthz", health, methods=["GET"]),
    ]
    app: Starlette = Starlette(routes=routes, exception_handlers={ClientDisconnect: _client_gone})
    if state.config.cors_origins:
        app.add_middleware(StorageCors, origins=state.config.cors_origins)
    return app


class AccessLog:
    """One line per request: method, path WITHOUT query string (signed tokens), status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status: list[Any] = [None]

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            access_log.info("%s %s %s", scope["method"], scope["path"], status[0] or "-")


class _HideInjectedDisconnects(logging.Filter):
    """Injected connection drops are deliberate: keep uvicorn from logging them as crashes."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, InjectedDisconnect)


_FILTER = _HideInjectedDisconnects()


def install_log_filter() -> None:
    logger = logging.getLogger("uvicorn.error")
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
