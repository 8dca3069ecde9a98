"""PDF sources (photobooks) in the plan: priced by the service's analysis.

A dry run uploads each PDF (free) and reads ``Viesus.analyze_pdf``: the estimate is the
service's. A real run sends PDFs through ``enhance_many`` with the images, so they share the
journal (resume, never pay twice) and one ``--max-credits`` budget.
"""

from __future__ import annotations

from dataclasses import replace

from viesus import (
    EnhanceOptions,
    Viesus,
    ViesusError,
)
from viesus._cli.pdf_cmd import summary
from viesus._cli.plan import Plan


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
