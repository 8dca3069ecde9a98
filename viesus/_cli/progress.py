"""Progress of a run: a rich bar on a terminal, plain lines otherwise, JSON lines for machines.

The facade reports each source when it is done (finished, skipped by the journal, failed);
what is not done yet is "in flight" (uploading, queued or processing). Credits spent and an
ETA (from the rate of completions so far) are shown with the counts. Nothing here writes ANSI
codes when the output is not a terminal, and names are shown escaped (text.printable).
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from viesus import EnhanceResult
from viesus._cli.text import failure_line, printable, reason_for


class Events:
    """``--events-jsonl FILE``: one JSON object per line, flushed as it happens."""

    def __init__(self, path: Path | None) -> None:
        self._stream: IO[str] | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._stream = path.open("a", encoding="utf-8")

    def emit(self, event: str, **fields: Any) -> None:
        if self._stream is None:
            return
        record = {"event": event, "time": round(time.time(), 3), **fields}
        self._stream.write(json.dumps(record, default=str) + "\n")
        self._stream.flush()

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()


class ProgressView:
    """Counts per state, credits and ETA; rich on a TTY, one plain line per result otherwise.

    With a shared ``batch`` the counts are this worker's results only (the other workers
    settle the rest): no "in flight" count and no ETA against the batch's total, and each
    plain line says ``[N here of TOTAL in batch NAME]``.
    """

    def __init__(self, total: int | None, console: Console, batch: str | None = None) -> None:
        self.total = total
        self.batch = batch
        self.counts: Counter[str] = Counter()
        self.credits = 0
        self.started = time.monotonic()
        self.console = console
        self.tty = console.is_terminal
        self._progress: Progress | None = None
        self._task: Any = None

    def __enter__(self) -> Self:
        if self.tty:
            self._progress = Progress(
                TextColumn("[bold]enhancing"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[states]}"),
                TimeElapsedColumn(),
                TextColumn("{task.fields[eta]}"),
                console=self.console,
                transient=False,
            )
            self._progress.start()
            self._task = self._progress.add_task(
                "enhance", total=self.total, states=self.states(), eta=""
            )
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def done(self) -> int:
        return sum(self.counts.values())

    def states(self) -> str:
        parts = [f"{k} {v}" for k, v in sorted(self.counts.items())]
        if self.batch is not None:
            parts.insert(0, f"this worker of batch {self.batch}:")
        elif self.total is not None:  # None: an s3:// prefix, its objects listed in the batch
            parts.insert(0, f"in flight {self.total - self.done()}")
        return ", ".join(parts) + f"; credits {self.credits}"

    def eta(self) -> str:
        done = self.done()
        if done == 0 or done == self.total or self.batch is not None or self.total is None:
            return ""
        elapsed = time.monotonic() - self.started
        return f"ETA {elapsed / done * (self.total - done):.0f} s"

    def result(self, result: EnhanceResult) -> None:
        self.counts[result.status] += 1
        if result.status == "finished":
            self.credits += result.credits
        if self._progress is not None:
            self._progress.update(self._task, advance=1, states=self.states(), eta=self.eta())
            if not result.ok:
                self._progress.console.print(
                    failure_line(result.source, result.reason), markup=False
                )
            return
        where = result.output_path or result.output_url or reason_for(result.source, result.reason)
        count = (
            f"{self.done()}" + ("" if self.total is None else f"/{self.total}")
            if self.batch is None
            else f"{self.done()} here of {self.total} in batch {self.batch}"
        )
        line = f"[{count}] {result.status} {printable(result.source)} -> {printable(where)}"
        print(line, file=sys.stdout, flush=True)
