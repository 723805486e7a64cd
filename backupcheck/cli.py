"""The command line: parse, call the core, render. The only place that prints or exits."""

from __future__ import annotations

import contextlib
import enum
import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console, RenderableType
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from backupcheck import __version__
from backupcheck.config import default_plan, load_clients, load_plan
from backupcheck.engine import Progress as ProgressCallback
from backupcheck.errors import BackupcheckError
from backupcheck.model import Client, Plan, RunReport
from backupcheck.report.jsonout import render_json
from backupcheck.report.table import print_table
from backupcheck.report.text import visible

log = logging.getLogger("backupcheck")

app = typer.Typer(
    name="backupcheck",
    help="Prove that backups are present, fresh, encrypted, immutable and restorable in time.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
manifest_app = typer.Typer(help="Ground-truth manifests made at backup time.",
                           no_args_is_help=True)
app.add_typer(manifest_app, name="manifest")


class Format(enum.StrEnum):
    table = "table"
    json = "json"


class TrendFormat(enum.StrEnum):
    table = "table"
    json = "json"
    junit = "junit"
    markdown = "markdown"


TargetsOpt = Annotated[Path, typer.Option("--targets", help="Directory of client *.toml files.")]
ClientOpt = Annotated[list[str] | None, typer.Option("--client",
                                                     help="Only this client (repeatable).")]
FormatOpt = Annotated[Format, typer.Option("--format", help="Output format.")]
HistoryOpt = Annotated[Path, typer.Option("--history", help="History directory.")]

DEFAULT_TARGETS = Path("targets")
DEFAULT_HISTORY = Path(".backupcheck/history")
DEFAULT_PLAN = Path("restore_tests/weekly.toml")

T = TypeVar("T")


#: width for tables written to a pipe or a file (logs, CI): wide rather than wrapped
PIPE_WIDTH = 160


def stdout_console() -> Console:
    console = Console(highlight=False, soft_wrap=False)
    if not console.is_terminal:
        console = Console(highlight=False, soft_wrap=False, width=PIPE_WIDTH)
    return console


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False)


def fail(message: str, code: int) -> typer.Exit:
    stderr_console().print(f"backupcheck: error: {visible(message)}", markup=False,
                           highlight=False, soft_wrap=True)
    return typer.Exit(code)


def guarded(action: Callable[[], T]) -> T:
    """Run core code; turn our errors into one line and their exit code, never a traceback."""
    try:
        return action()
    except BackupcheckError as exc:
        raise fail(str(exc), exc.exit_code) from None
    except KeyboardInterrupt:
        raise fail("interrupted", 130) from None
    except Exception as exc:  # noqa: BLE001 - the last line of defence against tracebacks
        log.debug("unexpected error", exc_info=True)
        raise fail(f"internal error: {type(exc).__name__}: {exc}".splitlines()[0], 1) from None


def show_progress(fmt: str) -> bool:
    return fmt == "table" and sys.stdout.isatty() and sys.stderr.isatty()


@contextlib.contextmanager
def progress_bar(label: str, total: int, enabled: bool) -> Iterator[ProgressCallback | None]:
    if not enabled or total == 0:
        yield None
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=stderr_console(), transient=True) as bar:
        task = bar.add_task(label, total=total)

        def advance(client: str, target: str) -> None:
            bar.update(task, advance=1, description=f"{label} {visible(client)}/"
                       f"{visible(target)}")

        yield advance


def emit(report: RunReport, fmt: str) -> None:
    if fmt == "json":
        sys.stdout.write(render_json(report) + "\n")
        sys.stdout.flush()
    else:
        print_table(report, stdout_console())
    raise typer.Exit(report.exit_code)


def clients_from(targets: Path, client: list[str] | None) -> list[Client]:
    return guarded(lambda: load_clients(targets, client or []))


def plan_from(path: Path | None, explicit: bool) -> Plan:
    if path is not None and (explicit or path.exists()):
        return guarded(lambda: load_plan(path))
    return default_plan()


