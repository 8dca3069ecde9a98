"""viesus-toolkit: the hand-written facade, CLI and emulator over the generated client."""

__version__ = "0.1.0"
