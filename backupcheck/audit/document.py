"""``report.json``: the SPEC report of the audit, the client's history rows and the audit's
metadata (environment, period, sources, verdict, provenance), as one JSON-ready document."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from backupcheck.audit.controls import control_evidence
from backupcheck.audit.model import AuditFacts
from backupcheck.audit.pack import HTML_NAME, JSON_NAME, SIG_NAME, SUMS_NAME, verify_command
from backupcheck.audit.sshsig import HASH, NAMESPACE
from backupcheck.clock import iso


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (iso(v) if isinstance(v, datetime) else v) for k, v in row.items()}


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
        "findings": [f.to_json(facts.checks_at) for f in facts.findings],
        "controls": [c.to_json() for c in control_evidence(facts.report.clients[0])],
        "inventory_errors": dict(facts.inventory_errors),
        "files": [HTML_NAME, JSON_NAME],
        "signature": ({"file": SIG_NAME, "signs": SUMS_NAME, "format": "sshsig",
                       "namespace": NAMESPACE, "hash": HASH, "key": facts.signer_fingerprint,
                       "verify": verify_command()}
                      if facts.signer_fingerprint else None),
    }
    return document
