"""Before/after pictures of a result, as PIL images (no display library needed).

``result.preview()`` in a notebook shows the input beside the output at one height; the CLI's
``--compare`` sheet stacks the same rows. A URL source has no local "before": the output
alone is returned.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

GAP = 8


def thumbnail(path: str | Path, height: int) -> Image.Image:
    """The picture at ``path`` upright (EXIF orientation applied), RGB, ``height`` px high."""
    from PIL import Image, ImageOps

    with Image.open(path) as opened:
        upright = ImageOps.exif_transpose(opened).convert("RGB")
    width = max(1, round(upright.width * height / upright.height))
    return upright.resize((width, height), Image.Resampling.LANCZOS)


def side_by_side(pictures: list[Image.Image]) -> Image.Image:
    """The pictures in a row on white, ``GAP`` px apart."""
    from PIL import Image

    height = max(p.height for p in pictures)
    width = sum(p.width for p in pictures) + GAP * (len(pictures) - 1)
    row = Image.new("RGB", (width, height), "white")
    x = 0
    for picture in pictures:
        row.paste(picture, (x, 0))
        x += picture.width + GAP
    return row


def before_after(source: str, output: Path, height: int = 320) -> Image.Image:
    """The source beside its output; the output alone for a URL source."""
    after = thumbnail(output, height)
    if "://" in source or not Path(source).is_file():
        return after
    return side_by_side([thumbnail(source, height), after])
