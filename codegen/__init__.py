"""The build step: schema pull, schema diff and code generation.

Run as ``python -m codegen <command>`` from the repository root (the Makefile wraps it).
Nothing here is imported at run time by the toolkit: it only writes ``schema/`` and
``generated/``.
"""
