"""``enhance_many(..., progress=True)``: a bar in a terminal and in a notebook.

rich (a dependency already, for the CLI) draws in both; it is imported only when a bar is
asked for, so ``import viesus`` stays light.
"""

from __future__ import annotations

from collections.abc import Iterator

from viesus._results import EnhanceResult


def with_progress(results: Iterator[EnhanceResult], total: int) -> Iterator[EnhanceResult]:
    """``results`` unchanged, each advancing a bar that counts failures and credits."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task("enhancing", total=total)
        failed = credits = 0
        for result in results:
            failed += not result.ok
            credits += result.credits
            bar.update(task, advance=1, description=f"enhancing ({failed} failed, {credits} cr)")
            yield result
