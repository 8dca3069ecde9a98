"""Never pay twice, fail closed: each case of issue 8's core, counted at the emulator.

Each test drives the public facade against the real emulator; where a fault the emulator
cannot inject is needed (a 5xx *after* the mutation ran, a renamed field, a read that lags a
write), a transport between client and emulator changes that one answer. Counting is done by
the server (``GET /stats``): jobs per upload, duplicates, credits used.
"""

from __future__ import annotations

import asyncio
import errno
import json
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.facade.conftest import API_KEY, emulator_config, make_client, requests_for
from viesus import AsyncViesus, EnhanceOptions, EnhanceResult
from viesus._api_errors import graphql_error
from viesus._errors import JournalError
from viesus._journal.keys import item_key, key_fingerprint
from viesus._journal.sqlite import Journal
from viesus._journal.states import ItemState
from viesus._journal.store import ItemRecord, StateChange, StoreIdentity
from viesus._pipeline import LOST_READS
from viesus._redact import redact_url
from viesus_client.exceptions import GraphQLClientGraphQLError
from viesus_emulator import Emulator, FaultConfig

X2 = EnhanceOptions.model_validate({"upscalingFactor": "X2"})
PRICE = 4  # X2 upscaling [docs]
Hook = Callable[[httpx.Request, httpx.Response], Awaitable[httpx.Response]]


def operation(request: httpx.Request) -> str | None:
    if request.method != "POST" or not request.content:
        return None
    body = json.loads(request.content)
    return body.get("operationName") if isinstance(body, dict) else None


async def with_json(response: httpx.Response, change: Callable[[Any], Any]) -> httpx.Response:
    """The same answer with its JSON body changed by ``change``."""
    await response.aread()
    body = change(response.json())
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
    return httpx.Response(response.status_code, headers=headers, json=body)


class Tamper(httpx.AsyncBaseTransport):
    """Forwards to the emulator; ``hooks[operation]`` may replace that operation's answer."""

    def __init__(self, hooks: dict[str, Hook]) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.hooks = hooks
        self.seen: Counter[str] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        name = operation(request)
        response = await self.inner.handle_async_request(request)
        if name is not None:
            self.seen[name] += 1
            hook = self.hooks.get(name)
            if hook is not None:
                return await hook(request, response)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


async def run(
    viesus: AsyncViesus, sources: list[Path], out: Path, journal: Path | None = None
) -> list[EnhanceResult]:
    return [r async for r in viesus.enhance_many(sources, X2, out, journal=journal)]


def assert_paid_once(emu: Emulator, finished: int) -> None:
    stats = emu.stats()
    assert stats["jobs"]["duplicates"] == 0
    assert all(count == 1 for count in stats["jobs"]["per_upload"].values()), stats["jobs"]
    assert stats["credits"]["used"] == PRICE * finished


# --- 1. a 5xx on a mutation is ambiguous, whatever Retry-After says ---------------------------


