"""``audit``: one client's evidence pack — ``report.html``, ``report.json`` and ``SHA256SUMS``.

Where each figure comes from:
  * storage settings (lock mode, retention, versioning, encryption): an inventory read now;
  * policy checks: run now (``verify``), or as part of a fresh drill with ``run_drill``;
  * restore figures: a fresh drill (``run_drill``), else the newest drill of each target in
    the history. The history keeps metrics and sampled files but not findings, so the
    ``restore.sample`` and ``restore.rto`` findings are judged again from the recorded
    figures against the client's current RTO, and say which drill they come from;
  * RTO trend and restore history: the history (plus the fresh drill when not recorded).

The core never prints or exits: it returns an :class:`AuditResult` with the verdict and the
SPEC exit code; the CLI shows it. The plain-language verdict lives in ``audit_verdict``.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import socket
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa

from backupcheck import __version__
from backupcheck.audit_verdict import Verdict, judge
from backupcheck.clock import as_utc as utc
from backupcheck.clock import iso, now_utc
from backupcheck.engine import Progress
from backupcheck.errors import HistoryError, UsageError
from backupcheck.history import (
    RUNS_SCHEMA,
    HistoryStore,
    manifest_check_from_row,
    rows_from_report,
)
from backupcheck.model import (
    Client,
    ClientResult,
    FileOutcome,
    FileResult,
    Finding,
    Plan,
    Problem,
    RestoreResult,
    RunReport,
    TargetResult,
)
from backupcheck.trend import Trend, compute_trends
from backupcheck.units import format_duration

HTML_NAME = "report.html"
JSON_NAME = "report.json"
SUMS_NAME = "SHA256SUMS"
PACK_FILES = (HTML_NAME, JSON_NAME, SUMS_NAME)
FAILED_RESULTS = frozenset({"digest", "size", "missing", "unreadable"})

Source = Literal["fresh", "history", "none"]


@dataclass(frozen=True)
class AuditOptions:
    """What ``backupcheck audit`` was asked to do."""

    out: Path
    history_dir: Path
    plan: Plan = field(default_factory=Plan)
    #: run a drill now (``--run-drill``) instead of using the newest drill in the history
    run_drill: bool = False
    #: record the fresh drill into the history (``--no-history`` turns it off)
    record_history: bool = True
    seed: int | None = None
    jobs: int | None = None
    now: datetime | None = None
    #: only for the reproduction commands shown in the page
    targets_dir: Path | None = None
    plan_path: Path | None = None
    command_line: str = ""


@dataclass(frozen=True)
class RestoreOrigin:
    """Where one target's restore figures come from."""

    source: Source
    run_id: str = ""
    started_at: datetime | None = None
    age_seconds: float | None = None


@dataclass(frozen=True)
class Provenance:
    """How one group of figures was obtained: what, by which command, when, from where."""

    what: str
    command: str
    at: str
    source: str


@dataclass(frozen=True)
class AuditFacts:
    """Everything the renderers show; built once, rendered to HTML and JSON."""

    client: Client
    report: RunReport  # command "audit": checks, restore and inventory per target
    history: list[dict[str, Any]]  # runs rows of this client, oldest first
    trends: list[Trend]
    origins: dict[str, RestoreOrigin]
    mode: Literal["fresh", "history"]
    generated_at: datetime
    checks_at: datetime
    verdict: Verdict
    provenance: list[Provenance]
    environment: dict[str, str | None]
    notes: list[str]
    inventory_errors: dict[str, str]
    command_line: str = ""

    @property
    def period(self) -> tuple[datetime, datetime] | None:
        moments = [utc(row["started_at"]) for row in self.history]
        return (min(moments), max(moments)) if moments else None


@dataclass(frozen=True)
class AuditResult:
    client: str
    out: Path
    files: tuple[Path, ...]
    verdict: Verdict
    mode: Literal["fresh", "history"]
    #: age of the oldest restore figures used (0 for a fresh drill; None: no drill at all)
    drill_age_seconds: float | None

    @property
    def exit_code(self) -> int:
        return self.verdict.exit_code

    def summary_lines(self) -> list[str]:
        """What the command shows after writing the pack (untrusted text: show it safely)."""
        mark = {"pass": "✔", "warn": "⚠", "fail": "✖", "error": "?"}
        lines = [f"{self.client}: {self.verdict.headline}"]
        lines += [f"  {mark[str(i.status)]} {i.text}" for i in self.verdict.problems]
        lines += [f"  {mark[str(i.status)]} {i.text}" for i in self.verdict.warnings]
        lines += [f"  note: {note}" for note in self.verdict.notes]
        if self.mode == "fresh":
            lines.append("restore figures: a drill run now")
        elif self.drill_age_seconds is not None:
            lines.append("restore figures: the newest drill in the history, "
                         f"{format_duration(self.drill_age_seconds, 'words')} old")
        lines.append(f"wrote {', '.join(str(p) for p in self.files)}")
        lines.append(f"check the pack: cd {self.out} && sha256sum -c {SUMS_NAME}")
        return lines


