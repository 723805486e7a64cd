"""The command line: parse, call a command, render, exit. The only place that prints or exits.

Every command is registered here, in one explicit list; the functions live in
``run_commands`` (inventory, verify, drill, demo), ``report_commands`` (audit, history,
trend), ``list_checks_command`` and ``manifest_command``.
"""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer

from backupcheck import __version__
from backupcheck.cli.list_checks_command import list_checks
from backupcheck.cli.manifest_command import manifest_build
from backupcheck.cli.output import stderr_console
from backupcheck.cli.report_commands import audit, audit_verify, history, trend
from backupcheck.cli.run_commands import demo, drill, inventory, verify
from backupcheck.cli.signals import exit_interrupted, install_signal_handlers, interrupted_code

log = logging.getLogger("backupcheck")

app = typer.Typer(
    name="backupcheck",
    help="Prove that backups are present, fresh, encrypted, immutable and restorable in time.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
manifest_app = typer.Typer(help="Ground-truth manifests made at backup time.",
                           no_args_is_help=True)
app.add_typer(manifest_app, name="manifest")
#: ``audit`` makes a pack (its own options); ``audit verify DIR`` checks one
audit_app = typer.Typer(help="Evidence packs: make one (audit --client NAME --out DIR) or "
                        "check one (audit verify DIR).", no_args_is_help=False)
app.add_typer(audit_app, name="audit")


def print_version(value: bool) -> None:
    """Eager ``--version``: runs before typer asks for a command."""
    if value:
        typer.echo(f"backupcheck {__version__}")
        raise typer.Exit(0)


@app.callback()
def main_options(
    debug: Annotated[bool, typer.Option("--debug", help="Debug logging on stderr.")] = False,
    version: Annotated[bool, typer.Option("--version", help="Print the version.",
                                          callback=print_version, is_eager=True)] = False,
) -> None:
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("botocore", "boto3", "urllib3", "s3transfer", "matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(logging.INFO if debug else logging.WARNING)


def main() -> None:
    install_signal_handlers()
    code: int | str | None = 0
    try:
        app()
    except KeyboardInterrupt:
        # outside a command's own handling (typer mostly catches it first, see output.guarded)
        stderr_console().print("backupcheck: interrupted", markup=False)
        code = interrupted_code() or 130
    except SystemExit as stop:
        code = stop.code
    interrupted = interrupted_code()
    if interrupted is not None:
        exit_interrupted(interrupted)
    sys.exit(code)


for command in (inventory, verify, drill, demo, history, trend):
    app.command()(command)
audit_app.callback(invoke_without_command=True)(audit)
audit_app.command("verify")(audit_verify)
app.command("list-checks")(list_checks)
manifest_app.command("build")(manifest_build)
