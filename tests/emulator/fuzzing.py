"""Fuzz a running emulator with schemathesis (GraphQL generated from its own introspection).

Used by ``tests/emulator/test_fuzz.py`` (few examples, seeded, part of the suite) and by
``make fuzz`` (``python -m tests.emulator.fuzzing --examples 300``) for longer runs.

What counts as a failure (the emulator's contract, not schemathesis' default checks):

- an HTTP 5xx, a dropped connection or a timeout;
- a response that breaks the GraphQL-over-HTTP response format: not a JSON object; keys other
  than ``data``/``errors``/``extensions``; ``errors`` not a non-empty list of objects with a
  string ``message`` and a string ``extensions.code``; a 200 without ``data`` or a request
  error (4xx) with ``data``.

GraphQL field errors with ``data: null`` (a ``NOT_FOUND`` for a random id on a non-null
mutation field) are answers, not failures: schemathesis' ``not_a_server_error`` check would
report them (ST113), so it is not used.

The emulator under fuzz contacts no host but 127.0.0.1 (``fetch_hosts``): generated URLs
never cause a DNS lookup or a connection elsewhere.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import json
import time
import unittest
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from PIL import Image
from schemathesis import GenerationMode
from schemathesis.graphql import nodes

from viesus_emulator import Emulator, EmulatorConfig

API_KEY = "fuzz"
HEADERS = {"x-api-key": API_KEY}
SEED = 20261130
FORMAT_KEYS = {"data", "errors", "extensions"}
#: Valid documents with generated arguments, and documents with invalid arguments.
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)


def register_scalars(known_ids: list[str]) -> None:
    """Strategies for the schema's custom scalars, and ids that half of the time exist.

    ``ID`` is built in, but hypothesis-graphql takes a custom strategy for it too: with real
    upload ids, generated ``createEnhancedImage`` inputs reach the engine.
    """
    ids = st.sampled_from(known_ids) if known_ids else st.nothing()
    schemathesis.graphql.scalar("ID", st.one_of(ids, st.uuids().map(str)).map(nodes.String))
    # Mostly plausible strengths, sometimes any float, or a string the scalar must refuse.
    decimals = st.decimals(min_value=Decimal(-2), max_value=Decimal(2), places=3)
    schemathesis.graphql.scalar(
        "Decimal",
        st.one_of(
            decimals.map(lambda d: nodes.Float(float(d))),
            st.floats(allow_nan=False, allow_infinity=False).map(nodes.Float),
            st.text(max_size=12).map(nodes.String),
        ),
    )
    schemathesis.graphql.scalar(
        "DateTime",
        st.one_of(st.just("2026-11-30T12:00:00.000Z"), st.text(max_size=30)).map(nodes.String),
    )
    schemathesis.graphql.scalar("JSON", st.text(max_size=20).map(nodes.String))
    schemathesis.graphql.scalar(
        "EnhancedImageParametersPreset", st.text(max_size=30).map(nodes.String)
    )


def format_problem(response: requests.Response | httpx.Response) -> str | None:
    """Why ``response`` breaks the emulator's GraphQL response contract, or None."""
    if response.status_code >= 500:
        return f"HTTP {response.status_code}"
    try:
        body = response.json()
    except ValueError:
        return "the body is not JSON"
    if not isinstance(body, dict):
        return "the body is not a JSON object"
    if not set(body) <= FORMAT_KEYS or not set(body) & {"data", "errors"}:
        return f"unexpected top-level keys {sorted(body)}"
    if "errors" in body:
        errors = body["errors"]
        if not isinstance(errors, list) or not errors:
            return "errors is not a non-empty list"
        for error in errors:
            if not isinstance(error, dict) or not isinstance(error.get("message"), str):
                return f"an error without a message: {error!r}"
            code = (error.get("extensions") or {}).get("code")
            if not isinstance(code, str):
                return f"an error without extensions.code: {error!r}"
    if response.status_code == 200 and "data" not in body:
        return "HTTP 200 without data"
    if 400 <= response.status_code < 500 and "data" in body:
        return f"HTTP {response.status_code} (a request error) with data"
    if "data" in body and body["data"] is not None and not isinstance(body["data"], dict):
        return "data is neither an object nor null"
    return None


@dataclass
class FuzzReport:
    examples: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    #: (operation, problem, query, variables) of every failure.
    failures: list[tuple[str, str, str, str]] = field(default_factory=list)
    #: Jobs the generated creates made, by "STATUS errorCode".
    jobs: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0


@contextlib.contextmanager
def fuzz_target() -> Iterator[Emulator]:
    """An emulator for fuzzing: fast jobs, a key of its own, no outgoing requests elsewhere."""
    config = EmulatorConfig(
        api_keys=(API_KEY,),
        time_scale=0.0,
        webhook_retry_delays=(),
        fetch_timeout=2.0,
        webhook_timeout=1.0,
        fetch_hosts=frozenset({"127.0.0.1"}),
        credits=10**9,  # generated creates must not run out of credits
        seed=SEED,
    )
    with Emulator(config).running_in_thread() as emu:
        yield emu


