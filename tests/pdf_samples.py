"""Small photobook PDFs made on the fly with pikepdf and Pillow (nothing bundled, nothing fetched).

``photobook()`` builds three pages of text and photos covering the cases the emulator must
tell apart: a JPEG (DCTDecode) drawn twice on two pages, a Flate RGB image printed at high
resolution, a greyscale Flate image, a PNG-predicted Flate image inside a form XObject, and a
tiny icon. ``PHOTOBOOK`` says what each image is eligible for under the emulator's rule
(``Eligibility()``: >= 64 px a side; colour = RGB; upscaling below 300 ppi at placed size).
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass

import numpy as np
import pikepdf
from PIL import Image

TEXTS = ("Page one: the beach", "Page two: the mountains", "Page three: friends")


@dataclass(frozen=True)
class Expected:
    total_images: int
    colour: int
    restoration: int
    upscaling: int
    placements: int
    pages: int
    #: (width, height) of each enhanceable image, keyed by its XObject name on its first page.
    sizes: dict[str, tuple[int, int]]


PHOTOBOOK = Expected(
    total_images=5,
    colour=3,  # Beach (JPEG), Peaks (Flate), Friends (PNG-predicted, in a form)
    restoration=4,  # the three colour ones and Grey
    upscaling=3,  # Beach 48 ppi, Grey 96 ppi, Friends 100 ppi; Peaks is 400 ppi
    placements=6,  # Beach is drawn on pages 1 and 3
    pages=3,
    sizes={
        "/Beach": (160, 120),
        "/Peaks": (600, 400),
        "/Grey": (96, 96),
        "/Friends": (150, 100),
    },
)


def photo(width: int, height: int, seed: int, grey: bool = False) -> Image.Image:
    """A photo-like image: smooth gradients plus mild noise (something for the engine to do)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack(
        [
            90 + 80 * x / width,
            70 + 100 * y / height,
            120 + 40 * np.sin(x / 9.0 + seed),
        ],
        axis=-1,
    )
    pixels = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels, "RGB")
    return image.convert("L") if grey else image


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def _png_idat(image: Image.Image) -> bytes:
    """The concatenated IDAT data of a PNG: a PDF Flate stream with PNG predictors."""
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    data, pos, out = buffer.getvalue(), 8, b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        if kind == b"IDAT":
            out += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    return out


def _image(pdf: pikepdf.Pdf, image: Image.Image, how: str) -> pikepdf.Stream:
    space = pikepdf.Name.DeviceGray if image.mode == "L" else pikepdf.Name.DeviceRGB
    fields = {
        "/Type": pikepdf.Name.XObject,
        "/Subtype": pikepdf.Name.Image,
        "/Width": image.width,
        "/Height": image.height,
        "/ColorSpace": space,
        "/BitsPerComponent": 8,
    }
    if how == "jpeg":
        stream = pikepdf.Stream(pdf, _jpeg(image))
        fields["/Filter"] = pikepdf.Name.DCTDecode
    elif how == "png":
        stream = pikepdf.Stream(pdf, _png_idat(image))
        fields["/Filter"] = pikepdf.Name.FlateDecode
        fields["/DecodeParms"] = pikepdf.Dictionary(
            Predictor=15, Colors=3 if image.mode == "RGB" else 1, Columns=image.width
        )
    else:
        stream = pikepdf.Stream(pdf, zlib.compress(image.tobytes()))
        fields["/Filter"] = pikepdf.Name.FlateDecode
    for key, value in fields.items():
        stream[key] = value
    return stream


def _page(pdf: pikepdf.Pdf, text: str, draw: bytes, xobjects: dict[str, pikepdf.Object]) -> None:
    font = pikepdf.Dictionary(
        Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
    )
    content = b"BT /F1 20 Tf 72 760 Td (" + text.encode() + b") Tj ET\n" + draw
    page = pikepdf.Dictionary(
        Type=pikepdf.Name.Page,
        MediaBox=[0, 0, 612, 792],
        Resources=pikepdf.Dictionary(
            Font=pikepdf.Dictionary(F1=font), XObject=pikepdf.Dictionary(xobjects)
        ),
        Contents=pikepdf.Stream(pdf, content),
    )
    pdf.pages.append(pikepdf.Page(page))


