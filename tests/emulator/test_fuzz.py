"""schemathesis fuzzes a running emulator: 0 server errors, 0 crashes, 0 malformed answers.

Bounded and seeded (a few hundred generated documents, valid and invalid, against every root
field); ``make fuzz`` runs the same with many more examples. See ``fuzzing.py`` for what
counts as a failure.
"""

from __future__ import annotations

import requests

from tests.emulator.fuzzing import format_problem, fuzz_target, run

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
