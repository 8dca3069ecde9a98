"""What a source is (a URL or a path), and the results of a source given more than once.

Shared by the facade, the journal and the CLI, so each asks the same question the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from pathlib import Path
from typing import TypeVar

from viesus._results import EnhanceResult

__all__ = ["first_of_each", "is_url", "repeated"]

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)


def is_url(source: str | Path) -> bool:
    """An ``http(s)://`` source, the scheme in any case (``HTTP://x`` is a URL, not a path)."""
    return isinstance(source, str) and source.split("://", 1)[0].lower() in ("http", "https")


def first_of_each(
    values: Iterable[T], key: Callable[[T], K]
) -> tuple[dict[K, T], dict[K, list[T]]]:
    """The first value of each key (in order), and the later values with the same key.

    A source given twice with the same options is one job: the first is sent, its repeats
    get its result through :func:`repeated`.
    """
    first: dict[K, T] = {}
    repeats: dict[K, list[T]] = {}
    for value in values:
        k = key(value)
        if k in first:
            repeats.setdefault(k, []).append(value)
        else:
            first[k] = value
    return first, repeats


def repeated(result: EnhanceResult, sources: Iterable[str | Path]) -> list[EnhanceResult]:
    """``result`` once for each repeat of its source: the same outcome, no credits."""
    return [
        EnhanceResult(
            source=str(source),
            status=result.status,
            output_path=result.output_path,
            job_id=result.job_id,
            upload_id=result.upload_id,
            credits=0,
            error=result.error,
            output_url=result.output_url,
        )
        for source in sources
    ]
