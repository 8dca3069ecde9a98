"""Buckets as sources and destination, against moto's S3 server and a real ``viesus serve``.

The emulator fetches every bucket source itself from its presigned GET URL (loopback is
allowed by default); the outputs are streamed into the destination prefix.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import obstore
import pytest
from obstore.store import S3Store
from PIL import Image

from tests.cli.conftest import Server, _serve, cli_env, run_cli, viesus_argv, write_photos
from tests.s3_server import CREDENTIALS, enforce_auth, make_bucket, moto_server, user_with_key
from viesus import AsyncViesus
from viesus._buckets.store import BucketError, Buckets

BUCKET = "lab-photos"


@pytest.fixture(scope="module")
def s3() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def aws(s3: str, monkeypatch: pytest.MonkeyPatch) -> str:
    for name, value in {**CREDENTIALS, "AWS_ENDPOINT_URL": s3}.items():
        monkeypatch.setenv(name, value)
    return s3


def store(endpoint: str, bucket: str = BUCKET) -> S3Store:
    return S3Store(
        bucket,
        endpoint=endpoint,
        access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region="us-east-1",
        client_options={"allow_http": True},
    )


def keys(bucket: S3Store, prefix: str) -> list[str]:
    return sorted(str(meta["path"]) for meta in obstore.list(bucket, prefix=prefix).collect())


def photos(tmp_path: Path, count: int) -> list[bytes]:
    return [p.read_bytes() for p in write_photos(tmp_path / "photos", count)]


SCENARIO = "scenario"
FOLDERS = ("day 1/", "day 2/", "day 2/late/", "")  # the 50 photos spread over these


@pytest.fixture
def paced_server() -> Iterator[Server]:
    """``viesus serve`` at a tenth of the modelled time (about 0.2 s a job), two workers:
    50 jobs take seconds, yet a batch is still mid-way when it is killed."""
    yield from _serve("--time-scale", "0.1", "--workers", "2")


def distinct_photos(count: int) -> list[bytes]:
    """``count`` small JPEGs of different content (noise seeded by index: every ETag
    differs, so no photo adopts another's job)."""
    images = []
    for n in range(count):
        pixels = np.random.default_rng(n).integers(0, 256, (120, 160, 3), dtype=np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="JPEG", quality=85)
        images.append(buffer.getvalue())
    return images


def enhance_cli(server: Server, endpoint: str, state: Path, *args: str) -> subprocess.Popen[str]:
    """``viesus enhance ARGS --out s3://scenario/enhanced/ --yes``, its journal and report
    in ``state`` (the XDG state folder)."""
    env = cli_env(
        **server.env(), **CREDENTIALS, AWS_ENDPOINT_URL=endpoint, XDG_STATE_HOME=str(state)
    )
    argv = viesus_argv("enhance", *args, "--out", f"s3://{SCENARIO}/enhanced/", "--yes")
    return subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def report_of(state: Path) -> dict[str, dict[str, Any]]:
    """The last run's report, by source."""
    path = state / "viesus" / "s3" / SCENARIO / "enhanced" / "viesus-report.json"
    return {item["source"]: item for item in json.loads(path.read_text())["items"]}


def test_fifty_objects_bucket_to_bucket_killed_resumed_renamed_changed_one_unreadable(
    paced_server: Server, s3: str, tmp_path: Path
) -> None:
    """The issue's scenario through the CLI: kill -9 mid-batch and resume (every output
    once, one create per source); then one object renamed (same ETag: adopted, not paid),
    one changed (new work, replaced with --overwrite), one missing (one line; the rest go)."""
    make_bucket(s3, SCENARIO)
    bucket = store(s3, SCENARIO)
    images = distinct_photos(51)
    layout = {f"in/{FOLDERS[n % 4]}p{n:02}.jpg": n for n in range(50)}
    for key, n in layout.items():
        obstore.put(bucket, key, images[n])
    state, prefix = tmp_path / "state", f"s3://{SCENARIO}/in/"

    first = enhance_cli(paced_server, s3, state, prefix)
    deadline = time.monotonic() + 120
    while paced_server.stats()["jobs"]["total"] < 10:
        assert first.poll() is None, "the batch ended before it was killed"
        assert time.monotonic() < deadline, "no job was created"
        time.sleep(0.02)
    first.kill()  # kill -9 mid-batch
    first.wait(timeout=30)
    assert len(keys(bucket, "enhanced/")) < 50  # killed mid-batch: the rerun has work left
    second = enhance_cli(paced_server, s3, state, prefix)
    stdout, stderr = second.communicate(timeout=300)
    assert second.returncode == 0, stdout + stderr
    expected = {
        key.replace("in/", "enhanced/", 1).replace(".jpg", "_enhanced.jpg") for key in layout
    }
    assert keys(bucket, "enhanced/") == sorted(expected)  # each once: no -2 sibling
    stats = paced_server.stats()
    assert (stats["jobs"]["total"], stats["jobs"]["duplicates"]) == (50, 0)
    by_field = stats["requests"]["by_root_field"]
    assert "createSignedUploadUrl" not in by_field  # the emulator fetched every source itself
    changed_before = obstore.get(bucket, "enhanced/p03_enhanced.jpg").bytes()

    obstore.rename(bucket, "in/day 1/p00.jpg", "in/moved/p00-copy.jpg")  # same ETag
    obstore.put(bucket, "in/p03.jpg", images[50])  # changed: new content
    missing = f"s3://{SCENARIO}/in/missing.jpg"
    third = enhance_cli(paced_server, s3, state, prefix, missing)
    stdout, stderr = third.communicate(timeout=300)
    report = report_of(state)
    # as with folders: a changed input's earlier output is not replaced unless asked
    assert "--overwrite" in report[f"{prefix}p03.jpg"]["reason"], report[f"{prefix}p03.jpg"]
    assert paced_server.stats()["jobs"]["total"] == 50  # and the renamed copy is not paid
    fourth = enhance_cli(paced_server, s3, state, prefix, missing, "--overwrite")
    stdout, stderr = fourth.communicate(timeout=300)
    report = report_of(state)
    copy = f"{prefix}moved/p00-copy.jpg -> s3://{SCENARIO}/enhanced/moved/p00-copy_enhanced.jpg"
    assert copy in stdout  # each line names the object written, not "unknown reason"
    assert "unknown reason" not in stdout
    # a prefix's objects are not counted before the batch lists them: "[51]", not "[51/2]"
    assert re.search(r"^\[51\] ", stdout, re.MULTILINE), stdout
    assert not re.search(r"^\[\d+/", stdout, re.MULTILINE), stdout
    assert len(report) == 51, sorted(report)  # 49 + the copy + the missing one
    assert report[missing]["status"] == "failed"
    assert "no such object" in report[missing]["reason"]
    assert [line for line in (stdout + stderr).splitlines() if "missing.jpg" in line] != []
    assert all(
        "no such object" in line for line in (stdout + stderr).splitlines() if "missing.jpg" in line
    )
    assert all(r["status"] != "failed" for source, r in report.items() if source != missing)
    stats = paced_server.stats()
    assert stats["jobs"]["total"] == 51  # only the changed object is new work: the copy adopted
    assert stats["jobs"]["duplicates"] == 0
    outputs = keys(bucket, "enhanced/")
    assert len(outputs) == 51  # the 50 and the copy's, every one once
    assert "enhanced/moved/p00-copy_enhanced.jpg" in outputs
    assert obstore.get(bucket, "enhanced/p03_enhanced.jpg").bytes() != changed_before


async def test_mixed_sources_into_a_local_folder_and_an_expired_url_signed_again(
    server: Server, aws: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_bucket(aws, "mixed-photos")
    bucket = store(aws, "mixed-photos")
    images = photos(tmp_path, 2)
    obstore.put(bucket, "shop/a.jpg", images[0])
    local = tmp_path / "photos" / "photo1.jpg"
    signed: list[str] = []
    original = Buckets.sign

    async def expired_first(self: Buckets, where: Any, expiry: Any) -> str:
        # moto does not enforce a presigned URL's expiry: the first URL the service gets
        # fails its fetch the way an expired one does (FETCH_FAILED), from a closed port.
        signed.append(await original(self, where, expiry))
        if len(signed) == 1:
            return "http://127.0.0.1:9/" + signed[-1].split("/", 3)[3]
        return signed[-1]

    monkeypatch.setattr(Buckets, "sign", expired_first)
    before = server.stats()
    async with AsyncViesus(api_key=server.key, endpoint=server.endpoint) as viesus:
        results = [
            r
            async for r in viesus.enhance_many(
                ["s3://mixed-photos/shop/a.jpg", str(local)],
                {"mode": "ENHANCE"},
                tmp_path / "out",
                journal=tmp_path / "j.sqlite",
            )
        ]
    assert [r.status for r in results] == ["finished", "finished"], results
    assert (tmp_path / "out" / "a_enhanced.jpg").is_file()  # mixed: each at the top
    assert (tmp_path / "out" / "photo1_enhanced.jpg").is_file()
    assert len(signed) == 2  # signed again after FETCH_FAILED, free
    after = server.stats()
    assert after["jobs"]["total"] - before["jobs"]["total"] == 2
    for url in signed:  # the signature never reaches a result or its reason
        assert all(url.split("?")[1] not in repr(r) for r in results)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"AWS_ACCESS_KEY_ID": ""}, "no credentials"),
        ({}, "no such bucket"),
        ({"AWS_ENDPOINT_URL": "http://127.0.0.1:9"}, "127.0.0.1:9 is unreachable .*running"),
    ],
)
async def test_bucket_errors_in_words_and_nothing_created(
    server: Server,
    aws: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    change: dict[str, str],
    words: str,
) -> None:
    for name, value in change.items():
        monkeypatch.setenv(name, value)
    before = server.stats()["uploads"]["total"]
    async with AsyncViesus(api_key=server.key, endpoint=server.endpoint) as viesus:
        with pytest.raises(BucketError, match=words) as caught:
            async for _ in viesus.enhance_many(
                ["s3://no-such-bucket/in/"], {"mode": "ENHANCE"}, tmp_path / "out"
            ):
                pass
    assert "\n" not in str(caught.value)
    assert CREDENTIALS["AWS_SECRET_ACCESS_KEY"] not in str(caught.value)
    assert server.stats()["uploads"]["total"] == before


