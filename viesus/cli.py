"""The ``viesus`` command line (placeholder until the CLI issue)."""


def main() -> None:
    raise SystemExit("the viesus CLI is not built yet")
