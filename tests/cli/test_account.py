"""``credits``, ``jobs show``, ``webhooks``, ``doctor``, ``config show`` against a server."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import Server, run_cli, write_photos


def test_credits(server: Server) -> None:
    result = run_cli("credits", "--json", env=server.env())
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["remaining"] == server.stats()["credits"]["remaining"]


def test_jobs_show_hides_the_signed_url(server: Server, tmp_path: Path) -> None:
    write_photos(tmp_path / "in", 1)
    run = run_cli("enhance", "in", "--out", "out", cwd=tmp_path, env=server.env())
    assert run.returncode == 0, run.stderr
    job_id = json.loads((tmp_path / "out" / "viesus-report.json").read_text())["items"][0]["job_id"]

    shown = run_cli("jobs", "show", job_id, "--json", env=server.env())

    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert data["id"] == job_id
    assert data["status"] == "FINISHED"
    assert "?" not in (data["result_url"] or "")
    missing = run_cli("jobs", "show", "no-such-job", env=server.env())
    assert missing.returncode == 1
    assert "no-such-job" in missing.stderr


def test_webhooks_create_list_delete(server: Server) -> None:
    created = run_cli("webhooks", "create", "http://127.0.0.1:9/hook", env=server.env())
    assert created.returncode == 0, created.stderr
    webhook_id = created.stdout.split()[2]
    assert "secret (shown once" in created.stdout

    listed = run_cli("webhooks", "list", "--json", env=server.env())
    assert webhook_id in [hook["id"] for hook in json.loads(listed.stdout)]

    deleted = run_cli("webhooks", "delete", webhook_id, env=server.env())
    assert deleted.returncode == 0, deleted.stderr
    again = run_cli("webhooks", "delete", webhook_id, env=server.env())
    assert again.returncode == 1
    assert "not found" in again.stderr


def test_doctor_passes_against_a_healthy_server(server: Server) -> None:
    result = run_cli("doctor", env=server.env())
    assert result.returncode == 0, result.stdout + result.stderr
    checks = [line.split()[0] for line in result.stdout.splitlines() if line[:4].isupper()]
    assert checks == ["PASS", "PASS", "PASS", "PASS"]
    assert "test-key" not in result.stdout


def test_doctor_fails_on_a_wrong_key(server: Server) -> None:
    result = run_cli("doctor", "--api-key", "wrong-Key-s3cret", "--endpoint", server.endpoint)
    assert result.returncode == 1
    verdicts = [line for line in result.stdout.splitlines() if line[:4] in ("PASS", "FAIL")]
    assert verdicts == [
        "FAIL  API key: refused by the endpoint (HTTP 401); set the right key in "
        "VIESUS_API_KEY or pass --api-key"
    ]
    assert "s3cret" not in result.stdout + result.stderr


def test_doctor_probes_the_endpoint_with_the_key(server: Server) -> None:
    result = run_cli("doctor", env=server.env())
    assert f"PASS  endpoint: {server.endpoint} answered HTTP 200" in result.stdout


def test_doctor_names_an_unreachable_endpoint_redacted_and_why() -> None:
    endpoint = "http://127.0.0.1:9/graphql?token=t0k3n-s3cret"
    result = run_cli("doctor", "--api-key", "key-s3cret", "--endpoint", endpoint)
    assert result.returncode == 1
    assert result.stdout.splitlines()[:2] == [
        "endpoint: http://127.0.0.1:9/graphql?REDACTED",
        "FAIL  endpoint: cannot connect to http://127.0.0.1:9/graphql?REDACTED: connection "
        "refused; is the service running? (set VIESUS_ENDPOINT or --endpoint)",
    ]
    assert "s3cret" not in result.stdout + result.stderr


def test_config_show_merges_file_and_environment(tmp_path: Path) -> None:
    config = tmp_path / "lab.json"
    config.write_text(json.dumps({"out": "done", "options": {"upscaling_factor": "X2"}}))
    result = run_cli(
        "config", "show", "--config", str(config), "--denoise", "0.25",
        env={"VIESUS_API_KEY": "very-secret"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["options"] == {"upscalingFactor": "X2", "noiseReductionProfilingStrength": 0.25}
    assert data["batch"]["out"] == "done"
    assert data["api_key"] == "set (hidden)"
    assert "very-secret" not in result.stdout
