"""A small photobook PDF built on the fly from the bundled photos, degraded (``make demo``).

Three pages, each a caption in Helvetica and one or two of scikit-image's photographs spoiled
like the demo's JPEGs (``examples/photos.py``), embedded as JPEG images and printed large
(about 40-75 ppi at their placed size), so the analysis finds them eligible for colour,
restoration and upscaling. Built with pikepdf (the emulator's PDF library: ``--local`` needs
the emulator extra anyway).
"""

from __future__ import annotations

import io
from pathlib import Path

from examples.photos import degradation_for, degrade, load

# (caption, [(photo, x, y, width, height) in points on a 612 x 792 page])
PAGES = (
    ("Summer 2026: the astronaut came to visit", [("astronaut.png", 72, 200, 468, 468)]),
    (
        "Chelsea and the morning coffee",
        [("chelsea.png", 72, 430, 300, 200), ("coffee.png", 240, 150, 300, 200)],
    ),
    ("The motorcycle, before the trip", [("motorcycle_left.png", 72, 250, 468, 316)]),
)


def build_photobook(path: Path) -> Path:
    """Write the photobook to ``path`` (its folder is created); returns ``path``."""
    import pikepdf
    from PIL import Image

    pdf = pikepdf.new()
    font = pikepdf.Dictionary(
        Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
    )
    index = 0
    for caption, photos in PAGES:
        xobjects: dict[str, pikepdf.Object] = {}
        draw = b"BT /F1 20 Tf 72 740 Td (" + caption.encode("latin-1") + b") Tj ET\n"
        for name, x, y, width, height in photos:
            jpeg = degrade(load(name), degradation_for(index), seed=index)
            with Image.open(io.BytesIO(jpeg)) as image:
                pixels = image.size
            stream = pikepdf.Stream(pdf, jpeg)
            stream["/Type"] = pikepdf.Name.XObject
            stream["/Subtype"] = pikepdf.Name.Image
            stream["/Width"], stream["/Height"] = pixels
            stream["/ColorSpace"] = pikepdf.Name.DeviceRGB
            stream["/BitsPerComponent"] = 8
            stream["/Filter"] = pikepdf.Name.DCTDecode
            key = f"/Im{index}"
            xobjects[key] = stream
            draw += f"q {width} 0 0 {height} {x} {y} cm {key} Do Q\n".encode()
            index += 1
        page = pikepdf.Dictionary(
            Type=pikepdf.Name.Page,
            MediaBox=[0, 0, 612, 792],
            Resources=pikepdf.Dictionary(
                Font=pikepdf.Dictionary(F1=font), XObject=pikepdf.Dictionary(xobjects)
            ),
            Contents=pikepdf.Stream(pdf, draw),
        )
        pdf.pages.append(pikepdf.Page(page))
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.save(path)
    return path
