"""A result in the CLI's words: ``--overwrite`` and ``--max-credits``, not the library's
keyword arguments, and the source named once (the line shows it already)."""

from __future__ import annotations

from viesus import BudgetExceeded, EnhanceResult, ViesusError
from viesus._errors import OutputExists


def downscaled(result: EnhanceResult) -> dict[str, str]:
    if result.downscaled is None:
        return {}
    (width, height), (sent_width, sent_height) = result.downscaled
    return {"downscaled": f"{width}x{height} -> {sent_width}x{sent_height}"}


def cli_reason(result: EnhanceResult) -> str | None:
    """A failure's reason in the CLI's words (``--overwrite``, ``--max-credits``), without
    the source it may start with (the line shows the source already)."""
    reason = in_cli_words(result.error) or result.reason
    prefix = f"{result.source}: "
    return reason[len(prefix) :] if reason and reason.startswith(prefix) else reason


def in_cli_words(error: ViesusError | None) -> str | None:
    """The refusals whose library wording names a keyword argument, as the CLI's flags."""
    if isinstance(error, OutputExists):
        return (
            f"the output {error.path} exists (not made by this batch); rerun with --overwrite "
            "to replace it, or choose another --out"
        )
    if isinstance(error, BudgetExceeded):
        return f"needs {error.needed} credits, more than --max-credits {error.budget}"
    return None
