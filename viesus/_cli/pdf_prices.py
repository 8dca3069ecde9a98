"""PDF sources (photobooks) in the plan: priced by the service's analysis.

A dry run uploads each PDF (free) and reads ``AsyncViesus.analyze_pdf``: the estimate is the
service's. A real run sends PDFs through ``enhance_many`` with the images, so they share the
journal (resume, never pay twice) and one ``--max-credits`` budget.
"""

from __future__ import annotations

from dataclasses import replace

from viesus import (
    AsyncViesus,
    EnhanceOptions,
    ViesusError,
)
from viesus._cli.pdf_command import summary
from viesus._cli.plan import Plan
from viesus._plans import BatchPlan


def is_pdf(source: str) -> bool:
    """By name [assumption]: a URL to a PDF without ``.pdf`` in its path goes the image way."""
    return source.lower().split("?", 1)[0].endswith(".pdf")


async def price_pdfs(viesus: AsyncViesus, plan: Plan, options: EnhanceOptions) -> Plan:
    """The plan with each PDF still to pay priced by the service's analysis (or refused with
    its reason)."""
    items, pdfs = [], dict(plan.pdfs)
    for item in plan.items:
        if item.kind == "pdf" and item.pays and item.credits is None:
            try:
                analysis = await viesus.analyze_pdf(item.source)
            except ViesusError as exc:
                item = replace(item, action="refused", credits=0, reason=str(exc))
            else:
                credits = analysis.credits_for(options)
                pdfs[item.source] = summary(analysis, options)
                if credits is None:
                    reason = "the analysis gives no estimate for these options"
                    item = replace(item, action="refused", credits=0, reason=reason)
                else:
                    item = replace(item, credits=credits)
        items.append(item)
    return replace(plan, batch=BatchPlan(items), pdfs=pdfs)
