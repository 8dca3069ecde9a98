"""Command line of the build step: ``python -m codegen {pull,diff,check,generate}``.

Exit status: ``diff`` 1 exactly on breaking changes; ``check`` 0 no drift, 1 breaking drift,
3 non-breaking drift (dangerous or safe changes: the committed SDL is stale); 2 when an input
or the endpoint could not be read; ``generate --check`` 1 when generated/ is stale.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from codegen.diff import DiffError, diff_sdl
from codegen.generate import SCHEMA, GenerateError, generate
from codegen.pull import PullError, fetch_sdl, write_if_changed

#: ``check`` exit status per verdict: CI can tell a breaking API change from a stale SDL.
CHECK_EXIT = {"none": 0, "breaking": 1, "dangerous": 3, "safe": 3}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m codegen", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    pull = commands.add_parser("pull", help="introspect an endpoint into the SDL file")
    pull.add_argument("--endpoint", required=True, help="GraphQL endpoint URL")
    pull.add_argument("--out", type=Path, default=SCHEMA, help="SDL file to write")
    pull.add_argument("--timeout", type=float, default=60.0, help="seconds (default 60)")

    diff = commands.add_parser("diff", help="classify changes between two SDL files")
    diff.add_argument("old", type=Path)
    diff.add_argument("new", type=Path)

    check = commands.add_parser(
        "check",
        help="introspect the endpoint and diff it against the committed SDL",
        description="Exit status: 0 no drift, 1 breaking drift, 3 non-breaking drift "
        "(the committed SDL is stale), 2 endpoint or file unreadable.",
    )
    check.add_argument("--endpoint", required=True)
    check.add_argument("--against", type=Path, default=SCHEMA)
    check.add_argument("--timeout", type=float, default=60.0)

    gen = commands.add_parser("generate", help="regenerate generated/ from the SDL and queries")
    gen.add_argument("--check", action="store_true", help="fail if generated/ is stale")

    args = parser.parse_args(argv)
    try:
        if args.command == "pull":
            sdl = fetch_sdl(args.endpoint, timeout=args.timeout)
            written = write_if_changed(args.out, sdl)
            print(f"{args.out}: {'written' if written else 'unchanged'}")
            return 0
        if args.command == "diff":
            return _diff(_read(args.old), _read(args.new))
        if args.command == "check":
            # The pulled SDL is compared in memory: the committed file is never touched.
            result = diff_sdl(_read(args.against), fetch_sdl(args.endpoint, timeout=args.timeout))
            print(result.report())
            return CHECK_EXIT[result.verdict]
        if args.command == "generate":
            changed = generate(check=args.check)
            if args.check and changed:
                print(
                    "generated/ is stale; run `make generate` and commit. Files that differ:\n  "
                    + "\n  ".join(changed),
                    file=sys.stderr,
                )
                return 1
            print(
                "generated/ is up to date" if not changed else f"regenerated {len(changed)} files"
            )
            return 0
    except (PullError, DiffError, GenerateError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    parser.error(f"unknown command {args.command}")
    return 2


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DiffError(f"cannot read {path}: {exc.strerror}") from exc


def _diff(old: str, new: str) -> int:
    result = diff_sdl(old, new)
    print(result.report())
    return 1 if result.is_breaking else 0


if __name__ == "__main__":
    sys.exit(main())
