"""``viesus serve``: the emulator's own command (``viesus_emulator.serve``).

That module imports only typer and the emulator's configuration; the server itself (ariadne,
NumPy, OpenCV) is imported when the command runs. Without the ``emulator`` extra the import
fails there, and the CLI's error handling (``errors.missing_extra``) turns it into one line
naming ``pip install 'viesus-toolkit[emulator]'``.
"""

from __future__ import annotations

from viesus_emulator import serve

__all__ = ["serve"]
