"""The plan: what a run would send, what it would refuse and why, what it would cost; and the
checks on it before anything is spent (budget, remaining credits, the confirmation).

Built without a single mutation: file headers are read locally (no decode), the limits and the
price come from the facade's own checks (``check_limits``, ``estimate_credits``), and the only
request is the credits query. PDFs are priced by the service's analysis of the document
(``pdfs.price_pdfs``: uploading a PDF is free, and its estimate can only come from there).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from viesus import EnhanceOptions, ViesusError, check_limits, estimate_credits, read_image_header
from viesus._cli.errors import EXIT_FAILED, UsageProblem
from viesus._cli.pdf_cmd import describe
from viesus._cli.sources import is_url
from viesus._cli.text import printable, reason_for
from viesus_client.enhancement_parameters import PARAMETERS


@dataclass(frozen=True)
class PlanItem:
    source: str
    size_bytes: int | None
    width: int | None
    height: int | None
    kind: str  # "image", "pdf", "url"
    credits: int | None  # None: priced by the service (PDF)
    refused: str | None  # why the facade would refuse it before spending
    pdf: dict[str, Any] | None = None  # a PDF's analysis (pdf_cmd.summary), once priced

    def as_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "size_bytes": self.size_bytes,
            "width": self.width,
            "height": self.height,
            "kind": self.kind,
            "credits": self.credits,
            "refused": self.refused,
            **({"pdf": self.pdf} if self.pdf is not None else {}),
        }


@dataclass(frozen=True)
class Plan:
    items: list[PlanItem]
    per_feature: dict[str, int]  # credits of each active feature (only the largest is charged)
    remaining_credits: int | None

    @property
    def estimated_credits(self) -> int:
        return sum(i.credits or 0 for i in self.items if i.refused is None)

    @property
    def accepted(self) -> list[PlanItem]:
        return [i for i in self.items if i.refused is None]

    def as_json(self) -> dict[str, Any]:
        return {
            "items": [i.as_json() for i in self.items],
            "estimated_credits": self.estimated_credits,
            "credits_per_feature": self.per_feature,
            "remaining_credits": self.remaining_credits,
            "pdfs_priced_by_service": sum(1 for i in self.items if i.kind == "pdf"),
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


def plan_item(source: str, options: EnhanceOptions) -> PlanItem:
    price = estimate_credits(options)
    if is_url(source):
        if source.lower().split("?", 1)[0].endswith(".pdf"):
            return PlanItem(source, None, None, None, "pdf", None, None)
        return PlanItem(source, None, None, None, "url", price, None)
    path = Path(source)
    size = path.stat().st_size if path.exists() else None
    try:
        header = read_image_header(path)
    except ViesusError as exc:
        return PlanItem(source, size, None, None, "image", price, str(exc))
    if header.format == "PDF":
        return PlanItem(source, size, None, None, "pdf", None, None)
    try:
        check_limits(source, header, options)
    except ViesusError as exc:
        return PlanItem(source, size, header.width, header.height, "image", price, str(exc))
    return PlanItem(source, size, header.width, header.height, "image", price, None)


def build_plan(
    sources: Sequence[str],
    options: EnhanceOptions,
    raw_options: Mapping[str, Any],
    remaining: int | None,
) -> Plan:
    return Plan([plan_item(s, options) for s in sources], active_features(raw_options), remaining)


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
    for column in ("source", "size", "pixels", "credits", "status"):
        table.add_column(column, overflow="fold")
    for item in plan.items:
        pixels = f"{item.width}x{item.height}" if item.width and item.height else "-"
        credits = "by analysis" if item.credits is None else str(item.credits)
        status = f"refused: {reason_for(item.source, item.refused)}" if item.refused else "ok"
        name, shown = Text(printable(item.source)), Text(printable(status))  # no markup either
        table.add_row(name, human_size(item.size_bytes), pixels, credits, shown)
    console.print(table)
    for item in plan.items:
        if item.pdf is not None:
            console.print(printable(f"{item.source}: {describe(item.pdf)}"), markup=False)
    features = ", ".join(f"{k} {v}" for k, v in sorted(plan.per_feature.items())) or "default 1"
    console.print(f"credits per feature (only the largest is charged per image): {features}")
    remaining = "unknown" if plan.remaining_credits is None else str(plan.remaining_credits)
    pdfs = sum(1 for i in plan.items if i.kind == "pdf")
    extra = f" (including {pdfs} PDF(s), priced by the service's analysis)" if pdfs else ""
    console.print(
        f"{len(plan.accepted)} of {len(plan.items)} would be sent; estimated credits "
        f"{plan.estimated_credits}{extra}; remaining credits {remaining}"
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
    if not typer.confirm(f"Spend about {total} credits on {len(plan.accepted)} files?"):
        raise typer.Exit(EXIT_FAILED)
