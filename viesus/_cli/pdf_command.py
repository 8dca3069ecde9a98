"""``viesus pdf analyze FILE_OR_URL [--json]``, and the PDF lines of ``enhance --dry-run``.

A PDF's price and image counts can only come from the service's analysis of it: the PDF is
uploaded (free) and analysed; nothing is created. The same summary serves the ``pdf analyze``
command and the dry-run plan (``plan.py`` prints :func:`describe` under its table and puts
:func:`summary` in its JSON).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from viesus import AsyncViesus, EnhanceOptions, PdfAnalysis
from viesus._cli.account import ApiKey, Endpoint, Json, Local, run, show
from viesus._cli.connection import Target

if TYPE_CHECKING:
    from PIL.Image import Image

pdf_app = typer.Typer(help="PDFs (photobooks): the service's analysis.", no_args_is_help=True)


def summary(analysis: PdfAnalysis, options: EnhanceOptions | None = None) -> dict[str, Any]:
    """The analysis as flat data: counts, eligible counts and estimates (exact numbers)."""
    stats = analysis.statistics
    data: dict[str, Any] = {
        "source": analysis.source,
        "upload_id": analysis.upload_id,
        "pages": stats.pages,
        "images": stats.total_images,
        "placements": stats.placements,
        "inline_images": stats.inline_images,
        "eligible_colour": stats.colour_images,
        "eligible_restoration": stats.restoration_images,
        "eligible_upscaling": stats.upscaling_images,
        "total_credits": analysis.total_credits,
    }
    if options is not None:
        data["estimate_for_options"] = analysis.credits_for(options)
    data["estimated_credits"] = dict(analysis.estimated_credits)
    return data


def can_render_pdfs() -> bool:
    """pypdfium2 (the ``demo`` extra) is installed: the before/after sheet can show PDFs."""
    import importlib.util

    return importlib.util.find_spec("pypdfium2") is not None


def first_page(path: Path) -> Image:
    """Page 1 of a PDF rendered at 72 dpi, for the before/after sheet (``compare.py``)."""
    import pypdfium2

    document = pypdfium2.PdfDocument(path)
    try:
        page = document[0]
        image: Image = page.render(scale=1.0).to_pil()
        page.close()
        return image
    finally:
        document.close()


def describe(data: dict[str, Any]) -> str:
    """One line of a :func:`summary` for the dry run: pages, images, eligible counts, estimate."""
    estimate = data.get("estimate_for_options")
    return (
        f"{data['pages']} pages, {data['images']} images; eligible: colour "
        f"{data['eligible_colour']}, restoration {data['eligible_restoration']}, upscaling "
        f"{data['eligible_upscaling']}; estimate {'-' if estimate is None else estimate} credits"
    )


@pdf_app.command("analyze")
def analyze(
    source: Annotated[str, typer.Argument(help="A PDF file or an http(s) URL to one.")],
    api_key: ApiKey = None,
    endpoint: Endpoint = None,
    local: Local = False,
    json_: Json = False,
) -> None:
    """Upload a PDF (free) and print the service's analysis: pages, images, eligible counts
    and the estimated credits per feature combination. Nothing is created or charged."""

    async def action(viesus: AsyncViesus) -> dict[str, Any]:
        return summary(await viesus.analyze_pdf(source))

    data = run(Target(api_key, endpoint, local), action)
    if json_:
        show(data, as_json=True)
        return
    estimates = data.pop("estimated_credits")
    show(data, as_json=False)
    for combination, credits in estimates.items():
        typer.echo(f"  {combination}: {credits} credits")
