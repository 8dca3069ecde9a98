"""Names from the outside world (file names, list lines, reasons) made safe for a human line.

A file name may hold ESC sequences (``\\x1b[31m``: colours, cursor moves, a cleared screen) or
a newline (a forged second progress line). Every human-readable line shows them escaped, the
way Python writes them (``\\x1b``, ``\\n``, ``\\u202e``); machine outputs (the JSON report,
``--events-jsonl``) keep the real name, JSON escapes it. rich's ``escape_control_codes`` covers
five codes only (not ESC, not newline), hence this helper. Backslashes are left as they are,
so an ordinary name reads unchanged.
"""

from __future__ import annotations

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(char: str) -> str:
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def printable(text: object) -> str:
    """``text`` with every non-printable character (controls, format marks, odd spaces)
    escaped; a plain space stays a space."""
    value = str(text)
    if value.isprintable():
        return value
    return "".join(c if c.isprintable() or c == " " else _escaped(c) for c in value)


def reason_for(source: str, reason: str | None) -> str:
    """Why ``source`` failed, without the ``SOURCE: `` the facade's messages start with (the
    line that shows it names the source already)."""
    text = reason or "unknown reason"
    return text.removeprefix(f"{source}: ")


def failure_line(source: str, reason: str | None) -> str:
    """``failed: SOURCE: REASON``, the source once, everything escaped."""
    return f"failed: {printable(source)}: {printable(reason_for(source, reason))}"
