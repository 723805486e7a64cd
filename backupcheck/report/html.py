"""The audit's ``report.html``: one self-contained page rendered with Jinja2.

Self-contained means readable offline and printable: CSS inline, the chart a ``data:`` URI,
no scripts, fonts or anything else fetched from elsewhere. Autoescaping is on for every
value, and every string also passes through :func:`visible` (control and bidi characters
made visible): bucket names, object keys, paths and messages come from backups an attacker
may control. This module turns the audit's facts into plain values for the template; the
template only lays them out.
"""

from __future__ import annotations

import base64
import json
import statistics
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from backupcheck.audit.controls import control_evidence
from backupcheck.audit.model import AuditFacts
from backupcheck.audit.pack import verify_command
from backupcheck.audit_verdict import hint_for, plain
from backupcheck.model import FileOutcome, FileResult, Finding, Status, TargetResult
from backupcheck.report.chart import chart_png_bytes
from backupcheck.report.text import visible
from backupcheck.restore.standing import Standing, restore_standing, row_standing
from backupcheck.units import format_duration, human_bytes

if TYPE_CHECKING:  # jinja2 is imported when a page is rendered, not at start-up
    from jinja2 import Environment

TEMPLATE = "audit.html.j2"
#: digests listed per target in the page (all of them are in report.json)
MAX_FILES_SHOWN = 300
ICON = {"pass": "✔", "warn": "⚠", "fail": "✖", "error": "?", "muted": "◌", "none": "–"}
WORD = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "error": "NOT CHECKED",
        "muted": "MUTED", "none": "N/A"}


class Preformatted(str):
    """Text laid out by us (pretty JSON, ASCII only): shown as is, still HTML-escaped."""

    __slots__ = ()


def _finalize(value: Any) -> Any:
    """Every ``{{ … }}`` output: untrusted text made visible (autoescaping follows)."""
    if isinstance(value, (Markup, Preformatted)) or not isinstance(value, str):
        return value
    return visible(value)