async def test_create_answered_500_with_long_retry_after_is_reconciled_not_created_again(
    emulator: Emulator, photos: Callable[..., list[Path]], tmp_path: Path
) -> None:
    async def applied_then_500(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        await response.aread()  # the emulator ran the creates; the answer becomes a 500
        return httpx.Response(500, headers={"retry-after": "3600"}, json={"errors": []})

    transport = Tamper({"CreateEnhancedImages": applied_then_500})
    sources = photos(3)
    async with make_client(emulator, transport=transport) as viesus:
        first = await run(viesus, sources, tmp_path / "out", tmp_path / "j.sqlite")
    assert all(r.ok for r in first), [r.reason for r in first]
    assert transport.seen["CreateEnhancedImages"] == 1
    assert_paid_once(emulator, finished=3)


async def test_a_field_error_that_does_not_prove_a_refusal_is_reconciled(
    emulator: Emulator, photos: Callable[..., list[Path]], tmp_path: Path
) -> None:
    async def internal_error(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        def fail_first(body: Any) -> Any:  # the job was made; its field answers an error
            body["data"]["a0"] = None
            body["errors"] = [
                {"message": "boom", "path": ["a0"], "extensions": {"code": "INTERNAL_SERVER_ERROR"}}
            ]
            return body

        return await with_json(response, fail_first)

    transport = Tamper({"CreateEnhancedImages": internal_error})
    async with make_client(emulator, transport=transport) as viesus:
        results = await run(viesus, photos(2), tmp_path / "out", tmp_path / "j.sqlite")
    assert all(r.ok for r in results), [r.reason for r in results]
    assert transport.seen["CreateEnhancedImages"] == 1
    assert transport.seen["ReconcileUploads"] >= 1
    assert_paid_once(emulator, finished=2)


# --- 2. one place decides "maybe applied": no body sniffing -----------------------------------


def mock_client(answers: list[httpx.Response]) -> tuple[httpx.AsyncClient, list[httpx.Request]]:
    from tests.facade.test_retries import FAST
    from viesus._retries import RetryingTransport

    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return answers.pop(0)

    return httpx.AsyncClient(transport=RetryingTransport(httpx.MockTransport(handler), FAST)), sent


@pytest.mark.parametrize(
    "document",
    [
        "# create the job\nmutation Create { createEnhancedImage(uploadId: 1) { id } }",
        "fragment J on EnhancedImage { id }\n"
        "mutation Create { createEnhancedImage(uploadId: 1) { ...J } }",
        "{ this does not parse",
        "query A { a } mutation Create { b }",  # several operations, this name is a mutation
    ],
)
async def test_unmarked_documents_are_treated_as_mutations_unless_they_parse_as_a_query(
    document: str,
) -> None:
    from viesus._retries import AmbiguousRequest

    client, sent = mock_client([httpx.Response(500), httpx.Response(200, json={"data": {}})])
    body = json.dumps({"query": document, "operationName": "Create"}).encode()
    async with client:
        with pytest.raises(AmbiguousRequest):
            await client.post("http://x/graphql", content=body)
    assert len(sent) == 1  # never resent


async def test_a_query_with_comments_and_fragments_is_still_retried() -> None:
    client, sent = mock_client([httpx.Response(500), httpx.Response(200, json={"data": {}})])
    document = (
        "# poll\nfragment J on EnhancedImage { id }\nquery Poll { enhancedImage(id: 1) { ...J } }"
    )
    body = json.dumps({"query": document, "operationName": "Poll"}).encode()
    async with client:
        response = await client.post("http://x/graphql", content=body)
    assert response.status_code == 200
    assert len(sent) == 2


async def test_the_facade_marks_every_graphql_request_it_sends(
    emulator: Emulator, photos: Callable[..., list[Path]], tmp_path: Path
) -> None:
    from viesus._retries import MAY_MUTATE

    marks: dict[str, set[object]] = {}

    class Recorder(Tamper):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            name = operation(request)
            if name is not None:
                marks.setdefault(name, set()).add(request.extensions.get(MAY_MUTATE))
            return await super().handle_async_request(request)

    async with make_client(emulator, transport=Recorder({})) as viesus:
        await run(viesus, photos(2), tmp_path / "out")
    assert marks["CreateEnhancedImages"] == {True}
    assert marks["CreateSignedUploadUrls"] == {True}
    assert marks["CompleteSignedUploads"] == {True}
    assert marks["PollEnhancedImages"] == {False}


async def test_viesus_api_mutation_starting_with_a_comment_is_not_resent_after_a_500(
    emulator: Emulator,
) -> None:
    emulator.faults = FaultConfig(http_500=1.0)
    document = (
        "# a comment first\n"
        + 'mutation Hook { createWebhook(input: {url: "http://127.0.0.1:9/h"}) { id } }'
    )
    async with make_client(emulator) as viesus:
        with pytest.raises(Exception, match="may have been applied"):
            await viesus.api.execute(document, operation_name="Hook")
    assert requests_for(emulator, "Hook") == 1


# --- 3. reconciliation fails closed ---------------------------------------------------------


async def test_reconciliation_answer_without_the_jobs_field_is_unknown_never_no_job(
    emulator: Emulator, photos: Callable[..., list[Path]], tmp_path: Path
) -> None:
    async def renamed(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        def rename(body: Any) -> Any:
            for upload in (body.get("data") or {}).values():
                if isinstance(upload, dict):
                    upload["enhancedImages"] = upload.pop("EnhancedImages", [])
            return body

        return await with_json(response, rename)

    emulator.faults = FaultConfig(
        lost_response=1.0, only_operations=frozenset({"CreateEnhancedImages"})
    )
    sources, out, journal = photos(3), tmp_path / "out", tmp_path / "j.sqlite"
    async with make_client(emulator, transport=Tamper({"ReconcileUploads": renamed})) as viesus:
        first = await run(viesus, sources, out, journal)
    assert [r.status for r in first] == ["failed"] * 3
    assert all("could not say" in (r.reason or "") for r in first), [r.reason for r in first]
    assert emulator.stats()["jobs"]["total"] == 3  # one create each, never a second
    with Journal.open(journal) as stored:
        assert {r.state for r in stored.records()} == {ItemState.UNKNOWN}

    # A rerun with a readable answer adopts the jobs: nothing is created again.
    emulator.faults = FaultConfig()
    async with make_client(emulator) as viesus:
        second = await run(viesus, sources, out, journal)
    assert all(r.ok for r in second), [r.reason for r in second]
    assert requests_for(emulator, "CreateEnhancedImages") == 1
    assert_paid_once(emulator, finished=3)


async def test_an_immediate_read_after_a_lost_create_is_not_trusted(
    emulator: Emulator, photos: Callable[..., list[Path]], tmp_path: Path
) -> None:
    reads = 0

    async def lagging(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        nonlocal reads
        reads += 1
        if reads > 1:
            return response

        def empty(body: Any) -> Any:  # the first read does not see the new job yet
            for upload in (body.get("data") or {}).values():
                upload["EnhancedImages"] = []
            return body

        return await with_json(response, empty)

    emulator.faults = FaultConfig(
        lost_response=1.0, only_operations=frozenset({"CreateEnhancedImages"})
    )
    async with make_client(emulator, transport=Tamper({"ReconcileUploads": lagging})) as viesus:
        sources = photos(2)
        task = asyncio.create_task(run(viesus, sources, tmp_path / "out", tmp_path / "j.sqlite"))
        while reads < 2:  # noqa: ASYNC110 - the re-read has no event to wait on
            await asyncio.sleep(0.005)
        emulator.faults = FaultConfig()
        results = await task
    assert all(r.ok for r in results), [r.reason for r in results]
    assert reads >= 2
    assert requests_for(emulator, "CreateEnhancedImages") == 1
    assert_paid_once(emulator, finished=2)


async def test_a_finished_answer_without_download_url_is_read_again_not_failed(
    emulator: Emulator, photos: Callable[..., list[Path]], tmp_path: Path
) -> None:
    stripped = 0

    async def no_url(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        nonlocal stripped

        def strip(body: Any) -> Any:
            nonlocal stripped
            for job in (body.get("data") or {}).values():
                if isinstance(job, dict) and job.get("status") == "FINISHED" and stripped < 2:
                    job["fullUrl"] = None
                    stripped += 1
            return body

        return await with_json(response, strip)

    async with make_client(emulator, transport=Tamper({"PollEnhancedImages": no_url})) as viesus:
        results = await run(viesus, photos(2), tmp_path / "out", tmp_path / "j.sqlite")
    assert stripped == 2
    assert all(r.status == "finished" for r in results), [r.reason for r in results]
    assert_paid_once(emulator, finished=2)


# --- 4. journal: crash windows, keys, identity, lost jobs -----------------------------------


class Crash(BaseException):
    """Stands for the process dying at an exact point (not an Exception: nothing catches it)."""


class CrashBeforeDownloaded:
    """A journal that dies right before recording ``downloaded``: the output is placed."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def bind(self, identity: StoreIdentity) -> None:
        self.journal.bind(identity)

    def load(self, keys: Any) -> Any:
        return self.journal.load(keys)

    def apply(self, changes: Any) -> set[Any]:
        if any(c.record.state is ItemState.DOWNLOADED for c in changes):
            raise Crash
        return self.journal.apply(changes)

    def records(self) -> list[ItemRecord]:
        return self.journal.records()

    def close(self) -> None:
        self.journal.close()


async def test_a_complete_output_placed_before_a_crash_is_adopted_on_resume(
    emulator: Emulator, photos: Callable[..., list[Path]], tmp_path: Path
) -> None:
    sources, out, path = photos(1), tmp_path / "out", tmp_path / "j.sqlite"
    async with make_client(emulator) as viesus:
        with Journal.open(path) as journal, pytest.raises(Crash):
            async for _ in viesus.enhance_many(
                sources, X2, out, journal=CrashBeforeDownloaded(journal)
            ):
                pass
    placed = sorted(out.glob("*.jpg"))
    assert [p.name for p in placed] == ["photo000_enhanced.jpg"]
    downloads = emulator.stats()["requests"]["total"]

    async with make_client(emulator) as viesus:
        again = await run(viesus, sources, out, path)
    assert [(r.status, r.output_path) for r in again] == [("finished", placed[0])]
    assert sorted(out.glob("*.jpg")) == placed  # no "-2" copy, no "output exists" refusal
    assert emulator.stats()["requests"]["total"] == downloads  # adopted without asking
    assert_paid_once(emulator, finished=1)


async def test_leftover_part_files_are_removed_on_resume(
    emulator: Emulator, photos: Callable[..., list[Path]], tmp_path: Path
) -> None:
    sources, out, journal = photos(2), tmp_path / "out", tmp_path / "j.sqlite"
    async with make_client(emulator) as viesus:
        await run(viesus, sources, out, journal)
    leftovers = [out / ".photo000_enhanced.jpg.job-1.part", out / ".photo001_enhanced.jpg.x.part"]
    for part in leftovers:
        part.write_bytes(b"half a download")
    async with make_client(emulator) as viesus:
        again = await run(viesus, sources, out, journal)
    assert {r.status for r in again} == {"skipped"}
    assert not any(part.exists() for part in leftovers)


async def test_identical_bytes_under_two_names_give_two_outputs_and_repeats_one_result_each(
    emulator: Emulator, photos: Callable[..., list[Path]], tmp_path: Path
) -> None:
    (original,) = photos(1)
    twin = original.with_name("twin.jpg")
    twin.write_bytes(original.read_bytes())
    sources = [original, twin, original]
    out, journal = tmp_path / "out", tmp_path / "j.sqlite"
    async with make_client(emulator) as viesus:
        first = await run(viesus, sources, out, journal)
        again = await run(viesus, sources, out, journal)
    assert Counter(r.source for r in first) == Counter(str(s) for s in sources)
    assert sorted(p.name for p in out.glob("*.jpg")) == [
        "photo000_enhanced.jpg",
        "twin_enhanced.jpg",
    ]
    assert sum(r.credits for r in first) == 2 * PRICE  # the repeat rides along for free
    assert Counter(r.source for r in again) == Counter(str(s) for s in sources)
    assert {r.status for r in again} == {"skipped"}
    assert_paid_once(emulator, finished=2)


async def test_a_changed_file_is_a_new_enhancement_and_an_unsettled_one_is_refused(
    emulator: Emulator, photos: Callable[..., list[Path]], tmp_path: Path
) -> None:
    from tests.facade.conftest import write_photo

    (source,) = photos(1)
    out, journal = tmp_path / "out", tmp_path / "j.sqlite"
    async with make_client(emulator) as viesus:
        await run(viesus, [source], out, journal)
        write_photo(source, seed=99)  # new content under the same name
        changed = [r async for r in viesus.enhance_many([source], X2, out, journal=journal)]
        assert changed[0].status == "failed"
        assert "exists; pass overwrite=True" in (changed[0].reason or "")
        redone = [
            r async for r in viesus.enhance_many([source], X2, out, journal=journal, overwrite=True)
        ]
    assert [r.status for r in redone] == ["finished"]
    assert emulator.stats()["jobs"]["total"] == 2


async def test_a_job_the_service_no_longer_knows_ends_lost_with_its_reason(
    emulator: Emulator, photos: Callable[..., list[Path]], tmp_path: Path
) -> None:
    (source,) = photos(1)
    out, path = tmp_path / "out", tmp_path / "j.sqlite"
    with Journal.open(path) as journal:  # a job made long ago, expired since
        journal.apply(
            [
                StateChange(
                    None,
                    ItemRecord(
                        key=item_key(source, X2),
                        source=str(source),
                        state=ItemState.CREATED,
                        upload_id="up-old",
                        job_id="job-expired",
                        attempts=1,
                    ),
                )
            ]
        )
    async with make_client(emulator) as viesus:
        results = await run(viesus, [source], out, path)
        assert [r.status for r in results] == ["failed"]
        assert "job-expired is unknown to the service" in (results[0].reason or "")
        assert requests_for(emulator, "PollEnhancedImages") == LOST_READS  # backed-off reads
        again = await run(viesus, [source], out, path)
    assert "is lost" in (again[0].reason or "")
    assert emulator.stats()["jobs"]["total"] == 0  # never created again automatically
    with Journal.open(path) as journal:
        (stored,) = journal.records()
    assert (stored.state, stored.reason) == (ItemState.LOST, "the service no longer knows the job")


async def test_a_journal_from_another_endpoint_or_key_is_refused_before_any_request(
    emulator: Emulator, photos: Callable[..., list[Path]], tmp_path: Path
) -> None:
    sources, out, path = photos(1), tmp_path / "out", tmp_path / "j.sqlite"
    with Journal.open(path) as journal:
        journal.bind(StoreIdentity("https://api.viesus.cloud/graphql", key_fingerprint(API_KEY)))
    async with make_client(emulator) as viesus:
        with pytest.raises(JournalError, match="belongs to the endpoint"):
            await run(viesus, sources, out, path)
    assert emulator.stats()["requests"]["total"] == 0

    other = tmp_path / "other.sqlite"
    with Journal.open(other) as journal:
        journal.bind(StoreIdentity(redact_url(emulator.endpoint), key_fingerprint("other")))
    async with make_client(emulator) as viesus:
        with pytest.raises(JournalError, match="another API key"):
            await run(viesus, sources, out, other)
    assert emulator.stats()["requests"]["total"] == 0


class CountingJournal(CrashBeforeDownloaded):
    """A journal that counts its transactions and the changes in each."""

    def __init__(self, journal: Journal) -> None:
        super().__init__(journal)
        self.transactions: list[int] = []

    def apply(self, changes: Any) -> set[Any]:
        self.transactions.append(len(changes))
        return self.journal.apply(changes)


async def test_journal_writes_are_one_transaction_per_batch_step_not_per_item(
    emulator: Emulator, photos: Callable[..., list[Path]], tmp_path: Path
) -> None:
    sources = photos(20)
    async with make_client(emulator, batch_size=5) as viesus:
        with Journal.open(tmp_path / "j.sqlite") as journal:
            counting = CountingJournal(journal)
            results = [
                r
                async for r in viesus.enhance_many(sources, X2, tmp_path / "out", journal=counting)
            ]
            stored = journal.records()
    assert all(r.ok for r in results)
    assert {r.state for r in stored} == {ItemState.DOWNLOADED}
    # plan, uploads (a wave of one batch, then waves of two), 4 x intents, 4 x jobs, then the
    # finish and output marks, coalesced when jobs and downloads end together (measured 32-33
    # transactions): the old journal wrote 4 rows per item, 80 transactions.
    assert len(counting.transactions) < 2 * 20, counting.transactions
    # every plan, then the first wave's uploads at once (one batch); later steps coalesce as
    # their requests end together (a wave's two upload batches in one transaction or two,
    # by timing), never one per item
    assert counting.transactions[:2] == [20, 5]
    assert max(counting.transactions[2:]) >= 5, counting.transactions
    assert 5 in counting.transactions  # a batch's intents in one transaction


# --- 5. saving failures fail one item, never the paid batch -----------------------------------


async def test_disk_full_while_saving_fails_that_item_only_and_a_rerun_downloads_it(
    emulator: Emulator,
    photos: Callable[..., list[Path]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import viesus._pipeline._completion as completion
    from viesus._downloads import download_part as real

    victims: list[Path] = []

    async def disk_full(http: httpx.AsyncClient, url: str, part: Path, **kw: Any) -> str:
        if part.name.startswith(".photo001"):
            victims.append(part)
            raise OSError(errno.ENOSPC, "No space left on device")
        return await real(http, url, part, **kw)

    monkeypatch.setattr(completion, "download_part", disk_full)
    sources, out, journal = photos(3), tmp_path / "out", tmp_path / "j.sqlite"
    async with make_client(emulator) as viesus:
        first = await run(viesus, sources, out, journal)
    by_source = {Path(r.source).name: r for r in first}
    assert victims
    assert by_source["photo001.jpg"].status == "failed"
    assert "paid for but could not be saved" in (by_source["photo001.jpg"].reason or "")
    assert "No space left on device" in (by_source["photo001.jpg"].reason or "")
    assert {by_source[n].status for n in ("photo000.jpg", "photo002.jpg")} == {"finished"}

    monkeypatch.setattr(completion, "download_part", real)
    async with make_client(emulator) as viesus:
        second = await run(viesus, sources, out, journal)
    assert sorted(r.status for r in second) == ["finished", "skipped", "skipped"]
    assert emulator.stats()["jobs"]["total"] == 3
    assert_paid_once(emulator, finished=3)


# --- 6. errors and async hygiene --------------------------------------------------------------


@pytest.mark.parametrize(
    ("extensions", "expected"),
    [
        ({"code": "INSUFFICIENT_CREDITS"}, "lack of credits: not enough"),
        ({"code": "INSUFFICIENT_CREDITS", "cost": 4, "available": 1}, "it needs 4, 1 are"),
        ({"code": "INSUFFICIENT_CREDITS", "needed": 8, "remaining": 2}, "it needs 8, 2 are"),
    ],
)
def test_server_side_insufficient_credits_never_says_minus_one(
    extensions: dict[str, Any], expected: str
) -> None:
    error = graphql_error(GraphQLClientGraphQLError("not enough", extensions=extensions))
    assert expected in str(error)
    assert "-1" not in str(error)


async def test_server_refusing_for_credits_is_reported_without_minus_one(
    photos: Callable[..., list[Path]], tmp_path: Path
) -> None:
    async def plenty(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        def lie(body: Any) -> Any:
            body["data"]["credits"]["remainingCreditsThisPeriod"] = 1000
            return body

        return await with_json(response, lie)

    async with (
        Emulator(emulator_config(credits=3)) as emu,
        make_client(emu, transport=Tamper({"GetCredits": plenty})) as viesus,
    ):
        results = await run(viesus, photos(1), tmp_path / "out", tmp_path / "j.sqlite")
        reconciled = requests_for(emu, "ReconcileUploads")
    assert [r.status for r in results] == ["failed"]
    assert reconciled == 0  # a refusal proves nothing ran: nothing to look up
    assert "lack of credits" in (results[0].reason or "")
    assert "-1" not in (results[0].reason or "")


async def test_a_hung_create_holds_only_its_own_items(
    emulator: Emulator, photos: Callable[..., list[Path]], tmp_path: Path
) -> None:
    release = asyncio.Event()
    released_by: list[str] = []
    creates = 0

    async def hang_first(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        nonlocal creates
        creates += 1
        if creates == 1:
            try:
                await asyncio.wait_for(release.wait(), 20)
            except TimeoutError:
                released_by.append("timeout")
        return response

    transport = Tamper({"CreateEnhancedImages": hang_first})
    got: list[EnhanceResult] = []
    async with make_client(emulator, transport=transport, batch_size=2) as viesus:
        async for result in viesus.enhance_many(photos(6), X2, tmp_path / "out"):
            got.append(result)
            if len(got) == 4 and not release.is_set():
                released_by.append("others finished first")
                release.set()
    assert released_by == ["others finished first"]
    assert len(got) == 6
    assert all(r.ok for r in got)


async def test_enhance_leaves_no_task_running(
    emulator: Emulator, photos: Callable[..., list[Path]], tmp_path: Path
) -> None:
    async with make_client(emulator) as viesus:
        result = await viesus.enhance(photos(1)[0], X2, tmp_path / "out")
        assert result.ok
        current = asyncio.current_task()
        left = [
            t
            for t in asyncio.all_tasks()
            if t is not current
            and t.get_name() != "viesus-poller"  # the client's, until it closes
            and "/viesus/" in _code_file(t)  # the emulator runs in this loop too
        ]
        assert left == []


def _code_file(task: asyncio.Task[Any]) -> str:
    code = getattr(task.get_coro(), "cr_code", None)
    return code.co_filename if code is not None else ""
