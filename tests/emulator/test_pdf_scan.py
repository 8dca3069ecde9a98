"""The PDF analysis on its own (no server): what counts as an image, what is eligible, bombs."""

from __future__ import annotations

import io
import subprocess
import sys
import zlib
from pathlib import Path

import pikepdf
import pytest
from PIL import Image

from tests.pdf_samples import _image, _page, photo, photobook
from viesus_emulator._pdf.records import Eligibility, PdfLimits, PdfProblem
from viesus_emulator._pdf.rewrite import rewrite
from viesus_emulator._pdf.scan import multiply, scan


def save(pdf: pikepdf.Pdf, path: Path) -> Path:
    pdf.save(path)
    return path


def raw_image(
    pdf: pikepdf.Pdf, data: bytes, width: int, height: int, **extra: object
) -> pikepdf.Stream:
    stream = pikepdf.Stream(pdf, data)
    fields: dict[str, object] = {
        "/Type": pikepdf.Name.XObject,
        "/Subtype": pikepdf.Name.Image,
        "/Width": width,
        "/Height": height,
        "/BitsPerComponent": 8,
        **extra,
    }
    for key, value in fields.items():
        stream[key] = value
    return stream


def test_matrices_compose_like_pdf_cm() -> None:
    scale = (2.0, 0.0, 0.0, 3.0, 0.0, 0.0)
    move = (1.0, 0.0, 0.0, 1.0, 10.0, 20.0)
    # cm "scale" inside a page already moved: the unit square lands at (10, 20), 2 x 3 big.
    assert multiply(scale, move) == (2.0, 0.0, 0.0, 3.0, 10.0, 20.0)
    assert multiply(move, scale) == (2.0, 0.0, 0.0, 3.0, 20.0, 60.0)


def test_what_is_counted_and_what_is_enhanceable(tmp_path: Path) -> None:
    pdf = pikepdf.new()
    rgb = photo(120, 90, 1)
    cmyk = raw_image(
        pdf,
        zlib.compress(rgb.convert("CMYK").tobytes()),
        120,
        90,
        **{"/ColorSpace": pikepdf.Name.DeviceCMYK, "/Filter": pikepdf.Name.FlateDecode},
    )
    icc = pikepdf.Stream(pdf, b"\x00" * 128)
    icc["/N"] = 3
    icc_rgb = raw_image(
        pdf,
        zlib.compress(rgb.tobytes()),
        120,
        90,
        **{
            "/ColorSpace": pikepdf.Array([pikepdf.Name.ICCBased, icc]),
            "/Filter": pikepdf.Name.FlateDecode,
        },
    )
    unfiltered = raw_image(pdf, rgb.tobytes(), 120, 90, **{"/ColorSpace": pikepdf.Name.DeviceRGB})
    # A form that draws itself (a cycle) and, once, the ICC image.
    loop = pikepdf.Stream(pdf, b"q 100 0 0 75 0 0 cm /Icc Do Q /Loop Do\n")
    loop["/Type"] = pikepdf.Name.XObject
    loop["/Subtype"] = pikepdf.Name.Form
    loop["/BBox"] = [0, 0, 100, 75]
    loop["/Resources"] = pikepdf.Dictionary(
        XObject=pikepdf.Dictionary(Icc=icc_rgb, Loop=pdf.make_indirect(loop))
    )
    loop = pdf.make_indirect(loop)
    loop.Resources.XObject.Loop = loop
    inline = b"BI /W 2 /H 2 /CS /G /BPC 8 ID \x00\xff\xff\x00 EI\n"
    _page(
        pdf,
        "mixed",
        b"q 100 0 0 75 72 500 cm /Cmyk Do Q\nq 72 400 cm /Loop Do Q\n"
        b"q 100 0 0 75 300 500 cm /Raw Do Q\n" + inline,
        {"/Cmyk": cmyk, "/Loop": loop, "/Raw": unfiltered},
    )
    result = scan(save(pdf, tmp_path / "mixed.pdf"), PdfLimits(), Eligibility())
    assert result.inline_images == 1
    assert len(result.images) == 3  # the form drawn in a loop adds its image once
    every = ["colour", "restoration", "upscaling"]
    # CMYK: counted, untouched; ICC RGB (in the form) and the unfiltered RGB: everything.
    assert sorted(sorted(image.features) for image in result.images) == [[], every, every]


