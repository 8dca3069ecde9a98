"""Transitional: ``viesus/_cli/serve.py`` imports ``serve`` from here until it reads
``from viesus_emulator import serve``; delete this file then (r3, for the lead).
"""

from viesus_emulator._command import serve

__all__ = ["serve"]
