"""A local, stateful VIESUS Cloud: the GraphQL API with real image processing.

``async with Emulator(EmulatorConfig(time_scale=0.01)) as emu:`` serves ``emu.endpoint``;
``viesus serve`` runs one from the command line. See ``viesus_emulator/README.md``.

The server modules need the ``emulator`` extra (ariadne, numpy, OpenCV); they are imported on
first use, so ``import viesus_emulator`` (and the CLI) stays cheap without them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from viesus_emulator.config import DEFAULT_API_KEY, EmulatorConfig, FaultConfig, QueryLimits

if TYPE_CHECKING:
    from viesus_emulator.runner import Emulator

__all__ = ["DEFAULT_API_KEY", "Emulator", "EmulatorConfig", "FaultConfig", "QueryLimits"]


def __getattr__(name: str) -> Any:
    if name == "Emulator":
        from viesus_emulator.runner import Emulator

        return Emulator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
