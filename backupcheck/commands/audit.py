"""``audit``: one client's evidence pack — ``report.html``, ``report.json`` and ``SHA256SUMS``.

Where each figure comes from:
  * storage settings (lock mode, retention, versioning, encryption): an inventory read now;
  * policy checks: run now (``verify``), or as part of a fresh drill with ``run_drill``;
  * restore figures: a fresh drill (``run_drill``), else the newest drill of each target in
    the history, its ``restore.*`` findings judged again (``audit.from_history``);
  * RTO trend and restore history: the history (plus the fresh drill when not recorded).

The command collects the evidence into :class:`AuditFacts`, has the renderers turn it into
the page and the JSON document, writes the pack and returns an :class:`AuditResult` with the
verdict and the SPEC exit code. It never prints or exits; the CLI shows the result.
"""

from __future__ import annotations

import platform
import socket
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime

import pyarrow as pa

from backupcheck import __version__
from backupcheck.audit.document import audit_document
from backupcheck.audit.findings import finding_records
from backupcheck.audit.from_history import restore_targets
from backupcheck.audit.model import AuditFacts, AuditOptions, AuditResult, RestoreOrigin
from backupcheck.audit.pack import check_out, write_pack
from backupcheck.audit.provenance import audit_command_line, provenance
from backupcheck.audit.sshsig import fingerprint, public_blob
from backupcheck.audit_verdict import judge
from backupcheck.backends.restic import installed_version
from backupcheck.clock import as_utc, iso, now_utc, parse_iso
from backupcheck.commands.drill import DrillOptions, drill, new_run_id, record_history
from backupcheck.commands.inventory import inventory
from backupcheck.commands.verify import verify
from backupcheck.engine import Progress
from backupcheck.errors import HistoryError, UsageError
from backupcheck.history import RUNS_SCHEMA, HistoryStore, open_history, rows_from_report
from backupcheck.model import Client, ClientResult, RunReport, TargetResult
from backupcheck.mutes import apply_mutes, mute_client
from backupcheck.report.html import render_audit_html
from backupcheck.report.jsonout import dumps
from backupcheck.trend import compute_trends


def audit_steps(client: Client) -> int:
    """How many times ``progress`` is called: once per target for inventory and for checks."""
    return 2 * len(client.targets)


def environment() -> dict[str, str | None]:
    """What made the pack: the tool, restic, the host and Python."""
    return {"tool": "backupcheck", "tool_version": __version__,
            "restic_version": installed_version(), "host": socket.gethostname(),
            "python_version": platform.python_version(), "platform": platform.platform()}


def _oldest_age(origins: Mapping[str, RestoreOrigin]) -> float | None:
    """Age of the oldest restore figures used (0 for a fresh drill; None: no drill at all)."""
    return max((o.age_seconds for o in origins.values() if o.age_seconds is not None),
               default=None)


@dataclass
class _Gathered:
    """Checks and restore figures of one mode, before the inventory is joined in."""

    checked: RunReport  # the verify or drill report the policy checks come from
    targets: list[TargetResult]
    origins: dict[str, RestoreOrigin]
    history: pa.Table
    notes: list[str]
    #: the fresh drill's findings are in the history already (recorded)
    recorded: bool = False


def _fresh_drill(client: Client, options: AuditOptions, store: HistoryStore, moment: datetime,
                 progress: Progress | None) -> _Gathered:
    """``--run-drill``: a drill now, recorded unless asked not to; it joins the trend anyway."""
    drill_options = DrillOptions(
        plan=options.plan, seed=options.seed, jobs=options.jobs or options.plan.jobs,
        history=store if options.record_history else None, now=moment)
    checked = apply_mutes(drill([client], drill_options, progress=progress), options.mutes,
                          moment.date())
    notes: list[str] = []
    recorded = False
    try:
        recorded = record_history(drill_options, checked) is not None
    except HistoryError as exc:
        notes.append(f"this drill could not be recorded in the history: {exc}")
    started = parse_iso(checked.started_at)
    history = store.read_runs([client.name])
    if not recorded:
        if not options.record_history:
            notes.append("this drill was not recorded in the history (--no-history)")
        rows, _ = rows_from_report(new_run_id(started), started, checked, options.plan.name)
        history = pa.concat_tables([history, pa.Table.from_pylist(rows, schema=RUNS_SCHEMA)])
    targets = list(checked.clients[0].targets)
    origins = {t.target: RestoreOrigin("fresh" if t.restore else "none", "", started, 0.0)
               for t in targets}
    return _Gathered(checked, targets, origins, history, notes, recorded)


def _newest_drill(client: Client, options: AuditOptions, store: HistoryStore,
                  history: pa.Table, moment: datetime, progress: Progress | None) -> _Gathered:
    """The default: policy checks now (``verify``), restore figures from the history."""
    checked = verify([client], options.plan, progress=progress, now=moment)
    targets, origins = restore_targets(
        checked.clients[0].targets, client, history.to_pylist(),
        store.read_files([client.name]).to_pylist(), moment, options.max_drill_age_seconds)
    return _Gathered(checked, targets, origins, history, [])


def collect(client: Client, options: AuditOptions, *,
            progress: Progress | None = None) -> AuditFacts:
    """Run what the audit needs and gather every figure with where it came from."""
    moment = as_utc(options.now) if options.now else now_utc()
    store = open_history(options.history_dir)
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
    checked = mute_client(ClientResult(client.name, tuple(targets)), options.mutes,
                          moment.date())
    report = RunReport(command="audit", started_at=iso(moment), finished_at=iso(now_utc()),
                       clients=(checked,))
    history = gathered.history.sort_by([("started_at", "ascending"), ("target", "ascending")])
    checks_at = parse_iso(gathered.checked.started_at)
    findings = finding_records(
        store.read_findings([client.name]).to_pylist(),
        None if gathered.recorded else report.clients[0], checks_at,
        restore_recorded=not options.run_drill)
    return AuditFacts(
        client=client, report=report, history=history.to_pylist(),
        trends=compute_trends(history, None), origins=gathered.origins,
        # the page is made after the checks it reports, never dated before them
        mode="fresh" if options.run_drill else "history",
        generated_at=max(moment, checks_at, as_utc(parse_iso(report.finished_at))),
        checks_at=checks_at, verdict=judge(report.clients[0], _oldest_age(gathered.origins),
                                                options.max_drill_age_seconds),
        provenance=provenance(client, options, gathered.origins, checks_at,
                              inventoried.started_at),
        environment=environment(), notes=gathered.notes, findings=findings,
        inventory_errors=inventory_errors,
        command_line=options.command_line or audit_command_line(client, options),
        signer_fingerprint=fingerprint(public_blob(options.signing_key.public_key()))
        if options.signing_key is not None else "")


def build_audit_pack(client: Client, options: AuditOptions, *,
                     progress: Progress | None = None) -> AuditResult:
    """Gather the evidence of one client and write ``report.html``, ``report.json``, sums."""
    check_out(options.out)
    facts = collect(client, options, progress=progress)
    document = dumps(audit_document(facts)) + "\n"
    files = write_pack(options.out, render_audit_html(facts), document, options.signing_key)
    return AuditResult(client=client.name, out=options.out, files=files,
                       verdict=facts.verdict, mode=facts.mode,
                       drill_age_seconds=_oldest_age(facts.origins), document=document,
                       facts=facts)