def _environment() -> Environment:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    # autoescape=True, not select_autoescape: the template's name ends in .j2, not .html
    return Environment(loader=PackageLoader("backupcheck.report", "templates"),
                       autoescape=True, undefined=StrictUndefined, finalize=_finalize,
                       trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


# ---------------------------------------------------------------- small formatters


def prose(seconds: float | None) -> str:
    """A restore time as a client reads it (``4.0 h``, ``12 min``)."""
    return format_duration(seconds, "prose")


def _css(standing: Standing | None) -> str:
    """The class an estimate is marked with: ``over``, ``at-risk``, ``within``; "" without
    one (restore.rto's own judgement, :mod:`backupcheck.restore.standing`)."""
    return standing.css if standing is not None else ""


def words(seconds: float) -> str:
    """How old a figure is (``3 days``)."""
    return format_duration(seconds, "words")


def when(moment: datetime | None) -> str:
    return "—" if moment is None else f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def when_text(value: Any) -> str:
    """An ISO timestamp from an inventory summary, shown like every other time here."""
    if not value:
        return "—"
    try:
        return when(datetime.fromisoformat(str(value).replace("Z", "+00:00")))
    except ValueError:
        return str(value)


def status_key(status: Status | str | None) -> str:
    return "none" if status is None else str(status)


def _scalar(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def evidence_rows(evidence: Mapping[str, Any]) -> list[tuple[str, str | Preformatted]]:
    """Evidence as key/value rows: scalars and short lists inline, the rest as pretty JSON."""
    rows: list[tuple[str, str | Preformatted]] = []
    for key, value in evidence.items():
        if isinstance(value, (list, tuple)) and all(
                not isinstance(v, (dict, list, tuple)) for v in value):
            text = ", ".join(_scalar(v) for v in value) or "(none)"
            rows.append((str(key), text) if len(text) <= 160 else
                        (str(key), Preformatted(json.dumps(list(value), indent=1,
                                                           default=str))))
        elif isinstance(value, (dict, list, tuple)):
            rows.append((str(key), Preformatted(json.dumps(value, indent=1, sort_keys=True,
                                                           default=str))))
        else:
            rows.append((str(key), _scalar(value)))
    return rows


# ---------------------------------------------------------------- view of one target

#: inventory key, label, formatter, check ids whose status colours the value (first found)
SETTINGS: tuple[tuple[str, str, Callable[[Any], str], tuple[str, ...]], ...] = (
    ("location", "Location", _scalar, ()),
    ("storage", "Storage", _scalar, ()),
    ("versioning", "Versioning", _scalar, ("s3.versioning",)),
    ("object_lock_enabled", "Object Lock", lambda v: "enabled" if v else "not enabled",
     ("s3.object_lock",)),
    ("lock_mode", "Lock mode", _scalar, ("s3.object_lock.mode", "restic.storage.immutable")),
    ("retention_days", "Default retention",
     lambda v: "—" if v is None else f"{v} days", ("s3.object_lock.retention",)),
    ("encryption", "Encryption", lambda v: {"AES256": "SSE-S3 (AES256)",
                                            "aws:kms": "SSE-KMS"}.get(str(v), _scalar(v)),
     ("s3.encryption",)),
    ("kms_key_id", "Encryption key", lambda v: _scalar(v) if v else "— (storage-managed)",
     ("s3.encryption",)),
    ("keys", "Repository keys", _scalar, ("restic.keys",)),
    ("size_bytes", "Size", lambda v: human_bytes(v or 0), ()),
    ("objects", "Objects", _scalar, ()),
    ("versions", "Object versions", _scalar, ()),
    ("delete_markers", "Delete markers", _scalar, ("s3.delete_markers",)),
    ("snapshots", "Snapshots", _scalar, ("restic.snapshots",)),
    ("newest", "Newest backup", when_text, ("s3.freshness", "restic.freshness")),
    ("oldest", "Oldest backup", when_text, ()),
)


def _settings(target: TargetResult) -> tuple[list[dict[str, str]], list[tuple[str, Any]]]:
    inventory = target.inventory.to_json() if target.inventory is not None else {}
    by_id = {c.id: status_key(c.status) for c in target.checks}
    rows = []
    for key, label, fmt, check_ids in SETTINGS:
        if key in inventory:
            status = next((by_id[i] for i in check_ids if i in by_id), "none")
            rows.append({"label": label, "value": fmt(inventory[key]), "status": status})
    known = {key for key, *_ in SETTINGS}
    rest = [(k, v) for k, v in sorted(inventory.items()) if k not in known]
    return rows, rest


def _check(finding: Finding) -> dict[str, Any]:
    muted = finding.muted
    return {"id": finding.id, "plain": plain(finding.id), "status": status_key(finding.status),
            "message": finding.message, "hint": "" if muted else hint_for(finding),
            "muted": {"reason": muted.reason, "until": muted.until,
                      "status": status_key(muted.status)} if muted else None,
            "evidence": evidence_rows(finding.evidence)}


def _file_row(f: FileResult) -> dict[str, Any]:
    return {"path": f.path, "size": human_bytes(f.size), "expected": f.expected_xxh3_128,
            "actual": f.xxh3_128, "result": f.result,
            "status": "fail" if f.result.failed else
            ("warn" if f.result is FileOutcome.UNPROVEN else "pass"),
            "detail": f.detail, "truth": f.truth}


def _target(facts: AuditFacts, target: TargetResult) -> dict[str, Any]:
    settings, more = _settings(target)
    origin = facts.origins.get(target.target)
    restore = target.restore
    view: dict[str, Any] = {
        "name": target.target, "kind": target.kind, "status": status_key(target.status),
        "settings": settings, "more_settings": evidence_rows(dict(more)),
        "inventory_error": facts.inventory_errors.get(target.target, ""),
        "glance": {key: next((r["value"] for r in settings if r["label"] == label), "—")
                   for key, label in (("lock", "Lock mode"), ("retention", "Default retention"),
                                      ("encryption", "Encryption"))},
        "checks": [_check(c) for c in sorted(target.checks, key=lambda c: -c.status.severity)],
        "restore": None,
    }
    if restore is None or origin is None:
        return view
    standing = restore_standing(restore)
    source = ("a drill run for this report" if origin.source == "fresh" else
              f"the newest drill in the history (run {origin.run_id}), "
              f"{words(origin.age_seconds or 0)} before this report")
    files = sorted(restore.files, key=lambda f: (not f.result.failed, f.path))  # problems first
    view["restore"] = {
        "repeat": f"backupcheck drill --client {facts.client.name} --seed {restore.seed}",
        "when": when(origin.started_at), "source": source, "from_history":
        origin.source == "history", "seed": restore.seed, "snapshot": restore.snapshot,
        "sampled": restore.sampled, "verified": restore.verified,
        "mismatched": restore.mismatched, "unreadable": restore.unreadable,
        "unproven": restore.unproven, "bytes": human_bytes(restore.bytes),
        "seconds": prose(restore.seconds),
        "throughput": f"{human_bytes(restore.throughput_bytes_per_s)}/s",
        "ttfb": prose(restore.ttfb_seconds),
        "total": f"{human_bytes(restore.total_bytes)} in {restore.total_files} files",
        "estimate": prose(restore.estimated_full_restore_seconds
                             if restore.estimate_method else None),
        "rto": prose(restore.rto_seconds), "standing": _css(standing),
        "interval": (f"{prose(restore.estimate_low_seconds)}–"
                     f"{prose(restore.estimate_high_seconds)}: {standing}"
                     if standing is not None else ""),
        "coverage": f"{restore.coverage:.1%}",
        "ground_truth": str(restore.estimate_method.get("ground_truth", "")) or "—",
        "problems": [p.to_json() for p in restore.problems],
        "files": [_file_row(f) for f in files[:MAX_FILES_SHOWN]],
        "files_hidden": max(0, len(files) - MAX_FILES_SHOWN),
    }
    return view


# ---------------------------------------------------------------- history and trend


#: how ``backupcheck demo`` marks the earlier drills it simulates (``demo/earlier.py``)
SIMULATED_SNAPSHOT = "(simulated)"
SIMULATED_METHOD = "simulated earlier drill"


def is_simulated(row: Mapping[str, Any]) -> bool:
    """A history row the demo made up (its earlier drills), not a drill that ran."""
    return row.get("snapshot") == SIMULATED_SNAPSHOT or \
        row.get("estimate_method") == SIMULATED_METHOD


def _history_rows(facts: AuditFacts) -> list[dict[str, Any]]:
    rows = []
    for row in reversed(facts.history):  # newest first
        estimate, rto = row.get("estimated_full_restore_seconds"), row.get("rto_seconds")
        throughput = row.get("throughput_bytes_per_s")
        rows.append({
            "date": when(row["started_at"]), "target": row["target"],
            "simulated": is_simulated(row),
            "status": str(row.get("status") or "none") if row.get("status") in
            {"pass", "warn", "fail", "error", "muted"} else "none",
            "sampled": _scalar(row.get("sampled")), "verified": _scalar(row.get("verified")),
            "mismatched": _scalar(row.get("mismatched")),
            "bad": bool(row.get("mismatched") or row.get("unreadable")),
            "throughput": f"{human_bytes(throughput)}/s" if throughput is not None else "—",
            "estimate": prose(estimate), "rto": prose(rto),
            "standing": _css(row_standing(row)),
            "pct": f"{estimate / rto:.0%}" if estimate is not None and rto else "—",
        })
    return rows


def _trend_rows(facts: AuditFacts) -> list[dict[str, Any]]:
    rows = []
    for trend in facts.trends:
        previous = [v for _, v in trend.series[:-1]]
        rows.append({
            "target": trend.target, "runs": trend.runs, "latest": prose(trend.latest),
            "median": prose(statistics.median(previous)) if previous else "—",
            "change": f"{trend.change_pct:+.0f} %" if trend.change_pct is not None else "—",
            "rto": prose(trend.rto_seconds),
            "headroom": f"{trend.headroom_pct:.0f} %" if trend.headroom_pct is not None
            else "—", "standing": _css(trend.standing),
        })
    return rows


def _finding_rows(facts: AuditFacts) -> list[dict[str, Any]]:
    """Each finding's life, for the page: open ones with their age, then resolved ones."""
    moment = facts.checks_at
    return [{"target": f.target, "check": f.check, "plain": plain(f.check),
             "status": f.status if f.status in ICON else "none", "message": f.message,
             "first_seen": when(f.first_seen), "last_seen": when(f.last_seen),
             "resolved": when(f.resolved_at) if f.resolved_at else "",
             "age": words(f.age_seconds(moment)) if f.open else "", "seen": f.seen}
            for f in facts.findings]


def _control_rows(facts: AuditFacts) -> list[dict[str, Any]]:
    """Per control: its words and source, and the checks evidencing it with their status."""
    return [{"id": e.control.id, "framework": e.control.framework, "words": e.control.words,
             "source": e.control.source, "status": status_key(e.status),
             "checks": [{"id": i, "plain": plain(i), "status": status_key(s)}
                        for i, s in e.checks]}
            for e in control_evidence(facts.report.clients[0])]


def chart_data_uri(facts: AuditFacts) -> str:
    png = chart_png_bytes(facts.trends)
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def render_audit_html(facts: AuditFacts) -> str:
    """The whole page as one string."""
    client = facts.client
    period = facts.period
    verdict = facts.verdict
    origins = [o for o in facts.origins.values() if o.started_at is not None]
    newest_drill = max((o.started_at for o in origins if o.started_at), default=None)
    ages = [o.age_seconds for o in origins if o.age_seconds is not None]
    context = {
        "client": client.name, "rto": prose(client.rto_seconds),
        "rpo": prose(client.rpo_seconds), "generated": when(facts.generated_at),
        "period": (f"{period[0]:%Y-%m-%d} – {period[1]:%Y-%m-%d}" if period
                   else "no drills yet"),
        "drills": len({row["run_id"] for row in facts.history}),
        "mode": facts.mode, "newest_drill": when(newest_drill),
        "drill_age": words(max(ages)) if ages else "",
        "verdict": {"status": status_key(verdict.status), "headline": verdict.headline,
                    "summary": verdict.summary, "problems": verdict.problems,
                    "warnings": verdict.warnings, "notes": list(verdict.notes),
                    "exit_code": verdict.exit_code},
        "pillars": [{"title": p.title, "status": status_key(p.status), "answer": p.answer,
                     "detail": p.detail} for p in verdict.pillars],
        "targets": [_target(facts, t) for t in facts.report.clients[0].targets],
        "chart": chart_data_uri(facts) if facts.trends else "",
        "trends": _trend_rows(facts), "history": _history_rows(facts),
        "findings": _finding_rows(facts), "controls": _control_rows(facts),
        "provenance": facts.provenance, "environment": facts.environment,
        "checks_at": when(facts.checks_at), "notes": facts.notes,
        "command_line": facts.command_line,
        "signer": facts.signer_fingerprint, "verify_command": verify_command(),
        "icon": ICON, "word": WORD,
    }
    return _environment().get_template(TEMPLATE).render(context)
