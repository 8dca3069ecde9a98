"""The state one pipeline run shares between its steps: the items, the book, the queue of
results, and the one way an item gets its result (:meth:`BatchState.deliver`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from viesus._buckets.run import BucketRun
from viesus._errors import BudgetExceeded, InsufficientCredits, JournalError, ViesusError
from viesus._image_headers import ImageHeader
from viesus._journal.keys import hash_params, key_fingerprint
from viesus._journal.states import ItemBook, ItemState
from viesus._journal.store import ItemKey, ItemRecord, JournalStore, StoreIdentity
from viesus._pipeline import _tuning as tuning
from viesus._pipeline._client import PipelineClient
from viesus._preflight import estimate_credits
from viesus._receipts import Receipt
from viesus._redact import redact_url
from viesus._results import EnhanceResult
from viesus._sources import repeated
from viesus_client.input_types import EnhancedImageInput

UNSETTLED_CREATE = frozenset({ItemState.CREATE_INTENT, ItemState.UNKNOWN})
WITH_JOB = frozenset({ItemState.CREATED, ItemState.FINISHED_REMOTE})
# States whose next step is a create request (counted against the budget).
WILL_CREATE = frozenset(
    {
        ItemState.PLANNED,
        ItemState.UPLOADED,
        ItemState.ANALYZED,
        ItemState.CREATE_INTENT,
        ItemState.UNKNOWN,
    }
)
CREATABLE = frozenset({ItemState.UPLOADED, ItemState.ANALYZED})
# States after which no create is sent for the item (its job is waited for, or reported).
HAS_OR_HAD_JOB = frozenset({ItemState.CREATED, ItemState.FINISHED_REMOTE, ItemState.LOST})
# A changed input may start over only from states with no unsettled job.
RESTARTABLE = frozenset(
    {
        ItemState.PLANNED,
        ItemState.UPLOADED,
        ItemState.ANALYZED,
        ItemState.FAILED,
        ItemState.DOWNLOADED,
    }
)


@dataclass
class Item:
    source: str
    shown: str  # the source as it may appear in logs and errors (URLs redacted)
    path: Path | None
    key: ItemKey
    pdf: bool = False  # priced by the service's analysis, not by the parameter table
    header: ImageHeader | None = None
    size: int = 0
    content_hash: str | None = None
    dest: Path | None = None
    dest_exists: bool = False  # the output file existed when the batch was checked
    downscale_to: tuple[int, int] | None = None  # sent at this size (``downscale=True``)
    receipt: Receipt | None = None  # the existing output is this batch's own (a rerun)
    result: EnhanceResult | None = None
    repeats: list[str] = field(default_factory=list)  # this source again in the batch
    bucket: bool = False  # an s3:// object: the service fetches it from a presigned URL


@dataclass
class Reserve:
    """The credits a batch has set aside against its limits (``max_credits``, the account's
    remaining credits), as (limit, what it is) pairs."""

    total: int
    limits: list[tuple[int, str]]

    def take(self, extra: int, source: str) -> BudgetExceeded | InsufficientCredits | None:
        """Set ``extra`` more aside for ``source``, or why that would break a limit."""
        needed = self.total + extra
        for limit, what in self.limits:
            if needed > limit and what == "max_credits":
                return BudgetExceeded(needed, limit, source=source)
            if needed > limit:
                return InsufficientCredits(needed, limit, what, source=source)
        self.total = needed
        return None


ResultQueue = asyncio.Queue[list[EnhanceResult] | BaseException | None]


@dataclass
class BatchState:
    """One run's settings and shared state; every step of the pipeline reads and moves it."""

    client: PipelineClient
    options: EnhancedImageInput
    out_dir: Path
    journal: JournalStore | None
    overwrite: bool
    max_credits: int | None
    timeout: float | None
    root: Path | None = None
    downscale: bool = False
    before_create: Callable[[list[ItemKey]], set[ItemKey]] | None = None
    buckets: BucketRun | None = None  # the batch's s3:// sources and destination
    cost: int = field(init=False)
    params_hash: str = field(init=False)
    book: ItemBook = field(init=False)
    queue: ResultQueue = field(init=False, default_factory=asyncio.Queue)
    download_gate: asyncio.Semaphore = field(init=False)
    create_gate: asyncio.Semaphore = field(init=False)
    reserve: Reserve = field(init=False, default_factory=lambda: Reserve(0, []))
    batch_keys: set[ItemKey] = field(init=False, default_factory=set)
    dry: bool = field(init=False, default=False)  # planning only: nothing removed or written
    known_content: dict[str, ItemRecord] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.cost = estimate_credits(self.options)
        self.params_hash = hash_params(self.options)
        self.book = ItemBook(self.journal)
        self.download_gate = asyncio.Semaphore(self.client.download_concurrency)
        self.create_gate = asyncio.Semaphore(tuning.CREATE_CONCURRENCY)

    @property
    def identity(self) -> StoreIdentity:
        """Whose jobs this run makes: the endpoint and a fingerprint of the key (never the key)."""
        api = self.client.api
        return StoreIdentity(redact_url(api.url), key_fingerprint(api.headers.get("x-api-key", "")))

    @property
    def sink(self) -> BucketRun | None:
        """The destination bucket, when the outputs go to one (``out_dir`` is its prefix)."""
        return self.buckets if self.buckets is not None and self.buckets.out else None

    def state(self, item: Item) -> ItemState | None:
        return self.book.state(item.key)

    def cost_of(self, item: Item) -> int:
        """What a job for the item costs: a PDF its analysed estimate, an image the table's."""
        if not item.pdf:
            return self.cost
        record = self.book.get(item.key)
        assert record is not None
        assert record.credits is not None, f"{item.shown}: a PDF priced without its analysis"
        return record.credits

    def upload_id(self, item: Item) -> str:
        record = self.book.get(item.key)
        assert record is not None
        assert record.upload_id is not None
        return record.upload_id

    def fail(self, item: Item, error: ViesusError) -> EnhanceResult:
        record = self.book.get(item.key)
        result = EnhanceResult(
            source=item.source,
            status="failed",
            job_id=record.job_id if record else None,
            upload_id=record.upload_id if record else None,
            error=error,
        )
        return self.deliver(item, result)

    def settle(
        self,
        item: Item,
        status: str,
        path: Path | str,
        job_id: str | None,
        upload_id: str | None,
        credits: int,
    ) -> EnhanceResult:
        """``path``: the output file, or the ``s3://`` URL of the output object."""
        result = EnhanceResult(
            source=item.source,
            status="skipped" if status == "skipped" else "finished",
            output_path=path if isinstance(path, Path) else None,
            output_url=path if isinstance(path, str) else None,
            job_id=job_id,
            upload_id=upload_id,
            credits=credits,
        )
        return self.deliver(item, result)

    def deliver(self, item: Item, result: EnhanceResult) -> EnhanceResult:
        """Record the item's one result and queue it (and its repeats) for the consumer."""
        if item.result is not None:
            return item.result
        if item.downscale_to is not None and item.header is not None:
            original = (item.header.width or 0, item.header.height or 0)
            result = replace(result, downscaled=(original, item.downscale_to))
        item.result = result
        self.queue.put_nowait([result, *repeated(result, item.repeats)])
        return result


def reason(error: BaseException) -> str:
    code = getattr(error, "code", None) or getattr(error, "error_code", None)
    text = str(error)
    return f"{code}: {text}" if code and code not in text else text


def taken_over(item: Item) -> JournalError:
    """A journal write was refused as stale: another writer (in a shared journal, the worker
    that took over the item's lease) moved the item. This run leaves the item alone; the
    other writer produces its result and output."""
    return JournalError(f"{item.shown}: changed by another journal writer, which continues it")


def expected_receipt(batch: BatchState, item: Item, job_id: str = "", sha256: str = "") -> Receipt:
    """The receipt this item's output has (or gets): its source, content and options."""
    return Receipt(item.key.source_id, item.content_hash, batch.params_hash, job_id, None, sha256)
