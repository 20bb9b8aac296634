"""``python -m arinsights`` runs the command line."""

from .cli import main

main()