@app.callback()
def main_options(
    debug: Annotated[bool, typer.Option("--debug", help="Debug logging on stderr.")] = False,
    version: Annotated[bool, typer.Option("--version", help="Print the version.")] = False,
) -> None:
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("botocore", "boto3", "urllib3", "s3transfer", "matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(logging.INFO if debug else logging.WARNING)
    if version:
        typer.echo(f"backupcheck {__version__}")
        raise typer.Exit(0)


@app.command()
def inventory(
    targets: TargetsOpt = DEFAULT_TARGETS,
    client: ClientOpt = None,
    fmt: FormatOpt = Format.table,
    out: Annotated[Path | None, typer.Option("--out", help="Write every object version / "
                                             "snapshot as Parquet.")] = None,
) -> None:
    """List every backup set per client, with its storage settings."""
    from backupcheck.commands.inventory import inventory as run_inventory

    clients = clients_from(targets, client)
    total = sum(len(c.targets) for c in clients)
    with progress_bar("inventory", total, show_progress(fmt)) as progress:
        report = guarded(lambda: run_inventory(clients, out=out, progress=progress))
    emit(report, fmt)


@app.command()
def verify(
    targets: TargetsOpt = DEFAULT_TARGETS,
    client: ClientOpt = None,
    fmt: FormatOpt = Format.table,
    plan: Annotated[Path | None, typer.Option("--plan", help="Restore plan (for "
                                              "read_data_subset).")] = None,
    read_data_subset: Annotated[str | None, typer.Option(
        "--read-data-subset", help="Override the plan's restic check data subset.")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Reproducible sample of the "
                                             "objects HEADed (default: from the time).")] = None,
) -> None:
    """Run the policy checks without restoring data."""
    from dataclasses import replace

    from backupcheck.commands.verify import verify as run_verify

    clients = clients_from(targets, client)
    chosen = plan_from(plan or DEFAULT_PLAN, plan is not None)
    if read_data_subset is not None:
        chosen = replace(chosen, read_data_subset=read_data_subset)
    total = sum(len(c.targets) for c in clients)
    with progress_bar("verify", total, show_progress(fmt)) as progress:
        report = guarded(lambda: run_verify(clients, chosen, progress=progress, seed=seed))
    emit(report, fmt)


@app.command()
def demo(
    keep: Annotated[Path | None, typer.Option(
        "--keep", metavar="DIR", help="Build the estate in DIR and leave it there, its S3 "
        "server running, for further commands.")] = None,
    fmt: FormatOpt = Format.table,
    targets: Annotated[Path | None, typer.Option(
        "--targets", hidden=True, help="Not used: the demo builds its own targets.")] = None,
    client: ClientOpt = None,
) -> None:
    """Build a small demo estate here (local S3 server, restic, three clients with one
    planted problem each) and run the weekly drill on it. Exits 1: the problems are planted."""
    from backupcheck.demo import run_demo

    if targets is not None or client:
        raise fail("demo builds its own estate: --targets and --client do not apply (use "
                   "--keep DIR, then --targets DIR/targets with the other commands)", 2)
    console = stderr_console()

    def say(line: str) -> None:
        console.print(f"demo: {visible(line)}", markup=False, highlight=False, soft_wrap=True)

    report, info = guarded(lambda: run_demo(keep, progress=say if show_progress(fmt) else None))
    try:
        emit(report, fmt)
    finally:
        for line in info.summary_lines():
            console.print(visible(line), markup=False, highlight=False, soft_wrap=True)


