"""Entry point for ``python -m backupcheck``."""

from backupcheck.cli import main

main()
