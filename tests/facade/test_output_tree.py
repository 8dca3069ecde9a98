"""Outputs mirror the input tree; a rerun pays nothing (issue 19's property)."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from tests.facade.conftest import emulator_config, make_client, write_photo
from viesus import EnhanceOptions, EnhanceResult
from viesus._output_names import common_root, mirrored_output, safe_name, spelled_like
from viesus_emulator import Emulator

LETTERS = "aAbB日本語写真фотоßé _-()'!#"  # noqa: RUF001 - Cyrillic on purpose
names = st.text(alphabet=LETTERS, min_size=1, max_size=12).filter(
    lambda n: n.strip(" ") and not n.startswith(".")
)
folders = st.lists(names, min_size=0, max_size=2).map(tuple)
extensions = st.sampled_from(["jpg", "JPG", "jpeg"])
trees = st.lists(st.tuples(folders, names, extensions), min_size=1, max_size=6)


def build(root: Path, tree: list[tuple[tuple[str, ...], str, str]]) -> list[Path]:
    sources: dict[str, Path] = {}
    for n, (parts, stem, extension) in enumerate(tree):
        path = root.joinpath(*parts, f"{stem}.{extension}")
        if str(path).casefold() in sources:
            continue  # the same file twice
        path.parent.mkdir(parents=True, exist_ok=True)
        sources[str(path).casefold()] = write_photo(path, seed=n)
    return list(sources.values())


async def run_twice(
    sources: list[Path], out: Path
) -> tuple[list[EnhanceResult], list[EnhanceResult], int]:
    async with Emulator(emulator_config()) as emu, make_client(emu) as viesus:
        options = EnhanceOptions(mode="ENHANCE")
        journal = out / "journal.sqlite"
        first = [r async for r in viesus.enhance_many(sources, options, out, journal=journal)]
        again = [r async for r in viesus.enhance_many(sources, options, out, journal=journal)]
        return first, again, int(emu.stats()["jobs"]["total"])


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(trees)
def test_one_job_and_one_mirrored_output_per_source(
    tree: list[tuple[tuple[str, ...], str, str]],
) -> None:
    work = Path(tempfile.mkdtemp())
    try:
        sources = build(work / "in", tree)
        out = work / "out"
        first, again, jobs = asyncio.run(run_twice(sources, out))
        assert jobs == len(sources)
        root = common_root(str(s) for s in sources)
        by_source = {r.source: r for r in first}
        assert all(r.status == "finished" for r in by_source.values())
        paths = [by_source[str(s)].output_path or Path() for s in sources]
        assert len(set(paths)) == len(sources)
        for source, path in zip(sources, paths, strict=True):
            assert path.is_file()
            assert path.is_relative_to(out)
            expected = mirrored_output(str(source), out, root, "jpg")
            assert path == expected or path.name.startswith(expected.stem + "-")
            assert safe_name(source.stem) in path.name
            assert path.suffix == "." + spelled_like("jpg", source.suffix)
        assert [r.status for r in again] == ["skipped"] * len(sources)
    finally:
        shutil.rmtree(work)


def test_non_latin_names_and_the_tiff_spelling_are_kept(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert mirrored_output(str(tmp_path / "日本語.jpg"), out, tmp_path, "jpg").name == (
        "日本語_enhanced.jpg"
    )
    assert mirrored_output(str(tmp_path / "scan.tiff"), out, tmp_path, "tif").name == (
        "scan_enhanced.tiff"
    )
    odd = mirrored_output(str(tmp_path / "a\x1bb:c?.jpg"), out, tmp_path, "jpg")
    assert odd.name == "a_b_c__enhanced.jpg"
    assert mirrored_output(str(tmp_path / "x" / "CON.jpg"), out, tmp_path, "jpg") == (
        out / "x" / "CON__enhanced.jpg"
    )


async def test_downscale_fits_an_input_over_the_upscaling_limit(tmp_path: Path) -> None:
    big = tmp_path / "in" / "big.jpg"
    big.parent.mkdir()
    Image.new("RGB", (4000, 3000), (120, 90, 60)).save(big, quality=80)
    async with Emulator(emulator_config()) as emu, make_client(emu) as viesus:
        options = EnhanceOptions(upscaling_factor="X2")
        plan = await viesus.plan_many([big], options, tmp_path / "out")
        assert plan.items[0].action == "refused"
        plan = await viesus.plan_many([big], options, tmp_path / "out", downscale=True)
        assert (plan.items[0].action, plan.items[0].downscale_to) == ("create", (3000, 2250))
        result = await viesus.enhance(big, options, tmp_path / "out", downscale=True)
    assert result.downscaled == ((4000, 3000), (3000, 2250))
    with Image.open(result.output_path) as image:
        assert image.size == (6000, 4500)
    assert not (tmp_path / "out" / ".viesus-downscaled").exists()