def photobook() -> bytes:
    """Three pages, five distinct images, six placements (see ``PHOTOBOOK``)."""
    pdf = pikepdf.new()
    beach = _image(pdf, photo(160, 120, 1), "jpeg")
    peaks = _image(pdf, photo(600, 400, 2), "flate")
    grey = _image(pdf, photo(96, 96, 3, grey=True), "flate")
    icon = _image(pdf, photo(16, 16, 4), "flate")
    friends = _image(pdf, photo(150, 100, 5), "png")
    # Beach: 160 px over 240 pt (3.33 in) = 48 ppi. Peaks: 600 px over 108 pt (1.5 in) = 400 ppi.
    _page(pdf, TEXTS[0], b"q 240 0 0 180 72 400 cm /Beach Do Q\n", {"/Beach": beach})
    _page(
        pdf,
        TEXTS[1],
        b"q 108 0 0 72 72 500 cm /Peaks Do Q\nq 72 0 0 72 300 500 cm /Grey Do Q\n"
        b"q 12 0 0 12 72 100 cm /Icon Do Q\n",
        {"/Peaks": peaks, "/Grey": grey, "/Icon": icon},
    )
    # Friends sits in a form XObject scaled by 2: 150 px over 2 x 54 pt (1.5 in) = 100 ppi.
    form = pikepdf.Stream(pdf, b"q 54 0 0 36 0 0 cm /Friends Do Q\n")
    form["/Type"] = pikepdf.Name.XObject
    form["/Subtype"] = pikepdf.Name.Form
    form["/BBox"] = [0, 0, 54, 36]
    form["/Resources"] = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Friends=friends))
    _page(
        pdf,
        TEXTS[2],
        b"q 2 0 0 2 72 300 cm /Album Do Q\nq 120 0 0 90 300 300 cm /Beach Do Q\n",
        {"/Album": form, "/Beach": beach},
    )
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def text_only() -> bytes:
    """One page of text, no image at all."""
    pdf = pikepdf.new()
    _page(pdf, "Nothing but words", b"", {})
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def damaged() -> bytes:
    """A PDF header, then bytes qpdf cannot make a document of."""
    return b"%PDF-1.7\n" + bytes(range(256)) * 8 + b"\n%%EOF\n"


def encrypted() -> bytes:
    """The photobook, encrypted with a user password."""
    with pikepdf.open(io.BytesIO(photobook())) as pdf:
        out = io.BytesIO()
        pdf.save(out, encryption=pikepdf.Encryption(owner="owner", user="reader"))
        return out.getvalue()


def bomb(side: int = 20_000) -> bytes:
    """One page drawing an image that declares side x side px in a few bytes of Flate."""
    pdf = pikepdf.new()
    stream = pikepdf.Stream(pdf, zlib.compress(b"\x00" * 1000))
    for key, value in {
        "/Type": pikepdf.Name.XObject,
        "/Subtype": pikepdf.Name.Image,
        "/Width": side,
        "/Height": side,
        "/ColorSpace": pikepdf.Name.DeviceRGB,
        "/BitsPerComponent": 8,
        "/Filter": pikepdf.Name.FlateDecode,
    }.items():
        stream[key] = value
    _page(pdf, "bomb", b"q 100 0 0 100 72 72 cm /Bomb Do Q\n", {"/Bomb": stream})
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def page_texts(data: bytes) -> list[str]:
    """The text of every page, extracted by PDFium (an implementation independent of qpdf)."""
    import pypdfium2

    document = pypdfium2.PdfDocument(data)
    try:
        texts = []
        for page in document:
            text_page = page.get_textpage()
            texts.append(str(text_page.get_text_range()).strip())
            text_page.close()
            page.close()
        return texts
    finally:
        document.close()


def images_by_name(data: bytes) -> dict[str, Image.Image]:
    """Every image XObject reachable from the pages (forms included), decoded by pikepdf."""
    found: dict[str, Image.Image] = {}

    def visit(resources: pikepdf.Object | None) -> None:
        xobjects = resources.get("/XObject") if resources is not None else None
        if xobjects is None:
            return
        for name, obj in xobjects.items():
            if obj.get("/Subtype") == pikepdf.Name.Image and name not in found:
                assert isinstance(obj, pikepdf.Stream)
                found[name] = pikepdf.PdfImage(obj).as_pil_image()
            elif obj.get("/Subtype") == pikepdf.Name.Form:
                visit(obj.get("/Resources"))

    with pikepdf.open(io.BytesIO(data)) as pdf:
        for page in pdf.pages:
            visit(page.obj.get("/Resources"))
    return found


def render_page(data: bytes, index: int, scale: float = 1.0) -> Image.Image:
    """One page rendered by PDFium, as a Pillow image."""
    import pypdfium2

    document = pypdfium2.PdfDocument(data)
    try:
        page = document[index]
        image: Image.Image = page.render(scale=scale).to_pil()
        page.close()
        return image
    finally:
        document.close()
