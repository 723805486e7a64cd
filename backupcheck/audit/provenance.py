"""Where each group of the audit's figures comes from, and the commands that reproduce them.

Shown in the page and recorded in ``report.json``: a reader can run the same ``backupcheck``
commands and compare. All commands are shell-quoted (names and paths may hold anything).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from datetime import datetime

from backupcheck.audit.model import (
    DEFAULT_MAX_DRILL_AGE_SECONDS,
    AuditOptions,
    Provenance,
    RestoreOrigin,
)
from backupcheck.model import Client
from backupcheck.units import format_duration


def audit_command_line(client: Client, options: AuditOptions) -> str:
    """The ``backupcheck audit`` command that makes this pack, for the page's record."""
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
    if options.max_drill_age_seconds != DEFAULT_MAX_DRILL_AGE_SECONDS:
        words += ["--max-drill-age", format_duration(options.max_drill_age_seconds)]
    return shlex.join(words)


def reproduction_commands(client: Client, options: AuditOptions) -> dict[str, str]:
    """The commands that reproduce each group of figures (shell-quoted), by command name."""
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


def provenance(client: Client, options: AuditOptions, origins: Mapping[str, RestoreOrigin],
               checks_at: datetime, inventoried_at: str) -> list[Provenance]:
    """One entry per group of figures: storage settings (read at ``inventoried_at``, the
    inventory report's timestamp), policy checks (at ``checks_at``), restores, the trend."""
    commands = reproduction_commands(client, options)
    at = f"{checks_at:%Y-%m-%d %H:%M:%S} UTC"
    items = [Provenance("Storage settings (lock mode, retention, versioning, encryption)",
                        commands["inventory"], inventoried_at.replace("T", " ")
                        .replace("Z", " UTC"), "read from the storage while this report was "
                        "made")]
    if options.run_drill:
        items.append(Provenance("Policy checks, sampled restores, digests and RTO estimate",
                                commands["drill"], at, "a drill run while this report was made"))
    else:
        items.append(Provenance("Policy checks (immutability, encryption, freshness)",
                                commands["verify"], at, "run while this report was made"))
        for target, origin in sorted(origins.items()):
            if origin.stale and origin.started_at is not None:
                items.append(Provenance(
                    f"Restore figures of {target}", f"backupcheck drill (run {origin.run_id})",
                    f"{origin.started_at:%Y-%m-%d %H:%M:%S} UTC",
                    f"not used: {format_duration(origin.age_seconds or 0, 'words')} before "
                    "this report, older than --max-drill-age"))
            elif origin.source == "history" and origin.started_at is not None:
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
