"""``Viesus`` (synchronous) and ``AsyncViesus``: one behaviour, two ways to call it.

The shared suite runs each scenario with both clients against one emulator in its own thread;
the async test function itself runs in a loop, so every sync call here is also a call "from
inside a running event loop" (a notebook's situation).
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest

from tests.cli.conftest import _serve
from tests.facade.conftest import API_KEY, FAST_POLL, FAST_RETRY, emulator_config, write_photo
from viesus import (
    AsyncViesus,
    BudgetExceeded,
    ClientClosed,
    EnhanceOptions,
    EnhanceResult,
    Viesus,
)
from viesus_emulator import Emulator

X2 = EnhanceOptions(upscaling_factor="X2")


class Service(Protocol):
    """An emulator as these tests see it: in this process, or ``viesus serve`` in another."""

    @property
    def endpoint(self) -> str: ...

    def stats(self) -> dict[str, Any]: ...


@pytest.fixture(scope="module", params=["in-process", "viesus serve"])
def emu(request: pytest.FixtureRequest) -> Iterator[Service]:
    if request.param == "in-process":
        with Emulator(emulator_config()).running_in_thread() as running:
            yield running
    else:
        yield from _serve("--time-scale", "0.01", "--workers", "4", "--api-key", API_KEY)


def settings(emu: Service) -> dict[str, Any]:
    return {
        "api_key": API_KEY,
        "endpoint": emu.endpoint,
        "poll_schedule": FAST_POLL,
        "retry": FAST_RETRY,
    }


class Either:
    """The scenario's view of a client: every call awaited, every batch a list."""

    def __init__(self, client: Viesus | AsyncViesus) -> None:
        self.client = client

    async def __call__(self, method: str, *args: Any, **kwargs: Any) -> Any:
        value = getattr(self.client, method)(*args, **kwargs)
        return await value if inspect.isawaitable(value) else value

    async def many(self, *args: Any, **kwargs: Any) -> list[EnhanceResult]:
        stream = self.client.enhance_many(*args, **kwargs)
        if isinstance(stream, Iterator):
            return list(stream)
        return [r async for r in stream]


@pytest.fixture(params=["sync", "async"])
async def either(request: pytest.FixtureRequest, emu: Service) -> AsyncIterator[Either]:
    if request.param == "sync":
        with Viesus(**settings(emu)) as client:
            yield Either(client)
    else:
        async with AsyncViesus(**settings(emu)) as aclient:
            yield Either(aclient)


def photos(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [write_photo(folder / f"p{i}.jpg", seed=i + 100) for i in range(count)]


def jobs(emu: Service) -> int:
    return int(emu.stats()["jobs"]["total"])


async def test_enhance_then_wait(either: Either, emu: Service, tmp_path: Path) -> None:
    (source,) = photos(tmp_path / "in", 1)
    result = await either("enhance", source, X2, tmp_path / "out")
    assert result.status == "finished"
    assert result.output_path.is_file()
    job = await either("wait", result.job_id)
    assert job.finished
    assert await either("remaining_credits") > 0


async def test_enhance_many_resumes_without_paying_twice(
    either: Either, emu: Service, tmp_path: Path
) -> None:
    sources = photos(tmp_path / "in", 5)
    journal = tmp_path / "out" / "journal.sqlite"
    before = jobs(emu)
    first = await either.many(sources, X2, tmp_path / "out", journal=journal)
    again = await either.many(sources, X2, tmp_path / "out", journal=journal)
    assert sorted(r.status for r in first) == ["finished"] * 5
    assert [r.status for r in again] == ["skipped"] * 5
    assert jobs(emu) - before == 5


async def test_plan_and_budget(either: Either, tmp_path: Path) -> None:
    sources = photos(tmp_path / "in", 3)
    plan = await either("plan_many", sources, X2, tmp_path / "out")
    assert (plan.count("create"), plan.credits) == (3, 12)
    with pytest.raises(BudgetExceeded) as refused:
        await either.many(sources, X2, tmp_path / "out", max_credits=11)
    assert (refused.value.needed, refused.value.budget) == (12, 11)


async def test_results_have_a_useful_repr_and_a_preview(either: Either, tmp_path: Path) -> None:
    (source,) = photos(tmp_path / "in", 1)
    result = await either("enhance", source, X2, tmp_path / "out")
    shown = repr(result)
    assert shown.startswith("FinishedResult(source=")
    assert "status='finished'" in shown
    picture = result.preview(height=100)
    assert picture.height == 100
    assert picture.width > 2 * 96 * 100 // 64  # before and after side by side


def test_eight_threads_share_one_client(emu: Service, tmp_path: Path) -> None:
    sources = photos(tmp_path / "in", 16)
    before = jobs(emu)
    results: list[EnhanceResult] = []
    errors: list[BaseException] = []
    with Viesus(**settings(emu)) as client:

        def work(mine: list[Path], out: Path) -> None:
            try:
                results.extend(client.enhance(s, X2, out) for s in mine)
            except BaseException as exc:
                errors.append(exc)

        threads = [
            threading.Thread(target=work, args=(sources[n::8], tmp_path / f"out{n}"))
            for n in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    assert len(results) == 16
    assert all(r.status == "finished" for r in results)
    assert jobs(emu) - before == 16


def test_inside_a_running_loop_as_in_a_notebook(emu: Service, tmp_path: Path) -> None:
    (source,) = photos(tmp_path / "in", 1)

    async def cell() -> EnhanceResult:
        with Viesus(**settings(emu)) as client:  # a notebook cell: a loop already runs
            return client.enhance(source, X2, tmp_path / "out")

    assert asyncio.run(cell()).status == "finished"


def test_close_stops_the_loop_and_later_calls_fail_clearly(emu: Service) -> None:
    client = Viesus(**settings(emu))
    loop_threads = {t.name for t in threading.enumerate()}
    assert "viesus-loop" in loop_threads
    client.close()
    client.close()  # twice: nothing happens
    with pytest.raises(ClientClosed, match="closed"):
        client.credits()


def test_breaking_out_of_enhance_many_stops_the_batch(emu: Service, tmp_path: Path) -> None:
    sources = photos(tmp_path / "in", 12)
    with Viesus(**settings(emu)) as client:
        for _ in client.enhance_many(sources, X2, tmp_path / "out"):
            break
        pending: Callable[[], int] = lambda: client._client.poller.pending  # noqa: E731
        assert pending() == 0


def test_a_webhook_listener_on_the_sync_client(emu: Service, tmp_path: Path) -> None:
    (source,) = photos(tmp_path / "in", 1)
    with Viesus(**settings(emu)) as client:
        with client.listen_for_webhooks() as hook:
            listed = client.run(client.api.list_webhooks()).webhooks
            assert hook.id in [w.id for w in listed]
            assert client.enhance(source, X2, tmp_path / "out").status == "finished"
        after = client.run(client.api.list_webhooks()).webhooks
    assert hook.id not in [w.id for w in after]  # removed on the way out
