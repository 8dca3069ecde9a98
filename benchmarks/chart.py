"""The PNG chart of BENCHMARKS.md, drawn with Pillow (matplotlib is not a dependency).

Two panels per scenario of the largest size: requests per image (stacked by kind) and polls
per job, one bar per contender, on a log scale where the values span decades.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw

if TYPE_CHECKING:
    from benchmarks.__main__ import Run

COLOURS = {"graphql": (66, 133, 244), "put": (244, 160, 0), "download": (15, 157, 88)}
SHORT = {
    "docs-generated": "docs loop",
    "docs-gql": "docs + gql",
    "facade-baseline": "facade before",
    "facade": "facade",
    "facade-webhooks": "facade+wh",
}
BAR_H, GAP, LEFT, PANEL_W = 16, 6, 90, 330


def _log_x(value: float, top: float) -> float:
    """0..1 on a log scale from 0.01 to ``top``."""
    if value <= 0.01:
        return 0.0
    return math.log10(value / 0.01) / math.log10(top / 0.01)


def draw_chart(runs: list[Run], path: Path) -> None:
    largest = max(r.images for r in runs)
    keys = sorted({(r.source, r.slots) for r in runs if r.images == largest})
    contenders = [c for c in SHORT if any(r.contender == c for r in runs)]
    block = 24 + len(contenders) * (BAR_H + GAP) + 14
    width, height = LEFT + 2 * PANEL_W + 40, 40 + block * len(keys) + 30
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.text(
        (10, 8),
        f"{largest:,} images: HTTP requests per image (log) | polls per job (log)",
        fill="black",
    )
    top_req = max(r.figures["requests_total"] for r in runs) * 1.2
    top_poll = max(max(r.figures["polls_per_job"] for r in runs) * 1.2, 2.0)
    y = 34
    for source, slots in keys:
        draw.text((10, y), f"{'URLs' if source == 'url' else 'files'}, {slots} slots", fill="black")
        y += 18
        for contender in contenders:
            run = next(
                (
                    r
                    for r in runs
                    if (r.contender, r.source, r.slots, r.images)
                    == (contender, source, slots, largest)
                ),
                None,
            )
            draw.text((10, y + 2), SHORT[contender], fill="black")
            if run is not None:
                x0: float = LEFT
                total = 0.0
                for kind in ("graphql", "put", "download"):
                    total += run.figures["requests"].get(kind, 0.0)
                    x1 = LEFT + _log_x(total, top_req) * (PANEL_W - 60)
                    if x1 > x0:
                        draw.rectangle((x0, y, x1, y + BAR_H), fill=COLOURS[kind])
                    x0 = max(x0, x1)
                draw.text((x0 + 4, y + 2), f"{run.figures['requests_total']:.2f}", fill="black")
                px0 = LEFT + PANEL_W
                polls = run.figures["polls_per_job"]
                px1 = px0 + _log_x(polls, top_poll) * (PANEL_W - 60)
                draw.rectangle((px0, y, max(px0 + 1, px1), y + BAR_H), fill=(120, 120, 120))
                draw.text((max(px0 + 1, px1) + 4, y + 2), f"{polls:.2f}", fill="black")
            y += BAR_H + GAP
        y += 14
    legend_x = 10
    for kind, colour in COLOURS.items():
        draw.rectangle((legend_x, y, legend_x + 12, y + 12), fill=colour)
        draw.text((legend_x + 16, y), kind, fill="black")
        legend_x += 100
    image.save(path, "PNG")