@app.command()
def audit(
    client: Annotated[str, typer.Option("--client", help="The client to audit.")],
    out: Annotated[Path, typer.Option("--out", help="Directory for report.html, report.json "
                                      "and SHA256SUMS (created when missing).")],
    targets: TargetsOpt = DEFAULT_TARGETS,
    fmt: FormatOpt = Format.table,
    history: HistoryOpt = DEFAULT_HISTORY,
    plan: Annotated[Path, typer.Option("--plan", help="Restore plan (for --run-drill and "
                                       "restic check).")] = DEFAULT_PLAN,
    run_drill: Annotated[bool, typer.Option("--run-drill", help="Run a drill now and use it "
                                            "(recorded into the history).")] = False,
    from_history: Annotated[bool, typer.Option(
        "--from-history", help="Restore figures from the newest drill in the history, policy "
        "checks run now (the default).")] = False,
    seed: Annotated[int | None, typer.Option("--seed", help="With --run-drill: reproducible "
                                             "sample seed.")] = None,
    jobs: Annotated[int | None, typer.Option("--jobs", min=1, help="With --run-drill: "
                                             "parallel restore streams per target.")] = None,
    no_history: Annotated[bool, typer.Option("--no-history", help="With --run-drill: do not "
                                             "record the drill.")] = False,
) -> None:
    """Evidence pack for one client: report.html, report.json and SHA256SUMS."""
    from backupcheck.audit import AuditOptions, audit_steps, build_audit_pack
    from backupcheck.report.table import STYLE

    if run_drill and from_history:
        raise fail("--run-drill and --from-history exclude each other", 2)
    if not run_drill and (seed is not None or jobs is not None or no_history):
        raise fail("--seed, --jobs and --no-history need --run-drill", 2)
    (chosen_client,) = clients_from(targets, [client])
    chosen_plan = plan_from(plan, plan != DEFAULT_PLAN)
    options = AuditOptions(
        out=out, history_dir=history, plan=chosen_plan, run_drill=run_drill,
        record_history=not no_history, seed=seed, jobs=jobs, targets_dir=targets,
        plan_path=plan if plan.exists() else None)
    with progress_bar("audit", audit_steps(chosen_client), show_progress(fmt)) as progress:
        result = guarded(lambda: build_audit_pack(chosen_client, options, progress=progress))
    if fmt == "json":
        sys.stdout.write((result.out / "report.json").read_text(encoding="utf-8"))
        sys.stdout.flush()
    else:
        console = stdout_console()
        first, *rest = result.summary_lines()
        console.print(visible(first), style=STYLE[result.verdict.status], markup=False)
        for line in rest:
            console.print(visible(line), markup=False)
    raise typer.Exit(result.exit_code)


def print_output(output: RenderableType | str, *, to_stderr: bool = False) -> None:
    """A command core's output: text as it is, rich renderables through the console."""
    if isinstance(output, str):
        stream = sys.stderr if to_stderr else sys.stdout
        stream.write(output if output.endswith("\n") else output + "\n")
        stream.flush()
    else:
        (stderr_console() if to_stderr else stdout_console()).print(output)


SinceOpt = Annotated[str | None, typer.Option(
    "--since", help="Only drills since this date (2026-11-01), UTC time (2026-11-01T03:00Z) "
    "or age (30d, 2w).")]


