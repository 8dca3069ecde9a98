"""PDF sources (photobooks): priced by the service's analysis, enhanced one at a time.

The facade's ``enhance_many`` and its journal take images; a PDF goes through
``Viesus.analyze_pdf`` (the plan: uploading is free, the estimate is the service's) and
``Viesus.enhance_pdf`` (analysis, budget check, one create, wait, download).

Money fails closed without a journal: before a PDF's enhancement starts, its source is written
to ``DIR/.viesus-pdfs-in-flight.json`` and removed only when the outcome proves no job is left
behind (finished, or refused or failed before or by the job). A PDF still listed there on a
rerun (the earlier run was interrupted, or the answer was lost) is NOT started again: it is
reported as failed with the way out (check the account, then remove the entry), because a
second create could pay twice.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncGenerator, Sequence
from dataclasses import replace
from pathlib import Path

from viesus import (
    EnhancementFailed,
    EnhanceOptions,
    EnhanceResult,
    InsufficientCredits,
    InvalidInput,
    PdfAnalysisFailed,
    Viesus,
    ViesusError,
)
from viesus._cli.pdf_cmd import summary
from viesus._cli.plan import Plan

IN_FLIGHT = ".viesus-pdfs-in-flight.json"
# Errors raised before a job exists, or by a job that ended (failed jobs are free).
NO_JOB_LEFT = (EnhancementFailed, InsufficientCredits, InvalidInput, PdfAnalysisFailed)


def is_pdf(source: str) -> bool:
    """By name [assumption]: a URL to a PDF without ``.pdf`` in its path goes the image way."""
    return source.lower().split("?", 1)[0].endswith(".pdf")


async def price_pdfs(viesus: Viesus, plan: Plan, options: EnhanceOptions) -> Plan:
    """The plan with each PDF priced by the service's analysis (or refused with its reason)."""
    items = []
    for item in plan.items:
        if item.kind == "pdf" and item.refused is None:
            try:
                analysis = await viesus.analyze_pdf(item.source)
            except ViesusError as exc:
                item = replace(item, refused=str(exc))
            else:
                credits = analysis.credits_for(options)
                item = replace(item, pdf=summary(analysis, options))
                if credits is None:
                    item = replace(item, refused="the analysis gives no estimate for these options")
                else:
                    item = replace(item, credits=credits)
        items.append(item)
    return replace(plan, items=items)


class InFlight:
    """The PDFs whose enhancement may have created a job that no result accounts for."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sources: list[str] = json.loads(path.read_text()) if path.exists() else []

    def _save(self) -> None:
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_text(json.dumps(self.sources, indent=2) + "\n")
        os.replace(partial, self.path)

    def add(self, source: str) -> None:
        self.sources.append(source)
        self._save()

    def remove(self, source: str) -> None:
        self.sources = [s for s in self.sources if s != source]
        self._save()


async def enhance_pdfs(
    viesus: Viesus,
    sources: Sequence[str],
    options: EnhanceOptions,
    out: Path,
    *,
    overwrite: bool,
    max_credits: int | None,
) -> AsyncGenerator[EnhanceResult, None]:
    """One result per PDF, in order (see the module docstring for the fail-closed rule)."""
    ledger = InFlight(out / IN_FLIGHT)
    for source in sources:
        key = source if "://" in source else str(Path(source).resolve())
        # [assumption] the facade names a PDF's output NAME_enhanced.pdf (its docstring says so).
        dest = out / f"{Path(source.split('?', 1)[0]).stem}_enhanced.pdf"
        if key in ledger.sources:
            problem = ViesusError(
                f"{source}: an earlier run was interrupted after its enhancement may have been "
                f"created; check the account (viesus jobs show ID), then remove it from "
                f"{ledger.path} to enhance it again"
            )
            yield EnhanceResult(source=source, status="failed", error=problem)
            continue
        if dest.exists() and not overwrite:
            yield EnhanceResult(source=source, status="skipped", output_path=dest)
            continue
        ledger.add(key)
        try:
            result = await viesus.enhance_pdf(
                source, options, out, max_credits=max_credits, overwrite=overwrite
            )
        except NO_JOB_LEFT as exc:
            ledger.remove(key)
            yield EnhanceResult(source=source, status="failed", error=exc)
            continue
        except ViesusError as exc:  # a job may exist: the entry stays (fail closed)
            yield EnhanceResult(source=source, status="failed", error=exc)
            continue
        ledger.remove(key)
        yield result
