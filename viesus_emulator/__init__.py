"""A local, stateful VIESUS Cloud: the GraphQL API with real image processing.

``async with Emulator(EmulatorConfig(time_scale=0.01)) as emu:`` serves ``emu.endpoint``;
``viesus serve`` (the typer command ``serve``) runs one from the command line. See
``viesus_emulator/README.md``.

These names are the public face; every other module is private (``_name.py``). The server
modules need the ``emulator`` extra (ariadne, numpy, OpenCV); ``Emulator`` and ``serve`` are
imported on first use, so ``import viesus_emulator`` (and the CLI) stays cheap without them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from viesus_emulator._config import DEFAULT_API_KEY, EmulatorConfig, FaultConfig, QueryLimits

if TYPE_CHECKING:
    from viesus_emulator._command import serve
    from viesus_emulator._runner import Emulator

__all__ = ["DEFAULT_API_KEY", "Emulator", "EmulatorConfig", "FaultConfig", "QueryLimits", "serve"]


def __getattr__(name: str) -> Any:
    if name == "Emulator":
        from viesus_emulator._runner import Emulator

        return Emulator
    if name == "serve":
        from viesus_emulator._command import serve

        return serve
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
