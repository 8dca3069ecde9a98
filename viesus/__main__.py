"""``python -m viesus`` runs the ``viesus`` command line."""

from viesus.cli import main

main()
