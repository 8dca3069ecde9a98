"""``python -m viesus`` runs the ``viesus`` command line."""

from viesus._cli import main

main()