def test_a_flate_stream_is_inflated_no_further_than_its_declared_size(tmp_path: Path) -> None:
    declared = 100 * 100 * 3
    squeezer = zlib.compressobj(9)
    chunk = b"\x80" * (1 << 20)
    body = b"".join(squeezer.compress(chunk) for _ in range(256)) + squeezer.flush()  # 256 MiB
    pdf = pikepdf.new()
    image = raw_image(
        pdf,
        body,
        100,
        100,
        **{"/ColorSpace": pikepdf.Name.DeviceRGB, "/Filter": pikepdf.Name.FlateDecode},
    )
    _page(pdf, "zip bomb", b"q 100 0 0 100 72 72 cm /Zip Do Q\n", {"/Zip": image})
    path = save(pdf, tmp_path / "zip.pdf")
    result = scan(path, PdfLimits(), Eligibility())
    (found,) = result.images
    assert (found.width, found.height) == (100, 100)
    assert len(body) < declared * 100 < 256 << 20  # a real bomb: the inflated size is huge
    out = tmp_path / "out.pdf"
    assert rewrite(path, out, result, {"upscalingFactor": "X2"}, 0).images_changed == 1
    with pikepdf.open(out) as enhanced:
        xobject = enhanced.pages[0].Resources.XObject.Zip
        assert (int(xobject.Width), int(xobject.Height)) == (200, 200)


def test_a_truncated_image_stream_fails_the_analysis(tmp_path: Path) -> None:
    pdf = pikepdf.new()
    short = raw_image(
        pdf,
        zlib.compress(photo(100, 100, 2).tobytes()[:1000]),
        100,
        100,
        **{"/ColorSpace": pikepdf.Name.DeviceRGB, "/Filter": pikepdf.Name.FlateDecode},
    )
    _page(pdf, "short", b"q 100 0 0 100 72 72 cm /Short Do Q\n", {"/Short": short})
    with pytest.raises(PdfProblem) as caught:
        scan(save(pdf, tmp_path / "short.pdf"), PdfLimits(), Eligibility())
    assert caught.value.code == "PDF_DAMAGED"


def test_a_jpeg_is_put_back_as_jpeg(tmp_path: Path) -> None:
    pdf = pikepdf.new()
    jpeg = _image(pdf, photo(160, 120, 3), "jpeg")
    _page(pdf, "jpeg", b"q 200 0 0 150 72 72 cm /J Do Q\n", {"/J": jpeg})
    path = save(pdf, tmp_path / "j.pdf")
    result = scan(path, PdfLimits(), Eligibility())
    rewrite(path, tmp_path / "o.pdf", result, {"mode": "ENHANCE"}, 0)
    with pikepdf.open(tmp_path / "o.pdf") as enhanced:
        xobject = enhanced.pages[0].Resources.XObject.J
        assert xobject.Filter == pikepdf.Name.DCTDecode
        result_jpeg = Image.open(io.BytesIO(bytes(xobject.read_raw_bytes())))
        assert (result_jpeg.format, result_jpeg.size) == ("JPEG", (160, 120))


@pytest.mark.parametrize("fraction", [0.3, 0.6, 0.95])
def test_a_truncated_file_is_damaged_even_when_qpdf_can_repair_its_structure(
    tmp_path: Path, fraction: float
) -> None:
    data = photobook()
    path = tmp_path / "cut.pdf"
    path.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(PdfProblem) as caught:
        scan(path, PdfLimits(), Eligibility())
    assert caught.value.code == "PDF_DAMAGED"


def test_the_server_modules_load_no_pdf_library() -> None:
    """pikepdf is imported by the analysis threads only, not at server start."""
    code = (
        "import sys, viesus_emulator._resolvers, viesus_emulator._worker, viesus_emulator._store; "
        "print('pikepdf' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
