"""Transitional: ``viesus/_cli/connection.py`` imports ``Emulator`` from here until it reads
``from viesus_emulator import Emulator``; delete this file then (r3, for the lead).
"""

from viesus_emulator._runner import Emulator

__all__ = ["Emulator"]
