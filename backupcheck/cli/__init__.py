"""The command line (typer): ``backupcheck.cli.app`` wires every command."""

from backupcheck.cli.app import app, main

__all__ = ["app", "main"]