@app.command()
def history(
    history_dir: HistoryOpt = DEFAULT_HISTORY,
    client: ClientOpt = None,
    since: SinceOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Past drills per client and target: throughput, estimated full restore vs RTO."""
    from backupcheck.trend import history_command

    output, code = guarded(lambda: history_command(history_dir, client, since, fmt.value))
    print_output(output)
    raise typer.Exit(code)


@app.command()
def trend(
    history_dir: HistoryOpt = DEFAULT_HISTORY,
    client: ClientOpt = None,
    fmt: Annotated[TrendFormat, typer.Option("--format", help="Output format.")] = (
        TrendFormat.table),
    out: Annotated[Path | None, typer.Option("--out", help="Write the output to this file "
                                             "instead of stdout.")] = None,
    fail_on_regression: Annotated[float | None, typer.Option(
        "--fail-on-regression", metavar="PCT", help="Fail when the latest estimated restore "
        "time is PCT percent above the median of the previous runs.")] = None,
    chart: Annotated[Path | None, typer.Option("--chart", help="Also draw the trend chart "
                                               "(FILE.png or FILE.svg).")] = None,
) -> None:
    """RTO trend per client and target for CI; exit 1 on an RTO breach or a regression."""
    from backupcheck.trend import trend_command

    output, code = guarded(lambda: trend_command(history_dir, client, fmt.value, out,
                                                 fail_on_regression, chart))
    print_output(output, to_stderr=out is not None)  # with --out, stdout stays empty
    raise typer.Exit(code)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        stderr_console().print("backupcheck: interrupted", markup=False)
        sys.exit(130)


@manifest_app.command("build")
def manifest_build(
    path: Annotated[Path, typer.Argument(help="Directory tree to hash (the backed-up root).")],
    out: Annotated[Path, typer.Option("--out", help="Manifest Parquet file to write.")],
    workers: Annotated[int | None, typer.Option("--workers", min=1, help="Hashing processes "
                                                "(default: the usable CPUs).")] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Hash a tree with xxh3-128 into a manifest: the ground truth a later drill compares with."""
    import json

    from rich.progress import DownloadColumn, TransferSpeedColumn

    from backupcheck.manifest import build_manifest

    enabled = show_progress(fmt)

    def run(progress: Callable[[int, int], None] | None) -> Any:
        return build_manifest(path, out, workers=workers, progress=progress)

    if enabled:
        with Progress(TextColumn("hashing {task.fields[files]} files"), BarColumn(),
                      DownloadColumn(), TransferSpeedColumn(), TimeElapsedColumn(),
                      console=stderr_console(), transient=True,
                      auto_refresh=False) as bar:  # no refresh thread: the build can fork
            task = bar.add_task("manifest", total=None, files=0)

            def advance(files: int, done: int) -> None:
                bar.update(task, completed=done, files=files, refresh=True)

            stats = guarded(lambda: run(advance))
    else:
        stats = guarded(lambda: run(None))
    summary = {"out": str(stats.out), "files": stats.files, "bytes": stats.bytes,
               "symlinks": stats.symlinks, "special": stats.special,
               "unreadable": [{"path": p, "reason": r} for p, r in stats.unreadable],
               "seconds": round(stats.seconds, 3), "method": stats.method}
    if fmt == "json":
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    else:
        console = stdout_console()
        console.print(f"wrote {visible(stats.out)}: {stats.files} files, {stats.bytes} bytes, "
                      f"{stats.symlinks} symlinks in {stats.seconds:.1f}s ({stats.method})",
                      markup=False)
        for rel, reason in stats.unreadable:
            console.print(f"unreadable: {visible(rel)}: {visible(reason)}", markup=False)
    # unreadable files are reported, not fatal to the manifest, but a check did fail
    raise typer.Exit(1 if stats.unreadable else 0)


@app.command()
def drill(
    targets: TargetsOpt = DEFAULT_TARGETS,
    client: ClientOpt = None,
    fmt: FormatOpt = Format.table,
    plan: Annotated[Path, typer.Option("--plan", help="Restore plan.")] = DEFAULT_PLAN,
    seed: Annotated[int | None, typer.Option("--seed", help="Reproducible sample seed "
                                             "(default: from the date and time).")] = None,
    jobs: Annotated[int | None, typer.Option("--jobs", min=1, help="Parallel restore streams "
                                             "per target (default: the plan's).")] = None,
    history: HistoryOpt = DEFAULT_HISTORY,
    no_history: Annotated[bool, typer.Option("--no-history", help="Do not record this "
                                             "drill.")] = False,
) -> None:
    """Policy checks, sampled streamed restores with xxh3-128, restore-time metrics and RTO."""
    from backupcheck.clock import now_utc
    from backupcheck.commands.drill import DrillOptions, record_history
    from backupcheck.commands.drill import drill as run_drill
    from backupcheck.history import HistoryStore

    clients = clients_from(targets, client)
    chosen = plan_from(plan, plan != DEFAULT_PLAN)
    moment = now_utc()
    options = DrillOptions(
        plan=chosen, seed=seed,
        jobs=jobs or chosen.jobs, history=None if no_history else HistoryStore(history),
        now=moment)
    total = sum(len(c.targets) for c in clients)
    with progress_bar("drill", total, show_progress(fmt)) as progress:
        report = guarded(lambda: run_drill(clients, options, progress=progress))
    try:
        emit(report, fmt)
    finally:
        # the report is out first: a history that cannot be written never costs the result
        guarded(lambda: record_history(options, report))
