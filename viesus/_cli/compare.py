"""``--compare FILE.png``: a before/after contact sheet of a run's results.

One row per result: the source and the enhanced output, each scaled to the same height, with
the name underneath. Sources that are URLs have no local "before" and are shown alone. A PDF
shows its first page (rendered with pypdfium2, the ``demo`` extra; without it PDFs are left out).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from viesus._cli.pdf_command import can_render_pdfs, first_page
from viesus._preview import thumbnail
from viesus._sources import is_url

ROW_HEIGHT = 240
GAP = 8
LABEL = 22


def contact_sheet(pairs: Sequence[tuple[str, Path]], destination: Path) -> Path:
    """Write the sheet of ``(source, output)`` pairs to ``destination`` (PNG)."""
    from PIL import Image, ImageDraw

    def thumb(path: str | Path) -> Image.Image:
        if not str(path).lower().endswith(".pdf"):
            return thumbnail(path, ROW_HEIGHT)
        upright = first_page(Path(path)).convert("RGB")  # a photobook: its first page
        width = max(1, round(upright.width * ROW_HEIGHT / upright.height))
        return upright.resize((width, ROW_HEIGHT), Image.Resampling.LANCZOS)

    rows: list[tuple[str, list[Image.Image]]] = []
    for source, output in pairs:
        if output.suffix.lower() == ".pdf" and not can_render_pdfs():
            continue  # PDFs are drawn only with pypdfium2 (the demo extra)
        images = [] if is_url(source) else [thumb(source)]
        images.append(thumb(output))
        rows.append((Path(source).name, images))
    if not rows:
        raise ValueError("no finished results to compare")
    width = max(sum(i.width for i in imgs) + GAP * (len(imgs) + 1) for _, imgs in rows)
    height = len(rows) * (ROW_HEIGHT + LABEL + GAP) + GAP + LABEL
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    draw.text((GAP, 4), "before  |  after (viesus enhance)", fill="black")
    y = GAP + LABEL
    for name, images in rows:
        x = GAP
        for img in images:
            sheet.paste(img, (x, y))
            x += img.width + GAP
        draw.text((GAP, y + ROW_HEIGHT + 3), name, fill="black")
        y += ROW_HEIGHT + LABEL + GAP
    destination.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(destination, format="PNG", optimize=True)
    return destination
