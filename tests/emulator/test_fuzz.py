"""schemathesis fuzzes a running emulator: 0 server errors, 0 crashes, 0 malformed answers.

Bounded and seeded (a few hundred generated documents, valid and invalid, against every root
field); ``make fuzz`` runs the same with many more examples. See ``fuzzing.py`` for what
counts as a failure.
"""

from __future__ import annotations

from collections import Counter
from urllib.parse import quote

import httpx
import requests
from hypothesis import given, seed, settings
from hypothesis import strategies as st

from tests.emulator.fuzzing import SEED, format_problem, fuzz_target, run

EXAMPLES = 15


def test_schemathesis_finds_no_failures() -> None:
    with fuzz_target() as emu:
        report = run(emu, EXAMPLES)
    assert report.failures == []
    assert not [status for status in report.statuses if status >= 500]
    # It really exercised the server: valid and invalid documents, and jobs on real uploads.
    assert report.statuses[200] > 0
    assert report.statuses[400] > 0
    assert report.jobs.get("FINISHED", 0) > 0
    assert report.examples >= 12 * EXAMPLES


def _response(status: int, body: bytes) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body
    return response


def test_the_format_check_catches_what_it_should() -> None:
    ok = b'{"data": null, "errors": [{"message": "m", "extensions": {"code": "NOT_FOUND"}}]}'
    assert format_problem(_response(200, ok)) is None
    assert format_problem(_response(200, b'{"data": {"a": 1}}')) is None
    assert format_problem(_response(500, ok)) == "HTTP 500"
    assert format_problem(_response(200, b"[]")) == "the body is not a JSON object"
    assert format_problem(_response(200, b"{}")) is not None
    assert format_problem(_response(200, b'{"errors": []}')) is not None
    assert format_problem(_response(400, b'{"errors": [{"message": "m"}]}')) is not None
    assert format_problem(_response(400, ok)) is not None  # a request error with data
    assert (
        format_problem(
            _response(200, b'{"errors": [{"message": "m", "extensions": {"code": "X"}}]}')
        )
        == "HTTP 200 without data"
    )


def test_storage_routes_never_fail_with_a_5xx() -> None:
    """The signed PUT and download routes (not GraphQL, so not schemathesis') under junk."""
    texts = st.text(min_size=0, max_size=40)
    with (
        fuzz_target() as emu,
        httpx.Client(base_url=emu.local_url, trust_env=False, timeout=30) as http,
    ):
        statuses: Counter[int] = Counter()

        @seed(SEED)
        @settings(max_examples=150, deadline=None, database=None)
        @given(
            method=st.sampled_from(["GET", "PUT"]),
            kind=st.sampled_from(["uploads", "enhanced", "other"]),
            parts=st.lists(texts, min_size=1, max_size=3),
            expires=st.one_of(st.none(), texts, st.integers().map(str)),
            signature=st.one_of(st.none(), texts),
            body=st.binary(max_size=64),
            content_type=st.one_of(st.none(), texts),
        )
        def probe(
            method: str,
            kind: str,
            parts: list[str],
            expires: str | None,
            signature: str | None,
            body: bytes,
            content_type: str | None,
        ) -> None:
            segments = ["uploads", *parts] if method == "PUT" else ["files", kind, *parts]
            path = "/" + "/".join(quote(segment, safe="") for segment in segments)
            params = {k: v for k, v in (("expires", expires), ("signature", signature)) if v}
            headers = {}
            # Only values an HTTP client can send at all (h11 refuses surrounding whitespace).
            if (
                content_type is not None
                and content_type.isprintable()
                and content_type.isascii()
                and content_type == content_type.strip()
            ):
                headers["content-type"] = content_type
            response = http.request(method, path, params=params, content=body, headers=headers)
            statuses[response.status_code] += 1
            assert response.status_code < 500, (method, path, params, response.text)

        probe()
    assert statuses[403] + statuses[404] + statuses[405] > 0


def test_signed_uploads_of_junk_never_fail_with_a_5xx() -> None:
    """Real signed URLs, junk bytes and headers, then completeSignedUpload: 4xx or an answer."""
    reserve = (
        "mutation($i: CreateSignedUploadUrlInput!) "
        "{ createSignedUploadUrl(input: $i) { uploadId uploadUrl } }"
    )
    complete = "mutation($u: ID!) { completeSignedUpload(uploadId: $u) { status metadata } }"
    with (
        fuzz_target() as emu,
        httpx.Client(trust_env=False, timeout=30, headers={"x-api-key": "fuzz"}) as http,
    ):
        outcomes: Counter[str] = Counter()

        @seed(SEED)
        @settings(max_examples=60, deadline=None, database=None)
        @given(
            body=st.one_of(
                st.binary(max_size=256),
                st.sampled_from([b"%PDF-1.7\n", b"\xff\xd8\xff\xe0junk", b"\x89PNG\r\n\x1a\n"]),
            ),
            declared=st.one_of(st.none(), st.integers(min_value=1, max_value=300)),
            mimetype=st.sampled_from(["image/jpeg", "image/png", "application/pdf", "x/y"]),
            sent_type=st.sampled_from(["same", "other", "none"]),
        )
        def probe(body: bytes, declared: int | None, mimetype: str, sent_type: str) -> None:
            size = declared or max(1, len(body))  # None: the true size (the PUT can succeed)
            variables = {"i": {"filename": "f.jpg", "filesize": size, "mimetype": mimetype}}
            signed = http.post(emu.endpoint, json={"query": reserve, "variables": variables})
            assert signed.status_code == 200, signed.text
            target = signed.json()["data"]["createSignedUploadUrl"]
            headers = {"same": {"content-type": mimetype}, "other": {"content-type": "a/b"}}
            put = http.put(target["uploadUrl"], content=body, headers=headers.get(sent_type, {}))
            assert put.status_code < 500, put.text
            done = http.post(
                emu.endpoint, json={"query": complete, "variables": {"u": target["uploadId"]}}
            )
            assert done.status_code == 200, done.text
            answer = done.json()
            assert format_problem(done) is None, answer
            if answer.get("data"):
                outcomes[answer["data"]["completeSignedUpload"]["status"]] += 1
            else:
                outcomes[answer["errors"][0]["extensions"]["code"]] += 1

        probe()
    assert outcomes["UPLOAD_NOT_RECEIVED"] > 0
    assert outcomes["UPLOAD_FAILED"] > 0