def audit_command_line(client: Client, options: AuditOptions) -> str:
    """The ``backupcheck audit`` command that makes this pack, for the page's record."""
    import shlex

    words = ["backupcheck", "audit", "--client", client.name, "--out", str(options.out)]
    if options.targets_dir is not None:
        words += ["--targets", str(options.targets_dir)]
    words += ["--history", str(options.history_dir)]
    if options.plan_path is not None:
        words += ["--plan", str(options.plan_path)]
    words += ["--run-drill"] if options.run_drill else ["--from-history"]
    if options.run_drill and options.seed is not None:
        words += ["--seed", str(options.seed)]
    if options.run_drill and options.jobs is not None:
        words += ["--jobs", str(options.jobs)]
    if options.run_drill and not options.record_history:
        words.append("--no-history")
    return shlex.join(words)


def audit_steps(client: Client) -> int:
    """How many times ``progress`` is called: once per target for inventory and for checks."""
    return 2 * len(client.targets)


def restic_version() -> str | None:
    """``restic version``'s first line, or None where restic is not installed."""
    try:
        done = subprocess.run(["restic", "version"], capture_output=True, text=True,
                              timeout=15, check=False, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    line = done.stdout.strip().splitlines()[0] if done.stdout.strip() else ""
    return line or None


def environment() -> dict[str, str | None]:
    return {"tool": "backupcheck", "tool_version": __version__,
            "restic_version": restic_version(), "host": socket.gethostname(),
            "python_version": platform.python_version(), "platform": platform.platform()}


# ---------------------------------------------------------------- history → restore result


def restore_from_history(row: dict[str, Any], files: Sequence[dict[str, Any]],
                         client: Client) -> RestoreResult:
    """A :class:`RestoreResult` rebuilt from one runs row and its files rows.

    The history keeps each file's restored digest, not the expected one: for ``ok`` files
    they were equal; for a mismatch the expected digest is not known here.
    """
    try:
        method = json.loads(row.get("estimate_inputs") or "{}")
    except ValueError:
        method = {}
    results = [FileResult(
        path=str(f["path"]), size=int(f.get("size") or 0), bytes=int(f.get("bytes") or 0),
        seconds=float(f.get("seconds") or 0.0), ttfb_seconds=float(f.get("ttfb_seconds") or 0.0),
        result=FileOutcome(str(f.get("result") or "unreadable")),
        xxh3_128=str(f.get("xxh3_128") or ""),
        expected_xxh3_128=str(f.get("xxh3_128") or "") if f.get("result") == "ok" else "",
        truth=str(f.get("truth") or ""), detail=str(f.get("note") or ""))
        for f in files]
    problems = tuple(Problem(f.path, f.result, "", f.xxh3_128)  # type: ignore[arg-type]
                     for f in results if f.result in FAILED_RESULTS)
    estimate = row.get("estimated_full_restore_seconds")

    def integer(name: str) -> int:
        return int(row.get(name) or 0)

    def number(name: str) -> float:
        return float(row.get(name) or 0.0)

    return RestoreResult(
        seed=integer("seed"), snapshot=str(row.get("snapshot") or ""),
        sampled=integer("sampled"), verified=integer("verified"),
        mismatched=integer("mismatched"), unreadable=integer("unreadable"),
        unproven=integer("unproven"), bytes=integer("bytes"), seconds=number("seconds"),
        ttfb_seconds=number("ttfb_seconds"),
        throughput_bytes_per_s=number("throughput_bytes_per_s"),
        total_bytes=integer("total_bytes"), total_files=integer("total_files"),
        estimated_full_restore_seconds=float(estimate) if estimate is not None else 0.0,
        # judged against the RTO agreed today, not the one in force at the drill
        rto_seconds=client.rto_seconds, coverage=number("coverage"), retries=integer("retries"),
        problems=problems, files=tuple(results),
        estimate_method=_method(row, method) if estimate is not None else {},
        manifest=manifest_check_from_row(row),
    )


def _method(row: dict[str, Any], recorded: Any) -> dict[str, Any]:
    """The estimate's method as recorded; rows written without it still had an estimate."""
    if isinstance(recorded, dict) and recorded:
        return recorded
    return {"method": str(row.get("estimate_method") or "recorded"), "source": "history"}


def _from_drill(finding: Finding, row: dict[str, Any], age: float) -> Finding:
    started = utc(row["started_at"])
    recorded = {"run_id": row["run_id"], "started_at": iso(started), "age_seconds": round(age)}
    if row.get("rto_seconds") is not None:
        recorded["rto_seconds_at_drill"] = row["rto_seconds"]
    return replace(finding,
                   message=f"{finding.message} — drill of {started:%Y-%m-%d %H:%M} UTC, "
                           f"{format_duration(age, 'words')} ago",
                   evidence={**finding.evidence, "recorded_drill": recorded})


def _history_restore(target: TargetResult, client: Client, row: dict[str, Any] | None,
                     files: Sequence[dict[str, Any]], moment: datetime
                     ) -> tuple[TargetResult, RestoreOrigin]:
    from backupcheck.checks.registry import finding
    from backupcheck.model import Status
    from backupcheck.restore.drill import rto_finding, sample_finding

    if row is None:
        message = "no restore drill of this target in the history: run the audit with " \
                  "--run-drill"
        missing = (finding("restore.sample", Status.ERROR, message, {"error": message}),
                   finding("restore.rto", Status.ERROR, message, {"error": message}))
        return replace(target, checks=(*target.checks, *missing)), RestoreOrigin("none")
    restore = restore_from_history(row, files, client)
    method = restore.estimate_method
    notes = method.get("sample_notes", [])
    age = max(0.0, (moment - utc(row["started_at"])).total_seconds())
    judged = (sample_finding(restore, str(method.get("ground_truth", "")),
                             notes if isinstance(notes, list) else []),
              rto_finding(restore))
    checks = (*target.checks, *(_from_drill(f, row, age) for f in judged))
    origin = RestoreOrigin("history", str(row["run_id"]), utc(row["started_at"]), age)
    return replace(target, checks=checks, restore=restore), origin


def _newest_per_target(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    newest: dict[str, dict[str, Any]] = {}
    for row in rows:  # oldest first: later rows win
        newest[str(row["target"])] = row
    return newest


# ---------------------------------------------------------------- building the facts


def _commands(client: Client, options: AuditOptions) -> dict[str, str]:
    """The commands that reproduce each group of figures (shell-quoted)."""
    import shlex

    where = ["--targets", str(options.targets_dir)] if options.targets_dir else []
    who = ["--client", client.name]
    hist = ["--history", str(options.history_dir)]
    plan = ["--plan", str(options.plan_path)] if options.plan_path else []
    drill = [*where, *who, *plan, *hist]
    drill += ["--seed", str(options.seed)] if options.seed is not None else []
    drill += [] if options.record_history else ["--no-history"]
    return {name: shlex.join(["backupcheck", name, *args]) for name, args in (
        ("inventory", [*where, *who]), ("verify", [*where, *who, *plan]), ("drill", drill),
        ("history", [*who, *hist]), ("trend", [*who, *hist]))}


def _parse_iso(text: str) -> datetime:
    return utc(datetime.fromisoformat(text.replace("Z", "+00:00")))


@dataclass
class _Gathered:
    """Checks and restore figures of one mode, before the inventory is joined in."""

    checked: RunReport  # the verify or drill report the policy checks come from
    targets: list[TargetResult]
    origins: dict[str, RestoreOrigin]
    history: pa.Table
    notes: list[str]


def _fresh_drill(client: Client, options: AuditOptions, store: HistoryStore, moment: datetime,
                 progress: Progress | None) -> _Gathered:
    """``--run-drill``: a drill now, recorded unless asked not to; it joins the trend anyway."""
    from backupcheck.commands.drill import DrillOptions, drill, new_run_id, record_history

    drill_options = DrillOptions(
        plan=options.plan, seed=options.seed, jobs=options.jobs or options.plan.jobs,
        history=store if options.record_history else None, now=moment)
    checked = drill([client], drill_options, progress=progress)
    notes: list[str] = []
    recorded = False
    try:
        recorded = record_history(drill_options, checked) is not None
    except HistoryError as exc:
        notes.append(f"this drill could not be recorded in the history: {exc}")
    started = _parse_iso(checked.started_at)
    history = store.read_runs([client.name])
    if not recorded:
        if not options.record_history:
            notes.append("this drill was not recorded in the history (--no-history)")
        rows, _ = rows_from_report(new_run_id(started), started, checked, options.plan.name)
        history = pa.concat_tables([history, pa.Table.from_pylist(rows, schema=RUNS_SCHEMA)])
    targets = list(checked.clients[0].targets)
    origins = {t.target: RestoreOrigin("fresh" if t.restore else "none", "", started, 0.0)
               for t in targets}
    return _Gathered(checked, targets, origins, history, notes)


def _newest_drill(client: Client, options: AuditOptions, store: HistoryStore,
                  history: pa.Table, moment: datetime, progress: Progress | None) -> _Gathered:
    """The default: policy checks now (``verify``), restore figures from the history."""
    from backupcheck.commands.verify import verify

    checked = verify([client], options.plan, progress=progress, now=moment)
    newest = _newest_per_target(history.to_pylist())
    run_ids = {row["run_id"] for row in newest.values()}
    file_rows = [f for f in store.read_files([client.name]).to_pylist()
                 if f["run_id"] in run_ids]
    targets: list[TargetResult] = []
    origins: dict[str, RestoreOrigin] = {}
    for target in checked.clients[0].targets:
        row = newest.get(target.target)
        files = [f for f in file_rows if row is not None and f["run_id"] == row["run_id"]
                 and f["target"] == target.target]
        result, origins[target.target] = _history_restore(target, client, row, files, moment)
        targets.append(result)
    return _Gathered(checked, targets, origins, history, [])


def collect(client: Client, options: AuditOptions, *,
            progress: Progress | None = None) -> AuditFacts:
    """Run what the audit needs and gather every figure with where it came from."""
    from backupcheck.commands.inventory import inventory

    moment = utc(options.now) if options.now else now_utc()
    store = HistoryStore(options.history_dir)
    history = store.read_runs([client.name])
    if history.num_rows == 0 and not options.run_drill:
        raise UsageError(f"no drills of client {client.name!r} in the history "
                         f"{options.history_dir}: add --run-drill, or run `backupcheck drill "
                         f"--client {client.name}` first")
    inventoried = inventory([client], progress=progress)
    gathered = (_fresh_drill(client, options, store, moment, progress) if options.run_drill
                else _newest_drill(client, options, store, history, moment, progress))
    targets = gathered.targets
    summaries = {t.target: t for t in inventoried.clients[0].targets}
    inventory_errors: dict[str, str] = {}
    for index, target in enumerate(targets):
        summary = summaries.get(target.target)
        if summary is not None and summary.inventory is not None:
            targets[index] = replace(target, inventory=summary.inventory)
        elif summary is not None and summary.checks:
            inventory_errors[target.target] = summary.checks[0].message
    report = RunReport(command="audit", started_at=iso(moment), finished_at=iso(now_utc()),
                       clients=(ClientResult(client.name, tuple(targets)),))
    history = gathered.history.sort_by([("started_at", "ascending"), ("target", "ascending")])
    checks_at = _parse_iso(gathered.checked.started_at)
    ages = [o.age_seconds for o in gathered.origins.values() if o.age_seconds is not None]
    return AuditFacts(
        client=client, report=report, history=history.to_pylist(),
        trends=compute_trends(history, None), origins=gathered.origins,
        mode="fresh" if options.run_drill else "history", generated_at=moment,
        checks_at=checks_at, verdict=judge(report.clients[0], max(ages, default=None)),
        provenance=_provenance(_commands(client, options), options, gathered.origins,
                               checks_at, inventoried),
        environment=environment(), notes=gathered.notes, inventory_errors=inventory_errors,
        command_line=options.command_line or audit_command_line(client, options))


def _provenance(commands: dict[str, str], options: AuditOptions,
                origins: dict[str, RestoreOrigin], checks_at: datetime,
                inventoried: RunReport) -> list[Provenance]:
    at = f"{checks_at:%Y-%m-%d %H:%M:%S} UTC"
    items = [Provenance("Storage settings (lock mode, retention, versioning, encryption)",
                        commands["inventory"], inventoried.started_at.replace("T", " ")
                        .replace("Z", " UTC"), "read from the storage while this report was "
                        "made")]
    if options.run_drill:
        items.append(Provenance("Policy checks, sampled restores, digests and RTO estimate",
                                commands["drill"], at, "a drill run while this report was made"))
    else:
        items.append(Provenance("Policy checks (immutability, encryption, freshness)",
                                commands["verify"], at, "run while this report was made"))
        for target, origin in sorted(origins.items()):
            if origin.source == "history" and origin.started_at is not None:
                items.append(Provenance(
                    f"Restore figures of {target} (sample, digests, throughput, RTO estimate)",
                    f"backupcheck drill (run {origin.run_id})",
                    f"{origin.started_at:%Y-%m-%d %H:%M:%S} UTC",
                    "the newest drill in the history, "
                    f"{format_duration(origin.age_seconds or 0, 'words')} before this report"))
            elif origin.source == "none":
                items.append(Provenance(f"Restore figures of {target}", "—", "—",
                                        "no drill of this target in the history"))
    items.append(Provenance("RTO trend and restore history", commands["trend"] + "; "
                            + commands["history"], at, f"the drill history in "
                            f"{options.history_dir}"))
    return items


# ---------------------------------------------------------------- writing the pack


def _write(out: Path, name: str, data: bytes) -> Path:
    """``data`` written under a temporary name and renamed: never a half-written pack file."""
    final = out / name
    temp = out / f".{name}.{os.getpid()}.tmp"
    try:
        temp.write_bytes(data)
        os.replace(temp, final)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise UsageError(f"--out: cannot write {final}: {exc.strerror or exc}") from None
    return final


def sha256sums(files: Sequence[tuple[str, bytes]]) -> str:
    """``sha256sum`` format: ``<hex>  <name>`` per line (text mode, two spaces)."""
    return "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in files)


def build_audit_pack(client: Client, options: AuditOptions, *,
                     progress: Progress | None = None) -> AuditResult:
    """Gather the evidence of one client and write ``report.html``, ``report.json``, sums."""
    from backupcheck.report.html import render_audit_html
    from backupcheck.report.jsonout import dumps

    out = options.out
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out: {out} exists and is not a directory")
    facts = collect(client, options, progress=progress)
    try:  # only now: a command that fails early leaves no empty directory behind
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out: cannot create {out}: {exc.strerror or exc}") from None
    contents = [(HTML_NAME, render_audit_html(facts).encode("utf-8")),
                (JSON_NAME, (dumps(audit_document(facts)) + "\n").encode("utf-8"))]
    written = [_write(out, name, data) for name, data in contents]
    written.append(_write(out, SUMS_NAME, sha256sums(contents).encode("ascii")))
    ages = [o.age_seconds for o in facts.origins.values() if o.age_seconds is not None]
    return AuditResult(client=client.name, out=out, files=tuple(written),
                       verdict=facts.verdict, mode=facts.mode,
                       drill_age_seconds=max(ages) if ages else None)


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (iso(utc(v)) if isinstance(v, datetime) else v) for k, v in row.items()}


def audit_document(facts: AuditFacts) -> dict[str, Any]:
    """``report.json``: the SPEC report, the client's history rows and the audit metadata."""
    document = facts.report.to_json()
    document["history"] = [_jsonable(row) for row in facts.history]
    period = facts.period
    document["audit"] = {
        "client": facts.client.name,
        "generated_at": iso(facts.generated_at),
        **facts.environment,
        "rto_seconds": facts.client.rto_seconds,
        "rpo_seconds": facts.client.rpo_seconds,
        "period": {"first_drill": iso(period[0]) if period else None,
                   "last_drill": iso(period[1]) if period else None,
                   "drills": len({row["run_id"] for row in facts.history})},
        "checks": {"source": "fresh", "command": "drill" if facts.mode == "fresh" else "verify",
                   "at": iso(facts.checks_at)},
        "restore": {
            "source": facts.mode,
            "targets": {name: {"source": o.source, "run_id": o.run_id or None,
                               "started_at": iso(o.started_at) if o.started_at else None,
                               "age_seconds": (round(o.age_seconds)
                                               if o.age_seconds is not None else None)}
                        for name, o in sorted(facts.origins.items())}},
        "verdict": facts.verdict.to_json(),
        "provenance": [{"what": p.what, "command": p.command, "at": p.at, "source": p.source}
                       for p in facts.provenance],
        "command_line": facts.command_line or None,
        "notes": list(facts.notes),
        "inventory_errors": dict(facts.inventory_errors),
        "files": [HTML_NAME, JSON_NAME],
    }
    return document