def prepare_uploads(emu: Emulator) -> list[str]:
    """Two finished uploads (a JPEG and a PNG) whose ids the fuzzer may use."""
    ids = []
    with httpx.Client(trust_env=False, timeout=30) as http:
        for name, fmt, mimetype in (("a.jpg", "JPEG", "image/jpeg"), ("b.png", "PNG", "image/png")):
            buffer = io.BytesIO()
            Image.linear_gradient("L").resize((64, 48)).convert("RGB").save(buffer, fmt)
            data = buffer.getvalue()
            query = (
                "mutation($i: CreateSignedUploadUrlInput!) "
                "{ createSignedUploadUrl(input: $i) { uploadId uploadUrl } }"
            )
            variables = {"i": {"filename": name, "filesize": len(data), "mimetype": mimetype}}
            answer = http.post(
                emu.endpoint, json={"query": query, "variables": variables}, headers=HEADERS
            ).json()["data"]["createSignedUploadUrl"]
            http.put(answer["uploadUrl"], content=data, headers={"content-type": mimetype})
            done = http.post(
                emu.endpoint,
                json={
                    "query": "mutation($u: ID!) { completeSignedUpload(uploadId: $u) { status } }",
                    "variables": {"u": answer["uploadId"]},
                },
                headers=HEADERS,
            ).json()
            assert done["data"]["completeSignedUpload"]["status"] == "UPLOAD_FINISHED", done
            ids.append(answer["uploadId"])
    return ids


def run(emu: Emulator, examples: int, *, seed_value: int = SEED) -> FuzzReport:
    """``examples`` generated cases per operation and mode, seeded; returns what happened."""
    register_scalars(prepare_uploads(emu))
    headers = dict(HEADERS)
    schema = schemathesis.graphql.from_url(emu.endpoint, headers=headers, timeout=30)
    report = FuzzReport()
    started = time.monotonic()
    with requests.Session() as session:
        session.trust_env = False  # the emulator is local: never through a proxy
        for result, mode in itertools.product(list(schema.get_all_operations()), MODES):
            operation = result.ok()
            check = _checker(f"{operation.label} ({mode.value})", report, session, headers)
            runner = seed(seed_value)(
                settings(
                    max_examples=examples,
                    deadline=None,
                    database=None,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )(given(case=operation.as_strategy(generation_mode=mode))(check))
            )
            with contextlib.suppress(unittest.SkipTest):  # no invalid input for this one
                runner()
    # Jobs run in the background: a crash there shows as PROCESSING_FAILED (no job faults
    # are injected here), never in an HTTP answer.
    emu.run_coroutine(emu.drain(120), timeout=130)
    for job in list(emu.state.store.jobs.values()):
        report.jobs[f"{job.status} {job.error_code or ''}".strip()] += 1
        if job.error_code == "PROCESSING_FAILED":
            report.failures.append(("job", f"worker failed: {job.error_message}", "", ""))
    report.seconds = time.monotonic() - started
    return report


def _checker(
    label: str, report: FuzzReport, session: requests.Session, headers: dict[str, str]
) -> Any:
    """The per-case check of one operation: call, count, judge the response format."""

    def check(case: Any) -> None:
        report.examples += 1
        try:
            response = case.call(session=session, headers=headers, timeout=30)
        except requests.RequestException as exc:
            report.failures.append((label, type(exc).__name__, str(case.body), ""))
            return
        report.statuses[response.status_code] += 1
        with contextlib.suppress(ValueError, AttributeError, TypeError):
            for error in response.json().get("errors") or []:
                report.codes[str((error.get("extensions") or {}).get("code"))] += 1
        problem = format_problem(response)
        if problem is not None:
            body = case.body if isinstance(case.body, dict) else {}
            query, variables = str(body.get("query", "")), json.dumps(body.get("variables"))
            report.failures.append((label, problem, query, variables))

    return check


def main() -> None:
    parser = argparse.ArgumentParser(description="Fuzz the emulator with schemathesis.")
    parser.add_argument("--examples", type=int, default=300, help="cases per operation")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    with fuzz_target() as emu:
        report = run(emu, args.examples, seed_value=args.seed)
        five_xx = sum(n for status, n in report.statuses.items() if status >= 500)
        print(
            f"{report.examples} examples in {report.seconds:.1f} s; statuses "
            f"{dict(sorted(report.statuses.items()))}; 5xx: {five_xx}; "
            f"failures: {len(report.failures)}"
        )
        print(f"error codes: {dict(report.codes.most_common())}")
        print(f"jobs: {dict(report.jobs.most_common())}")
        for label, problem, query, variables in report.failures[:20]:
            print(f"FAIL {label}: {problem}\n  query: {query}\n  variables: {variables}")
    raise SystemExit(1 if report.failures else 0)


if __name__ == "__main__":
    main()
