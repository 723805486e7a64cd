"""The audit's verdict in plain language: what a client's IT manager reads first.

Every check id gets a plain-language statement of what it proves ("Nobody can delete backups
early"). Checks are grouped into five *pillars* — up to date, immutable, encrypted & private,
restorable, within RTO — each judged by the worst status of its checks over all targets. The
headline and the list of problems are built from the findings alone, so the HTML page and
``report.json`` say the same thing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from backupcheck.model import ClientResult, Finding, Status, TargetResult, exit_code_for

#: what each check proves, in words a client's IT manager understands
PLAIN: dict[str, str] = {
    "s3.versioning": "Earlier versions of every backup file are kept (versioning)",
    "s3.object_lock": "Backups are write-protected (Object Lock)",
    "s3.object_lock.mode": "Nobody, not even an administrator, can delete backups early "
                           "(COMPLIANCE mode)",
    "s3.object_lock.retention": "Backups stay protected long enough (retention period)",
    "s3.objects.locked": "Every backup file is under write protection",
    "s3.encryption": "Backups are encrypted at rest",
    "s3.objects.encrypted": "Every backup file is stored encrypted",
    "s3.delete_markers": "No backup files have been deleted",
    "s3.public_access": "Backups cannot be made public",
    "s3.freshness": "The newest backup is recent enough (RPO)",
    "restic.access": "The backup repository opens with its password",
    "restic.keys": "No unknown keys can open the repository",
    "restic.storage.immutable": "The repository's storage is write-protected",
    "restic.freshness": "The newest backup is recent enough (RPO)",
    "restic.snapshots": "Enough backup versions are kept",
    "restic.integrity": "The repository passes its integrity check",
    "restore.sample": "Sampled files restore byte for byte",
    "restore.rto": "A full restore finishes within the agreed recovery time (RTO)",
}


#: the same, said as the problem it is when the check fails
FAILED: dict[str, str] = {
    "s3.versioning": "Earlier versions of backup files are not kept (versioning is off)",
    "s3.object_lock": "Backups are not write-protected (no Object Lock)",
    "s3.object_lock.mode": "An administrator could delete backups early (lock mode too weak)",
    "s3.object_lock.retention": "Backups are protected for too short a time",
    "s3.objects.locked": "Some backup files are not write-protected",
    "s3.encryption": "Backups are not encrypted as required",
    "s3.objects.encrypted": "Some backup files are unencrypted or use another key",
    "s3.delete_markers": "Some backup files have been deleted",
    "s3.public_access": "Backups could be made public (public access block not fully on)",
    "s3.freshness": "The newest backup is too old (RPO missed)",
    "restic.access": "The backup repository cannot be opened",
    "restic.keys": "More keys than expected can open the repository",
    "restic.storage.immutable": "The repository's storage is not write-protected",
    "restic.freshness": "The newest backup is too old (RPO missed)",
    "restic.snapshots": "Too few backup versions are kept",
    "restic.integrity": "The repository's integrity check found errors",
    "restore.sample": "Some sampled files did not restore correctly",
    "restore.rto": "A full restore would take longer than the agreed RTO",
}
#: a warning is not a failure: its own words and, where the failure's hint misleads, advice
WARNED: dict[str, tuple[str, str]] = {
    "restore.sample": ("Restored files could not be proven correct (no recorded digests)",
                       "record digests at backup time (backupcheck manifest build, or "
                       "x-amz-meta-xxh3-128 object metadata) and point the target's manifest "
                       "at them"),
    "restic.storage.immutable": ("The repository's storage is not write-protected", ""),
}


def duration(seconds: float | None) -> str:
    """``4.0 h``, ``12 min``, ``38 s``, ``0.04 s``: a restore time as a client reads it."""
    if seconds is None:
        return "—"
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.1f} days"
    if seconds >= 7200:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 120:
        return f"{seconds / 60:.0f} min"
    if seconds >= 10:
        return f"{seconds:.0f} s"
    return f"{seconds:.1f} s" if seconds >= 1 else f"{seconds:.2f} s"


def age_words(seconds: float) -> str:
    """``15 seconds``, ``12 minutes``, ``5 hours``, ``3 days``: how old a figure is."""
    for limit, unit, size in ((90, "second", 1), (90 * 60, "minute", 60),
                              (48 * 3600, "hour", 3600), (float("inf"), "day", 86400)):
        if seconds < limit:
            count = round(max(0.0, seconds) / size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class PillarSpec:
    key: str
    title: str
    check_ids: frozenset[str]
    #: shown under the title when everything in the pillar passed
    when_ok: str


PILLARS: tuple[PillarSpec, ...] = (
    PillarSpec("fresh", "Up to date",
               frozenset({"s3.freshness", "restic.freshness", "restic.snapshots"}),
               "newest backups within the RPO"),
    PillarSpec("immutable", "Immutable",
               frozenset({"s3.versioning", "s3.object_lock", "s3.object_lock.mode",
                          "s3.object_lock.retention", "s3.objects.locked",
                          "s3.delete_markers", "restic.storage.immutable"}),
               "backups cannot be changed or deleted"),
    PillarSpec("encrypted", "Encrypted & private",
               frozenset({"s3.encryption", "s3.objects.encrypted", "s3.public_access",
                          "restic.keys"}),
               "encrypted at rest, no public or extra access"),
    PillarSpec("restorable", "Restorable",
               frozenset({"restore.sample", "restic.integrity", "restic.access"}),
               "sampled files came back byte for byte"),
    PillarSpec("rto", "Within RTO", frozenset({"restore.rto"}),
               "full restore estimated within the RTO"),
)

#: the one word on each pillar, never colour alone
ANSWER = {Status.PASS: "YES", Status.WARN: "CHECK", Status.FAIL: "NO", Status.ERROR: "UNKNOWN"}
#: a drill older than this is called out in the verdict
STALE_DRILL_SECONDS = 8 * 86400


@dataclass(frozen=True)
class Pillar:
    key: str
    title: str
    status: Status | None  # None: no check of this pillar applies
    answer: str
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"title": self.title, "status": str(self.status) if self.status else None,
                "answer": self.answer, "detail": self.detail}


@dataclass(frozen=True)
class Issue:
    """One problem or warning, in plain words, with what to do about it."""

    target: str
    check_id: str  # "" when the whole target could not be checked
    status: Status
    title: str  # the problem in plain words
    detail: str  # what the check found
    hint: str = ""

    @property
    def text(self) -> str:
        return f"{self.target}: {self.title} — {self.detail}"

    def to_json(self) -> dict[str, Any]:
        return {"target": self.target, "check": self.check_id or None,
                "status": str(self.status), "text": self.text, "what_to_do": self.hint}


@dataclass(frozen=True)
class Verdict:
    status: Status
    headline: str
    summary: str
    problems: tuple[Issue, ...]  # failed or not checked
    warnings: tuple[Issue, ...]
    notes: tuple[str, ...]
    pillars: tuple[Pillar, ...]

    @property
    def exit_code(self) -> int:
        return exit_code_for(self.status)

    def to_json(self) -> dict[str, Any]:
        return {"status": str(self.status), "exit_code": self.exit_code,
                "headline": self.headline, "summary": self.summary,
                "problems": [i.to_json() for i in self.problems],
                "warnings": [i.to_json() for i in self.warnings],
                "notes": list(self.notes),
                "pillars": {p.key: p.to_json() for p in self.pillars}}


def plain(check_id: str) -> str:
    return PLAIN.get(check_id, check_id)


#: what to do when a check could not be made at all (its own hint is about a failure)
UNREACHABLE_HINT = ("check that the backup storage exists and is reachable and that the "
                    "credentials may read it, then run the audit again")
NO_DRILL_HINT = "run a restore drill (backupcheck audit --run-drill) once the set can be read"


def hint_for(check: Finding) -> str:
    """What to do about ``check``: its own hint, unless that speaks of another status."""
    if check.status is Status.PASS:
        return ""
    if check.status is Status.ERROR:
        return NO_DRILL_HINT if check.id.startswith("restore.") else UNREACHABLE_HINT
    if check.status is Status.WARN and check.id in WARNED:
        return WARNED[check.id][1] or check.hint
    return check.hint


def _issue(target: str, check: Finding) -> Issue:
    title = FAILED.get(check.id, check.id)
    if check.status is Status.ERROR:
        title = f"Could not verify: {plain(check.id)}"
    elif check.status is Status.WARN and check.id in WARNED:
        title = WARNED[check.id][0]
    return Issue(target, check.id, check.status, title, check.message, hint_for(check))


def _issues(target: TargetResult) -> tuple[list[Issue], list[Issue]]:
    """(problems, warnings) of one target.

    Checks that could not be made for one reason (the engine marks the others "not checked:
    <reason>") are one problem, not ten: the storage could not be read.
    """
    warnings = [_issue(target.target, c) for c in target.checks if c.status is Status.WARN]
    errors = [c for c in target.checks if c.status is Status.ERROR]
    grouped: list[Finding] = []
    if errors:
        root = errors[0].message
        grouped = [c for c in errors if c.message in (root, f"not checked: {root}")]
    problems: list[Issue] = []
    if len(grouped) >= 2:
        problems.append(Issue(target.target, "", Status.ERROR,
                              "This backup set could not be checked",
                              f"{errors[0].message} ({len(grouped)} checks not made)",
                              UNREACHABLE_HINT))
    problems += [_issue(target.target, c) for c in target.checks
                 if c.status in (Status.FAIL, Status.ERROR)
                 and not (len(grouped) >= 2 and c in grouped)]
    return problems, warnings


def _pillar(spec: PillarSpec, targets: Sequence[TargetResult]) -> Pillar:
    judged = [(t, c) for t in targets for c in t.checks if c.id in spec.check_ids]
    if not judged:
        return Pillar(spec.key, spec.title, None, "N/A", "not applicable to these backups")
    status = max((c.status for _, c in judged), key=lambda s: s.severity)
    names = {t.target for t, _ in judged}
    bad = {t.target for t, c in judged if c.status is status}
    if status is Status.PASS:
        detail = f"{spec.when_ok} ({len(names)} of {len(names)} backup sets)"
    else:
        word = {Status.WARN: "a warning on", Status.FAIL: "failed on",
                Status.ERROR: "not checked on"}[status]
        detail = f"{word} {len(bad)} of {len(names)} backup sets"
    return Pillar(spec.key, spec.title, status, ANSWER[status], detail)


def _rto_summary(targets: Sequence[TargetResult]) -> str:
    restores = [t.restore for t in targets if t.restore is not None and t.restore.estimate_method]
    if not restores:
        return ""
    slowest = max(restores, key=lambda r: r.estimated_full_restore_seconds)
    return (f"the slowest full restore is estimated at "
            f"{duration(slowest.estimated_full_restore_seconds)} against an agreed RTO of "
            f"{duration(slowest.rto_seconds)}")


def judge(result: ClientResult, drill_age_seconds: float | None) -> Verdict:
    """The verdict of one client's audit from its findings."""
    targets = result.targets
    problems: list[Issue] = []
    warnings: list[Issue] = []
    for target in targets:
        bad, warn = _issues(target)
        problems.extend(bad)
        warnings.extend(warn)
    status = result.status
    checks = sum(len(t.checks) for t in targets)
    sampled = sum(t.restore.sampled for t in targets if t.restore)
    verified = sum(t.restore.verified for t in targets if t.restore)
    unproven = sum(t.restore.unproven for t in targets if t.restore)
    parts = [f"{checks} checks on {len(targets)} backup set{'s' if len(targets) != 1 else ''}"]
    if sampled:
        proven = f"{verified} of {sampled} sampled files restored and proven byte for byte"
        if unproven:
            proven += f" ({unproven} more restored with no recorded digest to compare)"
        parts.append(proven)
    if rto := _rto_summary(targets):
        parts.append(rto)
    summary = "; ".join(parts) + "."
    n = len(problems)
    if status is Status.PASS:
        headline = "Backups verified: immutable, encrypted, restorable within RTO"
    elif status is Status.WARN:
        headline = (f"Backups verified, with {len(warnings)} warning"
                    f"{'s' if len(warnings) != 1 else ''} to review")
    elif status is Status.FAIL:
        headline = f"ATTENTION: {n} problem{'s' if n != 1 else ''}"
    else:
        headline = (f"INCOMPLETE: {n} item{'s' if n != 1 else ''} could not be checked")
    notes = []
    if drill_age_seconds is not None and drill_age_seconds > STALE_DRILL_SECONDS:
        notes.append(f"The restore figures come from a drill {age_words(drill_age_seconds)} "
                     "old; run the audit with --run-drill for current figures.")
    return Verdict(status=status, headline=headline, summary=summary,
                   problems=tuple(problems), warnings=tuple(warnings), notes=tuple(notes),
                   pillars=tuple(_pillar(spec, targets) for spec in PILLARS))
