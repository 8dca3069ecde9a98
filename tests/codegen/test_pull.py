"""``codegen pull`` against real servers on 127.0.0.1: round trip, errors, CLI."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion

from codegen.pull import PullError, fetch_sdl
from codegen.sdl import introspected_header, schema_text, split_header
from tests.codegen.conftest import ROOT, schema_app
from tests.servers import serve_in_thread


def test_pull_round_trip_keeps_the_schema_and_says_introspected(
    schema_server: str, committed_sdl: str, snapshot: SnapshotAssertion
) -> None:
    pulled = fetch_sdl(schema_server, api_key="")
    assert schema_text(pulled) == schema_text(committed_sdl)
    header, _ = split_header(pulled)
    assert header == introspected_header(schema_server)
    assert "RECONSTRUCTED" not in header
    # The snapshot pins the wording; the test server's port is the only varying part.
    port = schema_server.split(":")[2].split("/")[0]
    assert header.replace(f":{port}/", ":PORT/") == snapshot
    assert fetch_sdl(schema_server, api_key="") == pulled, "same server, same bytes"


def test_pulled_header_names_the_endpoint_without_secrets(schema_server: str) -> None:
    user_endpoint = schema_server.replace("http://", "http://someone:pa55word@") + "?token=abc#x"
    header, _ = split_header(fetch_sdl(user_endpoint, api_key="key-123"))
    assert f"# INTROSPECTED from {schema_server}\n" in header
    for secret in ("someone", "pa55word", "token", "abc", "key-123"):
        assert secret not in header
    assert not re.search(r"\d{4}-\d\d-\d\d|\d\d:\d\d:\d\d", header), "no timestamp"


def test_pull_cli_writes_the_file_once(schema_server: str, tmp_path: Path) -> None:
    out = tmp_path / "pulled.graphql"
    for expected in ("written", "unchanged"):
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "codegen",
                "pull",
                "--endpoint",
                schema_server,
                "--out",
                str(out),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert expected in result.stdout
    committed = (ROOT / "schema" / "viesus.graphql").read_text(encoding="utf-8")
    pulled = out.read_text(encoding="utf-8")
    assert pulled == introspected_header(schema_server) + schema_text(committed)


def _app_answering(status: int, body: bytes, content_type: str) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", content_type.encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app


def test_pull_sends_api_key_and_reports_401() -> None:
    seen: list[str | None] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        headers = dict(scope["headers"])
        seen.append(headers.get(b"x-api-key", b"").decode() or None)
        body = json.dumps({"errors": [{"message": "bad key"}]}).encode()
        await send({"type": "http.response.start", "status": 401, "headers": []})
        await send({"type": "http.response.body", "body": body})

    with (
        serve_in_thread(app) as base,
        pytest.raises(PullError, match=r"refused the API key \(HTTP 401\)") as info,
    ):
        fetch_sdl(f"{base}/graphql?token=abc", api_key="key-123")
    assert seen == ["key-123"]
    assert "key-123" not in str(info.value)
    assert "token=abc" not in str(info.value)


def test_pull_reports_a_non_graphql_answer() -> None:
    with (
        serve_in_thread(_app_answering(200, b"<html>hi</html>", "text/html")) as base,
        pytest.raises(PullError, match="not a GraphQL response"),
    ):
        fetch_sdl(base, api_key="")


def test_pull_reports_graphql_errors() -> None:
    body = json.dumps({"errors": [{"message": "introspection is disabled"}]}).encode()
    with (
        serve_in_thread(_app_answering(200, body, "application/json")) as base,
        pytest.raises(PullError, match="introspection is disabled"),
    ):
        fetch_sdl(base, api_key="")


def test_pull_reports_an_unreachable_endpoint() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(PullError, match="could not reach"):
        fetch_sdl(f"http://127.0.0.1:{port}/graphql", api_key="", timeout=5)


def test_pull_falls_back_when_input_value_deprecation_is_unsupported(committed_sdl: str) -> None:
    """Older servers reject includeDeprecated on args: the pull retries without it."""
    inner = schema_app()
    calls: list[bool] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        full_query = b"args(includeDeprecated" in body
        calls.append(full_query)
        if full_query:
            payload = json.dumps(
                {"errors": [{"message": 'Unknown argument "includeDeprecated" on field "args"'}]}
            ).encode()
            await _app_answering(200, payload, "application/json")(scope, receive, send)
            return

        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            message = await receive()
            return dict(message)

        await inner(scope, replay, send)

    with serve_in_thread(app) as base:
        pulled = fetch_sdl(f"{base}/", api_key="")
    assert calls == [True, False]
    # Without input-value deprecations the SDL is the same here (none are deprecated).
    assert schema_text(pulled) == schema_text(committed_sdl)


def _check(endpoint: str, against: Path | None = None) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "codegen", "check", "--endpoint", endpoint]
    if against is not None:
        argv += ["--against", str(against)]
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)


def test_check_exits_0_without_drift(schema_server: str) -> None:
    """The committed file's header differs from a pulled one's: only the schema counts."""
    result = _check(schema_server)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No changes." in result.stdout


def _variant(tmp_path: Path, old: str, new: str) -> Path:
    committed = (ROOT / "schema" / "viesus.graphql").read_text(encoding="utf-8")
    changed = committed.replace(old, new, 1)
    assert changed != committed
    path = tmp_path / "variant.graphql"
    path.write_text(changed, encoding="utf-8")
    return path


def test_check_exits_1_on_breaking_drift(schema_server: str, tmp_path: Path) -> None:
    """The committed SDL has a field the server lacks: breaking for our clients, exit 1."""
    richer = _variant(tmp_path, "type Credits {", "type Credits {\n  currency: String")
    result = _check(schema_server, richer)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Credits.currency was removed" in result.stdout


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        # The server has a field the committed SDL lacks (safe change: the SDL is stale).
        ("  remainingCreditsThisPeriod: Int!\n", "", "remainingCreditsThisPeriod was added"),
        # Only a description differs.
        ('"""\nISO-8601 timestamp', '"""\nAn ISO-8601 timestamp', "of DateTime changed"),
        # The server has an enum value the committed SDL lacks (dangerous, not breaking).
        (
            '  """Complete: fullUrl is ready to download. [docs]"""\n  FINISHED\n',
            "",
            "FINISHED was added to enum type EnhancedImageStatus",
        ),
    ],
    ids=["added field", "description", "added enum value"],
)
def test_check_exits_3_on_non_breaking_drift(
    schema_server: str, tmp_path: Path, old: str, new: str, expected: str
) -> None:
    result = _check(schema_server, _variant(tmp_path, old, new))
    assert result.returncode == 3, result.stdout + result.stderr
    assert expected in result.stdout
    assert "Breaking" not in result.stdout


def test_check_exits_2_when_the_endpoint_is_unreachable(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = _check(f"http://127.0.0.1:{port}/graphql?token=abc")
    assert result.returncode == 2
    assert "could not reach" in result.stderr
    assert "abc" not in result.stderr
