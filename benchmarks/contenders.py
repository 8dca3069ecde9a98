"""One contender of the benchmark, run in its own process (its CPU time and peak RSS are its own).

``python -m benchmarks.contenders NAME --endpoint URL --sources FILE --out DIR --result FILE``

- ``docs-generated``: the docs' loop with the raw generated client: 16 images at a time, each
  uploaded, created, polled every 3 s (scaled) with one request per job, downloaded;
- ``docs-gql``: the same loop with ``gql`` (the docs' own example client, schema fetched);
- ``facade``: ``AsyncViesus.enhance_many`` with default settings (schedule scaled to the emulator);
- ``facade-webhooks``: the same with ``listen_for_webhooks()``;
- ``facade-baseline``: ``facade`` with another checkout's ``viesus`` (``--baseline DIR``: the
  orchestrator runs this file as a script with that checkout first on ``PYTHONPATH``).

``--planner-log FILE``: the poll planner's decisions at DEBUG, one JSON object a line after the
epoch time (read back by :mod:`benchmarks.outside`).

Writes JSON: when each job was seen done (epoch seconds), start and end of the run, CPU
seconds (user + system) and peak RSS. Counting requests is the server side's business.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import pkgutil
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

KEY = "bench"
OPTIONS = {"mode": "ENHANCE"}
DOCS_CONCURRENCY = 16
DOCS_POLL_SECONDS = 3.0


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


async def download(http: httpx.AsyncClient, url: str, dest: Path) -> None:
    async with http.stream("GET", url) as response:
        response.raise_for_status()
        with dest.open("wb") as file:
            async for chunk in response.aiter_bytes():
                file.write(chunk)


async def docs_generated(
    sources: list[str], endpoint: str, out: Path, scale: float, detected: dict[str, float]
) -> tuple[int, int]:
    from viesus_client import ViesusApiClient
    from viesus_client.input_types import (
        CreateSignedUploadUrlInput,
        CreateUploadFromUrlInput,
        EnhancedImageInput,
    )

    options = EnhancedImageInput.model_validate(OPTIONS)
    ok = failed = 0
    async with httpx.AsyncClient(timeout=120, trust_env=False) as http:
        api = ViesusApiClient(url=endpoint, headers={"x-api-key": KEY}, http_client=http)
        gate = asyncio.Semaphore(DOCS_CONCURRENCY)

        async def one(index: int, source: str) -> None:
            nonlocal ok, failed
            async with gate:
                if is_url(source):
                    made = await api.create_upload_from_url(CreateUploadFromUrlInput(url=source))
                    upload_id = made.create_upload_from_url.id
                else:
                    path = Path(source)
                    signed = (
                        await api.create_signed_upload_url(
                            CreateSignedUploadUrlInput(
                                filename=path.name,
                                filesize=path.stat().st_size,
                                mimetype="image/jpeg",
                            )
                        )
                    ).create_signed_upload_url
                    put = await http.put(
                        signed.upload_url,
                        content=path.read_bytes(),
                        headers={"content-type": "image/jpeg"},
                    )
                    put.raise_for_status()
                    await api.complete_signed_upload(signed.upload_id)
                    upload_id = signed.upload_id
                job = (await api.create_enhanced_image(upload_id, options)).create_enhanced_image
                while True:
                    await asyncio.sleep(DOCS_POLL_SECONDS * scale)
                    seen = (await api.get_enhanced_image(job.id)).enhanced_image
                    if seen is not None and seen.status.value in ("FINISHED", "ERROR"):
                        detected[job.id] = time.time()
                        break
                if seen.status.value != "FINISHED" or seen.full_url is None:
                    failed += 1
                    return
                await download(http, seen.full_url, out / f"{index:05d}.jpg")
                ok += 1

        outcomes = await asyncio.gather(
            *(one(i, s) for i, s in enumerate(sources)), return_exceptions=True
        )
        failed += sum(isinstance(outcome, Exception) for outcome in outcomes)
    return ok, failed


GQL_UPLOAD_URL = """mutation CreateUploadFromUrl($input: CreateUploadFromUrlInput!) {
  createUploadFromUrl(input: $input) { id status }
}"""
GQL_SIGNED = """mutation CreateSignedUploadUrl($input: CreateSignedUploadUrlInput!) {
  createSignedUploadUrl(input: $input) { uploadId uploadUrl }
}"""
GQL_COMPLETE = """mutation CompleteSignedUpload($uploadId: ID!) {
  completeSignedUpload(uploadId: $uploadId) { id status }
}"""
GQL_CREATE = """mutation CreateEnhancedImage($uploadId: ID!, $input: EnhancedImageInput) {
  createEnhancedImage(uploadId: $uploadId, input: $input) { id status }
}"""
GQL_POLL = """query GetEnhancedImage($id: ID!) {
  enhancedImage(id: $id) { id status fullUrl errorCode }
}"""


async def docs_gql(
    sources: list[str], endpoint: str, out: Path, scale: float, detected: dict[str, float]
) -> tuple[int, int]:
    from gql import Client, gql
    from gql.transport.httpx import HTTPXAsyncTransport

    documents = {
        name: gql(text)
        for name, text in {
            "url": GQL_UPLOAD_URL,
            "signed": GQL_SIGNED,
            "complete": GQL_COMPLETE,
            "create": GQL_CREATE,
            "poll": GQL_POLL,
        }.items()
    }
    transport = HTTPXAsyncTransport(url=endpoint, headers={"x-api-key": KEY}, timeout=120)
    ok = failed = 0
    # As in the docs' example: the schema is fetched, every document is validated against it.
    async with (
        Client(transport=transport, fetch_schema_from_transport=True) as session,
        httpx.AsyncClient(timeout=120, trust_env=False) as http,
    ):
        gate = asyncio.Semaphore(DOCS_CONCURRENCY)

        async def one(index: int, source: str) -> None:
            nonlocal ok, failed
            async with gate:
                if is_url(source):
                    made = await session.execute(
                        documents["url"], variable_values={"input": {"url": source}}
                    )
                    upload_id = made["createUploadFromUrl"]["id"]
                else:
                    path = Path(source)
                    signed = (
                        await session.execute(
                            documents["signed"],
                            variable_values={
                                "input": {
                                    "filename": path.name,
                                    "filesize": path.stat().st_size,
                                    "mimetype": "image/jpeg",
                                }
                            },
                        )
                    )["createSignedUploadUrl"]
                    put = await http.put(
                        signed["uploadUrl"],
                        content=path.read_bytes(),
                        headers={"content-type": "image/jpeg"},
                    )
                    put.raise_for_status()
                    upload_id = signed["uploadId"]
                    await session.execute(
                        documents["complete"], variable_values={"uploadId": upload_id}
                    )
                job = (
                    await session.execute(
                        documents["create"],
                        variable_values={"uploadId": upload_id, "input": OPTIONS},
                    )
                )["createEnhancedImage"]
                while True:
                    await asyncio.sleep(DOCS_POLL_SECONDS * scale)
                    seen = (
                        await session.execute(documents["poll"], variable_values={"id": job["id"]})
                    )["enhancedImage"]
                    if seen is not None and seen["status"] in ("FINISHED", "ERROR"):
                        detected[job["id"]] = time.time()
                        break
                if seen["status"] != "FINISHED" or not seen["fullUrl"]:
                    failed += 1
                    return
                await download(http, seen["fullUrl"], out / f"{index:05d}.jpg")
                ok += 1

        outcomes = await asyncio.gather(
            *(one(i, s) for i, s in enumerate(sources)), return_exceptions=True
        )
        failed += sum(isinstance(outcome, Exception) for outcome in outcomes)
    return ok, failed


async def facade(
    sources: list[str],
    endpoint: str,
    out: Path,
    scale: float,
    detected: dict[str, float],
    *,
    webhooks: bool,
) -> tuple[int, int]:
    from viesus import AsyncViesus, EnhanceOptions, PollSchedule
    from viesus._jobs import Job

    class Timed(AsyncViesus):
        """Notes when each wait ends (a timestamp, not a count)."""

        async def wait_job(self, job_id: str, timeout: float | None) -> Job:
            job = await super().wait_job(job_id, timeout)
            detected[job_id] = time.time()
            return job

        def watch_job(  # how a batch waits since jobs wait as records (older mains: wait_job)
            self,
            job_id: str,
            on_final: Callable[[Job | BaseException], None],
            timeout: float | None,
        ) -> Callable[[], None]:
            def timed(outcome: Job | BaseException) -> None:
                detected[job_id] = time.time()
                on_final(outcome)

            stop: Callable[[], None] = super().watch_job(job_id, timed, timeout)
            return stop

    if hasattr(PollSchedule, "scaled"):
        schedule = PollSchedule().scaled(scale)
    else:  # the baseline (main before queue-aware polling): scale its times by hand
        default = PollSchedule()
        schedule = PollSchedule(
            first=default.first * scale,
            cap=default.cap * scale,
            safety_interval=default.safety_interval * scale,
            error_backoff=default.error_backoff * scale,
        )
    ok = failed = 0
    async with Timed(api_key=KEY, endpoint=endpoint, poll_schedule=schedule) as viesus:

        async def run() -> None:
            nonlocal ok, failed
            items: list[str | Path] = [s if is_url(s) else Path(s) for s in sources]
            async for result in viesus.enhance_many(
                items, EnhanceOptions.model_validate(OPTIONS), out
            ):
                if result.status == "finished":
                    ok += 1
                else:
                    failed += 1

        if webhooks:
            async with viesus.listen_for_webhooks():
                await run()
        else:
            await run()
    return ok, failed


def status_kb(field: str = "VmRSS") -> int:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of this process, KiB. Not ``ru_maxrss``: Linux keeps
    that across ``exec``, so a child would report its parent's peak at the fork if higher.
    (Here because this file also runs as a plain script, importing nothing of ``benchmarks``.)"""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