def test_the_cli_takes_a_bucket_prefix_and_names_a_missing_bucket_in_one_line(
    server: Server, s3: str, tmp_path: Path
) -> None:
    make_bucket(s3, "cli-photos")
    bucket = store(s3, "cli-photos")
    for n, data in enumerate(photos(tmp_path, 2)):
        obstore.put(bucket, f"shop/{'sub/' * n}p{n}.jpg", data)
    env = {**server.env(), **CREDENTIALS, "AWS_ENDPOINT_URL": s3}
    out = tmp_path / "out"
    done = run_cli("enhance", "s3://cli-photos/shop/", "--out", str(out), "--yes", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (out / "p0_enhanced.jpg").is_file()
    assert (out / "sub" / "p1_enhanced.jpg").is_file()  # the prefix's tree mirrored
    assert "2 enhanced, 0 already done, 0 failed, 0 not done" in done.stdout  # per object
    report = json.loads((out / "viesus-report.json").read_text())
    assert sorted(r["status"] for r in report["items"]) == ["finished", "finished"]
    missing = run_cli("enhance", "s3://no-such-photos/", "--out", str(out), "--yes", env=env)
    assert missing.returncode != 0
    errors = [line for line in missing.stderr.splitlines() if line.strip()]
    assert errors == ["viesus: error: s3://no-such-photos: no such bucket (at " + s3 + ")"]
    files = {"AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"), "AWS_PROFILE": "lab"}
    no_profile = run_cli("enhance", "s3://cli-photos/", "--out", str(out), env={**env, **files})
    errors = [line for line in no_profile.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, no_profile.stderr
    assert errors[0].startswith("viesus: error: AWS_PROFILE=lab: no such profile in ")


def test_the_cli_enhances_bucket_to_bucket_and_a_rerun_pays_nothing(
    server: Server, s3: str, tmp_path: Path
) -> None:
    make_bucket(s3, "cli-both")
    bucket = store(s3, "cli-both")
    for n, data in enumerate(photos(tmp_path, 3)):
        obstore.put(bucket, f"in/{'day 2/' * (n % 2)}p{n}.jpg", data)
    env = {**server.env(), **CREDENTIALS, "AWS_ENDPOINT_URL": s3}
    env["XDG_STATE_HOME"] = str(tmp_path / "state")  # where the journal and reports live
    before = server.stats()["jobs"]["total"]
    argv = ("enhance", "s3://cli-both/in/", "--out", "s3://cli-both/enhanced/", "--yes")
    first = run_cli(*argv, env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert keys(bucket, "enhanced/") == [
        "enhanced/day 2/p1_enhanced.jpg",
        "enhanced/p0_enhanced.jpg",
        "enhanced/p2_enhanced.jpg",
    ]
    again = run_cli(*argv, env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "0 enhanced, 3 already done" in again.stdout
    assert server.stats()["jobs"]["total"] - before == 3
    state = tmp_path / "state" / "viesus" / "s3" / "cli-both" / "enhanced"
    assert (state / "viesus-report.json").is_file()
    assert (state / ".viesus-journal.sqlite").is_file()


IAM_BUCKET = "iam-photos"


@pytest.fixture(scope="module")
def s3_iam(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A moto server of its own that checks every signature and IAM policy (moto cannot
    serve a presigned GET then: only listings are tried on it): a bucket with one photo,
    a user allowed s3:* and one allowed nothing."""
    with moto_server() as endpoint:
        make_bucket(endpoint, IAM_BUCKET)
        allowed = user_with_key(endpoint, "reader", ["s3:*"])
        nobody = user_with_key(endpoint, "nobody", [])
        bucket = store(endpoint, IAM_BUCKET)
        obstore.put(bucket, "in/photo0.jpg", photos(tmp_path_factory.mktemp("iam"), 1)[0])
        enforce_auth(endpoint)
        yield {"endpoint": endpoint, "allowed": allowed, "nobody": nobody}


@pytest.fixture
def no_aws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No AWS_* variable and a HOME of the test's own: only what a test writes is read."""
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def profile_files(
    home: Path, name: str, keys: dict[str, str], endpoint: str | None, region: str = "us-east-1"
) -> None:
    """``~/.aws/credentials`` with the key pair and ``~/.aws/config`` with region and
    endpoint, as ``aws configure`` writes them (``[profile NAME]`` in the config)."""
    (home / ".aws").mkdir(parents=True, exist_ok=True)
    (home / ".aws" / "credentials").write_text(
        f"[{name}]\n"
        f"aws_access_key_id = {keys['AWS_ACCESS_KEY_ID']}\n"
        f"aws_secret_access_key = {keys['AWS_SECRET_ACCESS_KEY']}\n"
    )
    section = "default" if name == "default" else f"profile {name}"
    config = f"[{section}]\nregion = {region}\n"
    if endpoint is not None:
        config += f"endpoint_url = {endpoint}\n"
    (home / ".aws" / "config").write_text(config)


async def test_a_profile_of_the_shared_files_gives_key_region_and_endpoint(
    server: Server, s3: str, no_aws: Path, tmp_path: Path
) -> None:
    make_bucket(s3, "profile-photos")
    obstore.put(store(s3, "profile-photos"), "in/p.jpg", photos(tmp_path, 1)[0])
    profile_files(no_aws, "default", CREDENTIALS, s3)  # nothing in the environment
    async with AsyncViesus(api_key=server.key, endpoint=server.endpoint) as viesus:
        results = [
            r
            async for r in viesus.enhance_many(
                ["s3://profile-photos/in/"], {"mode": "ENHANCE"}, tmp_path / "out"
            )
        ]
    assert [r.status for r in results] == ["finished"], results
    assert (tmp_path / "out" / "p_enhanced.jpg").is_file()


@pytest.mark.parametrize(
    ("profile", "in_files", "in_env", "words"),
    [
        ("lab", "allowed", None, None),  # AWS_PROFILE's key from the credentials file
        ("lab", "allowed", "nobody", "access denied to the key pair from the environment"),
        ("default", "nobody", "allowed", None),  # the environment wins over the files
        ("lab", "wrong", None, "refused (check the key pair from profile lab (credentials"),
        ("missing", "allowed", None, "AWS_PROFILE=missing: no such profile in"),
    ],
)
async def test_profiles_and_access_denied_at_a_server_that_checks_keys(
    server: Server,
    s3_iam: dict[str, Any],
    no_aws: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    profile: str,
    in_files: str,
    in_env: str | None,
    words: str | None,
) -> None:
    keys = {"wrong": {**s3_iam["allowed"], "AWS_SECRET_ACCESS_KEY": "wrong"}, **s3_iam}
    profile_files(no_aws, "default" if profile == "default" else "lab", keys[in_files], None)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_iam["endpoint"])
    if profile != "default":
        monkeypatch.setenv("AWS_PROFILE", profile)
    for name, value in (keys[in_env] if in_env else {}).items():
        monkeypatch.setenv(name, value)
    async with AsyncViesus(api_key=server.key, endpoint=server.endpoint) as viesus:
        if words is None:  # listed with that key (moto checks it): the plan has the photo
            plan = await viesus.plan_many([f"s3://{IAM_BUCKET}/in/"], None, tmp_path / "out")
            assert [i.action for i in plan.items] == ["create"], plan
            return
        before = server.stats()["uploads"]["total"]
        with pytest.raises(BucketError, match=re.escape(words)) as caught:
            async for _ in viesus.enhance_many(
                [f"s3://{IAM_BUCKET}/in/"], {"mode": "ENHANCE"}, tmp_path / "out"
            ):
                pass
    message = str(caught.value)
    assert "\n" not in message
    assert f"s3://{IAM_BUCKET}" in message or "AWS_PROFILE" in message
    for secret in (v["AWS_SECRET_ACCESS_KEY"] for v in keys.values() if isinstance(v, dict)):
        assert secret not in message
        assert secret not in repr(caught.value)
    assert server.stats()["uploads"]["total"] == before  # refused before anything was sent
