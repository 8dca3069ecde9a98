"""Every way a command can go wrong ends in one clear line and a fixed exit code."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import Server, cli_env, run_cli, write_photos


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("viesus: error: ")
    return lines[0]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["enhance", "missing.jpg", "--out", "o"], "missing.jpg: no such file or folder"),
        (["enhance", "empty", "--out", "o"], "empty: no images or PDFs in this folder"),
        (["enhance", "nomatch*.jpg", "--out", "o"], "nomatch*.jpg: the pattern matches no"),
        (["enhance", "@nolist.txt", "--out", "o"], "@nolist.txt: cannot read the list"),
        (["enhance", "in", "--out", "o", "--bogus"], "No such option: --bogus"),
        (["enhance", "in", "--out", "o", "--upscale", "X3"], "'X3' is not one of 'X2', 'X4'"),
        (["enhance", "in", "--out", "o", "--denoise", "1.5"], "1.5 is not in the range 0.0-1.0"),
        (["enhance", "in", "--out", "o", "--denoise", "lots"], "'lots' is not a number"),
        (["enhance", "in", "--out", "o", "--upscaling-custom-width", "0"], "custom-width"),
        (["enhance", "in"], "--out DIR is required"),
        (["enhance", "in", "--out", "o", "--json"], "--json prints the plan of a --dry-run"),
        (["enhance", "in", "--out", "o", "--config", "bad.toml"], "bad.toml: unknown key 'colour'"),
        (["enhance", "in", "--out", "o", "--config", "key.toml"], "API keys do not belong"),
        (["enhance", "in", "--out", "o"], "no API key: set VIESUS_API_KEY"),
        (["frobnicate"], "No such command 'frobnicate'"),
    ],
)
def test_usage_errors_are_one_line_exit_2(argv: list[str], expected: str, tmp_path: Path) -> None:
    write_photos(tmp_path / "in", 1)
    (tmp_path / "empty").mkdir()
    (tmp_path / "bad.toml").write_text('colour = "warm"\n')
    (tmp_path / "key.toml").write_text('api-key = "secret-value"\n')

    result = run_cli(*argv, cwd=tmp_path)

    line = one_line(result.stderr)
    assert expected in line
    assert result.returncode == 2
    assert "secret-value" not in result.stdout + result.stderr


def test_a_group_without_a_command_shows_its_help() -> None:
    result = run_cli("webhooks")
    assert result.returncode == 2
    assert "create" in result.stdout
    assert "delete" in result.stdout
    assert "error" not in result.stderr


def test_debug_adds_the_traceback(tmp_path: Path) -> None:
    result = run_cli("enhance", "missing.jpg", "--out", "o", "--debug", cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("viesus: error: missing.jpg")


def test_budget_and_confirmation_refuse_before_spending(server: Server, tmp_path: Path) -> None:
    write_photos(tmp_path / "in", 3)
    before = server.stats()["jobs"]["total"]
    over_budget = run_cli("enhance", "in", "--out", "o", "--upscale", "X2", "--max-credits", "11",
                          cwd=tmp_path, env=server.env())  # fmt: skip
    needs_yes = run_cli("enhance", "in", "--out", "o", "--upscale", "X2", "--confirm-above", "5",
                        cwd=tmp_path, env=server.env())  # fmt: skip

    assert over_budget.returncode == 2
    assert "12 credits, more than --max-credits 11" in one_line(over_budget.stderr)
    assert needs_yes.returncode == 2
    assert "pass --yes" in one_line(needs_yes.stderr)
    assert server.stats()["jobs"]["total"] == before


def test_bad_key_is_one_line_and_never_echoed(server: Server, tmp_path: Path) -> None:
    result = run_cli("credits", "--api-key", "wrong-secret-key", "--endpoint", server.endpoint)
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert "wrong-secret-key" not in line + result.stdout


def test_missing_extra_names_the_install_command() -> None:
    # The emulator's server modules are made unimportable, as in a plain install.
    code = (
        "import sys; sys.modules['ariadne'] = None; "
        "from viesus._cli import main; main(['serve', '--port', '0'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=cli_env(), check=False
    )
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert "pip install 'viesus-toolkit[emulator]'" in line
    assert "Traceback" not in result.stderr


def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("viesus-toolkit ")


def test_a_refused_connection_names_the_endpoint_and_the_reason() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}/graphql?token=t0k3n-s3cret"

    result = run_cli("credits", "--api-key", "key-s3cret", "--endpoint", endpoint)

    assert result.returncode == 1
    assert one_line(result.stderr) == (
        f"viesus: error: cannot connect to http://127.0.0.1:{port}/graphql?REDACTED: "
        "connection refused; is the service running? (set VIESUS_ENDPOINT or --endpoint)"
    )
    assert "s3cret" not in result.stdout + result.stderr
