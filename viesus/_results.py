"""What ``enhance``/``enhance_many`` hand back: one result per source, never an exception
that swallows the rest of a batch.

``enhance_many`` yields ``EnhanceResult`` (a failed item has no job or output, so those are
optional). ``enhance`` raises on failure, so it returns the narrower ``FinishedResult`` whose
``job_id`` and ``output_path`` are typed as always set: a user's ``mypy --strict`` accepts
``await viesus.wait(result.job_id)`` without a check that can never fail.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from viesus._errors import EnhancementFailed, ViesusError

if TYPE_CHECKING:
    from PIL import Image

Status = Literal["finished", "skipped", "failed"]


@dataclass(frozen=True)
class EnhanceResult:
    """The outcome for one source.

    ``finished``: enhanced now, written to ``output_path``. ``skipped``: a journal says it was
    finished by an earlier run (``output_path`` from then). ``failed``: ``error`` says why; no
    credit is charged for a failed job. ``credits`` is the documented price of the job (the
    API reports no per-job charge; the emulator's ledger agrees with it).
    """

    source: str
    status: Status
    output_path: Path | None = None
    job_id: str | None = None
    upload_id: str | None = None
    credits: int = 0
    error: ViesusError | None = None
    # ((width, height) of the input, (width, height) sent) when ``downscale=True`` fitted it
    downscaled: tuple[tuple[int, int], tuple[int, int]] | None = None
    # ``s3://bucket/key`` of the output when the batch wrote to a bucket (no output_path)
    output_url: str | None = None

    def __repr__(self) -> str:
        shown = [f"source={self.source!r}", f"status={self.status!r}"]
        if self.output_path is not None:
            shown.append(f"output_path={str(self.output_path)!r}")
        if self.output_url is not None:
            shown.append(f"output_url={self.output_url!r}")
        if self.job_id is not None:
            shown.append(f"job_id={self.job_id!r}")
        shown.append(f"credits={self.credits}")
        if self.error is not None:
            shown.append(f"reason={self.reason!r}")
        return f"{type(self).__name__}({', '.join(shown)})"

    @property
    def ok(self) -> bool:
        return self.status != "failed"

    def preview(self, height: int = 320) -> Image.Image:
        """The input beside the enhanced output, ``height`` px high (a PIL image: a notebook
        shows it). ``ValueError`` for a result without an output."""
        if self.output_path is None:
            raise ValueError(f"{self.source}: {self.status}, no output to preview")
        from viesus._preview import before_after

        return before_after(self.source, self.output_path, height)

    @property
    def reason(self) -> str | None:
        """A one-line reason for a failure (the job's ``errorCode`` when the service gave one)."""
        if self.error is None:
            return None
        if isinstance(self.error, EnhancementFailed) and self.error.error_code:
            return self.error.error_code
        return str(self.error)


@dataclass(frozen=True, kw_only=True, repr=False)
class FinishedResult(EnhanceResult):
    """A result with a job and a written file (what ``AsyncViesus.enhance`` returns)."""

    output_path: Path
    job_id: str

    @classmethod
    def of(cls, result: EnhanceResult) -> FinishedResult:
        """``result`` with its job and file proven present (else the error it carries)."""
        if result.error is not None:
            raise result.error
        if result.job_id is None or result.output_path is None:
            raise ViesusError(f"{result.source}: {result.status} without a job id or output file")
        return cls(
            source=result.source,
            status=result.status,
            output_path=result.output_path,
            job_id=result.job_id,
            upload_id=result.upload_id,
            credits=result.credits,
            downscaled=result.downscaled,
        )
