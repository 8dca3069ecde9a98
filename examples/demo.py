"""``make demo``, step 1: spoil real photos on the fly, so the enhancement has work to do.

The photos are the real photographs bundled inside scikit-image's wheel (nothing is
downloaded). Each is degraded the way a cheap camera or a careless export would (colour cast,
low contrast, sensor noise, downscaling, JPEG blocking; see ``examples/photos.py``) and written
as a JPEG into the folder given on the command line. Step 2 is the CLI itself::

    python -m examples.demo demo-out/inputs
    viesus enhance demo-out/inputs --local --out demo-out/results --mode ENHANCE --upscale X2 \\
        --compare demo-out/before-after.png
"""

from __future__ import annotations

import sys
from pathlib import Path

from examples.photobook import build_photobook
from examples.photos import PHOTOS, degradation_for, degrade, load


def prepare(folder: Path) -> list[Path]:
    """Write one degraded JPEG per bundled photo, and a photobook PDF of some of them
    (``examples/photobook.py``), into ``folder``; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for index, name in enumerate(PHOTOS):
        path = folder / f"{Path(name).stem}.jpg"
        path.write_bytes(degrade(load(name), degradation_for(index), seed=index))
        written.append(path)
    written.append(build_photobook(folder / "photobook.pdf"))
    return written


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        raise SystemExit("usage: python -m examples.demo FOLDER")
    written = prepare(Path(args[0]))
    print(f"{len(written) - 1} degraded photos and a photobook PDF written to {args[0]}")


if __name__ == "__main__":
    main()
