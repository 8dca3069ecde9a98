"""Checks before any credit is spent: AI upscaling limits, cost, budget, sources, output folder.

Local and cheap: a job the service would refuse, or one over the caller's budget, stops before
the upload. Headers: :mod:`viesus._image_headers`; option ranges: :mod:`viesus._options`.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Iterable
from enum import Enum
from pathlib import Path
from typing import Any, Final

from viesus._errors import (
    BudgetExceeded,
    InsufficientCredits,
    InvalidInput,
    LimitExceeded,
)
from viesus._image_headers import ImageHeader
from viesus._options import option_value
from viesus_client.enhancement_parameters import BY_GRAPHQL_PATH, PARAMETERS
from viesus_client.enums import EnhancedImageParametersUpscalingFactor
from viesus_client.input_types import EnhancedImageInput

__all__ = [
    "DEFAULT_ENHANCEMENT_CREDITS",
    "MAX_INPUT_PIXELS",
    "MAX_UPSCALE_FACTOR",
    "MAX_UPSCALE_INPUT_SIDE",
    "MAX_UPSCALE_OUTPUT_SIDE",
    "check_budget",
    "check_limits",
    "check_output_folder",
    "check_sources",
    "estimate_credits",
]

# AI upscaling limits [docs]. 3000 x 4 = 12000 > 11996: the output rule is the binding one, and
# the client rejects such a job rather than guess whether the service would round it down.
MAX_UPSCALE_INPUT_SIDE: Final = 3000
MAX_UPSCALE_FACTOR: Final = 4
MAX_UPSCALE_OUTPUT_SIDE: Final = 11996

# Any image larger than this many pixels is refused, upscaled or not. [assumption] The service
# documents no pixel or file-size limit; this is Pillow's decompression-bomb threshold
# (2 x Image.MAX_IMAGE_PIXELS = 2 x 89,478,485), the size at which the library that reads the
# image here refuses to decode it, and far above the largest upscaling output (11,996 px a side,
# 144 MP). Stated as a number so that a caller's changed Pillow setting does not move it.
MAX_INPUT_PIXELS: Final = 178_956_970

# An input with no option set still gets the default (colour) enhancement: 1 credit. An
# assumption (the docs do not price an empty input), shared with the emulator.
DEFAULT_ENHANCEMENT_CREDITS: Final = 1

_UPSCALE_FACTORS: Final = {
    EnhancedImageParametersUpscalingFactor.X2.value: 2,
    EnhancedImageParametersUpscalingFactor.X4.value: 4,
}


def check_limits(source: str, header: ImageHeader, options: EnhancedImageInput) -> None:
    """Reject an image the service would refuse, before anything is uploaded.

    Any image over ``MAX_INPUT_PIXELS`` pixels is refused, upscaled or not [assumption: see
    ``MAX_INPUT_PIXELS``]. For AI upscaling [docs], three rules: input
    at most 3,000 px wide or high; enlargement at most 4x; output at most 11,996 px wide or
    high. The output of ``upscalingFactor`` is the input times 2 or 4; with
    ``upscalingCustomWidth`` the width is given and the height follows proportionally (rounded).
    When both are set, both must pass. ``upscalingCustomDPI`` alone cannot be checked (the
    enlargement depends on a print size the API does not take) and is left to the service, as
    are PDFs (``header`` without a size). Raises ``LimitExceeded`` with the file, the number,
    the limit and a fix.
    """
    if header.width is None or header.height is None:
        return
    factor_name = option_value(options, "upscaling_factor")
    custom_width = option_value(options, "upscaling_custom_width")
    if factor_name is not None or custom_width is not None:
        _check_upscaling(source, header.width, header.height, factor_name, custom_width)
    pixels = header.width * header.height
    if pixels > MAX_INPUT_PIXELS:
        raise LimitExceeded(
            source,
            f"the pixel count ({header.width} x {header.height})",
            pixels,
            MAX_INPUT_PIXELS,
            "resize it; [assumption] the service documents no pixel limit, this one is "
            "Pillow's decompression-bomb threshold",
        )


def _check_upscaling(
    source: str, width: int, height: int, factor_name: Any, custom_width: Any
) -> None:
    longest = max(width, height)
    if longest > MAX_UPSCALE_INPUT_SIDE:
        raise LimitExceeded(
            source,
            "the longer side of an AI upscaling input (px)",
            longest,
            MAX_UPSCALE_INPUT_SIDE,
            f"resize to at most {MAX_UPSCALE_INPUT_SIDE} px before upscaling",
        )
    if factor_name is not None:
        raw = factor_name.value if isinstance(factor_name, Enum) else str(factor_name)
        factor = _UPSCALE_FACTORS.get(raw)
        if factor is not None:
            _check_output(source, width * factor, height * factor, f"upscaling {raw}", longest)
    if custom_width is not None:
        _check_custom_width(source, width, height, int(custom_width))


def _check_custom_width(source: str, width: int, height: int, custom_width: int) -> None:
    largest_allowed = min(
        MAX_UPSCALE_FACTOR * width,
        MAX_UPSCALE_OUTPUT_SIDE,
        math.floor(MAX_UPSCALE_OUTPUT_SIDE * width / height),
    )
    hint = f"use upscalingCustomWidth at most {largest_allowed}"
    enlargement = custom_width / width
    if enlargement > MAX_UPSCALE_FACTOR:
        raise LimitExceeded(
            source,
            f"the enlargement of upscalingCustomWidth={custom_width} from {width} px",
            round(enlargement, 3),
            MAX_UPSCALE_FACTOR,
            hint,
        )
    out_height = round(height * custom_width / width)
    longest_out = max(custom_width, out_height)
    if longest_out > MAX_UPSCALE_OUTPUT_SIDE:
        raise LimitExceeded(
            source,
            f"the longer output side (px) of upscalingCustomWidth={custom_width}",
            longest_out,
            MAX_UPSCALE_OUTPUT_SIDE,
            hint,
        )


def _check_output(source: str, out_width: int, out_height: int, what: str, longest: int) -> None:
    longest_out = max(out_width, out_height)
    if longest_out <= MAX_UPSCALE_OUTPUT_SIDE:
        return
    fix = f"resize to at most {MAX_UPSCALE_OUTPUT_SIDE // (longest_out // longest)} px"
    if what.endswith("X4"):
        fix = "use X2 or " + fix
    raise LimitExceeded(
        source, f"the longer output side (px) of {what}", longest_out, MAX_UPSCALE_OUTPUT_SIDE, fix
    )


def estimate_credits(options: EnhancedImageInput) -> int:
    """Credits one enhancement with ``options`` costs: the most expensive active feature [docs].

    Costs never add up (upscaling + background removal is 4, not 8). Each field's feature and
    price come from the generated table; a nested field (``customColorConfig.highlightfac``)
    counts for its parent's feature; an option whose feature is unknown (``preset``) is priced
    at the table's conservative 4. Nothing set costs ``DEFAULT_ENHANCEMENT_CREDITS`` (1): the
    default enhancement still runs, and is charged [assumption shared with the emulator].
    """
    cost = 0
    for parameter in PARAMETERS:
        if option_value(options, parameter.python_name) is None:
            continue
        parent = parameter.graphql_path.split(".", 1)[0]
        cost = max(cost, BY_GRAPHQL_PATH.get(parent, parameter).credits)
    return cost or DEFAULT_ENHANCEMENT_CREDITS


def check_budget(total: int, max_credits: int | None = None, remaining: int | None = None) -> None:
    """Refuse a batch costing ``total`` credits over the caller's cap or the account's balance.

    ``None`` means "no such limit known". Raises ``BudgetExceeded`` (the cap) or
    ``InsufficientCredits`` (the balance) with both numbers; the caller's cap is checked
    first, since it is the one the caller can change at once.
    """
    if max_credits is not None and total > max_credits:
        raise BudgetExceeded(total, max_credits)
    if remaining is not None and total > remaining:
        raise InsufficientCredits(total, remaining, "the remaining credits this period")


def check_sources(sources: object) -> list[str | Path]:
    """The sources as a list, each a path or URL; ``InvalidInput`` naming a bad one.

    ``None`` or a number in a list used to reach ``Path()`` and raise ``TypeError`` mid-batch.
    A single string is refused too: iterating it would enhance one "file" per character.
    """
    if isinstance(sources, str | Path | bytes):
        raise InvalidInput(
            "sources",
            "one path was given where a list is expected; pass [path], or use enhance() "
            "for a single source",
        )
    if not isinstance(sources, Iterable):
        raise InvalidInput("sources", f"a {type(sources).__name__} is not a list of paths or URLs")
    checked: list[str | Path] = []
    for index, source in enumerate(sources):
        if not isinstance(source, str | os.PathLike) or isinstance(source, bytes):
            raise InvalidInput(
                f"sources[{index}]",
                f"a {type(source).__name__} is not a file path or an http(s) URL",
            )
        if isinstance(source, str) and not source.strip():
            raise InvalidInput(f"sources[{index}]", "an empty string is not a file path or URL")
        checked.append(source if isinstance(source, str) else Path(source))
    return checked


def check_output_folder(folder: Path) -> None:
    """Make sure results can be written to ``folder`` (created if missing) before paying.

    A probe file is created and removed: the only test that covers permissions, read-only
    file systems and a full disk alike. ``InvalidInput`` names the folder and the fix.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise InvalidInput(str(folder), _not_a_folder(folder)) from None
    except OSError as exc:
        raise _folder_error(
            folder,
            exc,
            "permission denied creating the output folder; choose another",
            "the output folder cannot be created",
        ) from None
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".viesus-write-check-"):
            pass
    except OSError as exc:
        raise _folder_error(
            folder,
            exc,
            "no permission to write in the output folder; choose another",
            "results cannot be written to the output folder",
        ) from None


def _folder_error(folder: Path, exc: OSError, denied: str, failed: str) -> InvalidInput:
    """``denied`` for a permission error, else ``failed`` with the system's reason."""
    if isinstance(exc, PermissionError):
        return InvalidInput(str(folder), denied)
    return InvalidInput(str(folder), f"{failed} ({exc.strerror})")


def _not_a_folder(folder: Path) -> str:
    blocking = next((p for p in (folder, *folder.parents) if p.exists()), folder)
    if blocking == folder:
        return "is a file, not a folder; choose an output folder"
    return f"{blocking} is a file, not a folder; choose another output folder"
