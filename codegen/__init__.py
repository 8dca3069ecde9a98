"""The build step: schema pull, schema diff and code generation.

Run as ``python -m codegen <command>`` from the repository root (the Makefile wraps it).
Nothing here is imported at run time by the toolkit: it only writes ``schema/`` and
``generated/``. The other way round holds too: the build step imports no runtime package
(``viesus``, ``viesus_client``, ``viesus_emulator``), so it works when ``generated/`` is
missing or broken (``tests/codegen/test_standalone.py``).
"""
