"""The plan: what a run would do with each source, what it would refuse and why, what it
would still cost; and the checks on it before anything is spent (budget, remaining credits,
the confirmation).

The decisions are the facade's own (``AsyncViesus.plan_many``: the real run's checks and journal
reading, stopped before any request), so a dry run and the real run agree source by source,
and the credits are only what the journal does not show paid. PDFs are priced by the
service's analysis of the document (``pdfs.price_pdfs``: uploading a PDF is free, and its
estimate can only come from there).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from viesus._cli.errors import EXIT_FAILED, UsageProblem
from viesus._cli.outcomes import in_cli_words
from viesus._cli.pdf_command import describe
from viesus._cli.text import printable
from viesus._plans import BatchPlan, PlannedItem
from viesus_client.enhancement_parameters import PARAMETERS


@dataclass(frozen=True)
class Plan:
    """The facade's plan with what the CLI shows beside it."""

    batch: BatchPlan
    per_feature: dict[str, int]  # credits of each active feature (only the largest is charged)
    remaining_credits: int | None
    pdfs: dict[str, dict[str, Any]]  # a PDF's analysis (pdf_command.summary) by source, once priced

    @property
    def items(self) -> list[PlannedItem]:
        return self.batch.items

    @property
    def estimated_credits(self) -> int:
        """What the run may still charge: only sources the journal shows unpaid."""
        return self.batch.credits

    def as_json(self) -> dict[str, Any]:
        return {
            "items": [item_json(i, self.pdfs.get(i.source)) for i in self.items],
            "estimated_credits": self.estimated_credits,
            "to_create": len(self.batch.to_pay),
            "credits_per_feature": self.per_feature,
            "remaining_credits": self.remaining_credits,
            "pdfs_priced_by_service": sum(1 for i in self.items if i.kind == "pdf"),
        }


def refusal(item: PlannedItem) -> str | None:
    """Why the plan refuses ``item``, in the CLI's words."""
    return in_cli_words(item.error) or item.reason


def item_json(item: PlannedItem, pdf: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "source": item.source,
        "action": item.action,
        "output": None if item.output_path is None else str(item.output_path),
        "size_bytes": item.size_bytes,
        "width": item.width,
        "height": item.height,
        "kind": item.kind,
        "credits": item.credits,
        "refused": refusal(item) if item.action == "refused" else None,
        "downscale_to": None if item.downscale_to is None else "{}x{}".format(*item.downscale_to),
        **({"pdf": pdf} if pdf is not None else {}),
    }


def active_features(options: Mapping[str, Any]) -> dict[str, int]:
    """Feature -> credits for every feature the options switch on (from the generated table)."""
    features: dict[str, int] = {}
    for row in PARAMETERS:
        if "." in row.graphql_path:
            continue  # nested fields count for their parent
        if options.get(row.graphql_path) is not None:
            features[row.feature] = row.credits
    return features


def human_size(size: int | None) -> str:
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover - the loop always returns


def print_plan(plan: Plan, console: Console) -> None:
    table = Table(title="viesus enhance --dry-run: nothing will be created", show_lines=False)
    for column in ("source", "size", "pixels", "output", "credits", "action"):
        table.add_column(column, overflow="fold")
    for item in plan.items:
        pixels = f"{item.width}x{item.height}" if item.width and item.height else "-"
        credits = "by analysis" if item.credits is None else str(item.credits)
        action = f"refused: {refusal(item)}" if item.action == "refused" else item.action
        if item.downscale_to is not None and item.action != "refused":
            action += " (downscaled to {}x{})".format(*item.downscale_to)
        output = "-" if item.output_path is None else printable(item.output_path)
        name, shown = Text(printable(item.source)), Text(printable(action))  # no markup either
        table.add_row(name, human_size(item.size_bytes), pixels, Text(output), credits, shown)
    console.print(table)
    for source, pdf in plan.pdfs.items():
        console.print(printable(f"{source}: {describe(pdf)}"), markup=False)
    features = ", ".join(f"{k} {v}" for k, v in sorted(plan.per_feature.items())) or "default 1"
    console.print(f"credits per feature (only the largest is charged per image): {features}")
    remaining = "unknown" if plan.remaining_credits is None else str(plan.remaining_credits)
    batch = plan.batch
    pdfs = sum(1 for i in batch.to_pay if i.kind == "pdf")
    extra = f" (including {pdfs} PDF(s), priced by the service's analysis)" if pdfs else ""
    others = ", ".join(
        f"{batch.count(a)} {words}"
        for a, words in (
            ("resume", "paid earlier, to download"),
            ("done", "already done"),
            ("refused", "refused"),
            ("repeat", "repeated"),
        )
        if batch.count(a)
    )
    console.print(
        f"{len(batch.to_pay)} of {len(batch.items)} would be created"
        f"{'; ' + others if others else ''}; estimated credits {plan.estimated_credits}{extra}; "
        f"remaining credits {remaining}"
    )


def check_budget(plan: Plan, max_credits: int | None, confirm_above: int, yes: bool) -> None:
    total = plan.estimated_credits
    if max_credits is not None and total > max_credits:
        raise UsageProblem(
            f"the run would cost {total} credits, more than --max-credits {max_credits}; "
            "raise the budget or send fewer files"
        )
    if plan.remaining_credits is not None and total > plan.remaining_credits:
        raise UsageProblem(
            f"the run would cost {total} credits but only {plan.remaining_credits} remain "
            "this period"
        )
    if total <= confirm_above or yes:
        return
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageProblem(
            f"the run would cost {total} credits (more than {confirm_above}); "
            "pass --yes to confirm without a prompt"
        )
    if not typer.confirm(f"Spend about {total} credits on {len(plan.batch.to_pay)} files?"):
        raise typer.Exit(EXIT_FAILED)