async def run(
    name: str, sources: list[str], endpoint: str, out: Path, scale: float
) -> dict[str, Any]:
    detected: dict[str, float] = {}
    # Imports and interpreter start-up are not the run's: load every module first (the
    # facade imports some lazily; a long-running process pays that once, not per image).
    import gql  # noqa: F401
    import PIL.Image  # noqa: F401  (the facade's header reads)

    import viesus
    import viesus_client

    for package in (viesus, viesus_client):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if module.name.endswith("__main__"):
                continue  # importing it would run the CLI
            with contextlib.suppress(Exception):
                importlib.import_module(module.name)

    rss_before = status_kb()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = usage.ru_utime + usage.ru_stime
    sys_before = usage.ru_stime
    start = time.time()
    if name == "docs-generated":
        ok, failed = await docs_generated(sources, endpoint, out, scale, detected)
    elif name == "docs-gql":
        ok, failed = await docs_gql(sources, endpoint, out, scale, detected)
    elif name in ("facade", "facade-baseline", "facade-webhooks"):
        ok, failed = await facade(
            sources, endpoint, out, scale, detected, webhooks=name == "facade-webhooks"
        )
    else:
        raise SystemExit(f"unknown contender {name!r}")
    end = time.time()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "name": name,
        "ok": ok,
        "failed": failed,
        "start": start,
        "end": end,
        "cpu": usage.ru_utime + usage.ru_stime - cpu_before,
        "cpu_system": usage.ru_stime - sys_before,  # the kernel's share (files, sockets, fsync)
        "rss_before_kb": rss_before,
        "peak_rss_kb": status_kb("VmHWM"),
        "detected": detected,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.contenders")
    parser.add_argument("name")
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--sources", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--result", type=Path, required=True)
    parser.add_argument("--time-scale", type=float, required=True)
    parser.add_argument(
        "--planner-log", type=Path, default=None, help="the poll planner's decisions (JSON lines)"
    )
    args = parser.parse_args()
    if args.planner_log is not None:
        import logging

        handler = logging.FileHandler(args.planner_log, mode="w")
        handler.setFormatter(logging.Formatter("%(created).4f %(message)s"))
        planner = logging.getLogger("viesus._poll_planner")
        planner.setLevel(logging.DEBUG)
        planner.addHandler(handler)
    sources = json.loads(args.sources.read_text())
    args.out.mkdir(parents=True, exist_ok=True)
    result = asyncio.run(run(args.name, sources, args.endpoint, args.out, args.time_scale))
    args.result.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
