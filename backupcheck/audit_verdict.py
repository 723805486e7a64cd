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

from backupcheck.checks.registry import BY_ID, CHECKS
from backupcheck.checks.registry import Pillar as PillarKey
from backupcheck.model import ClientResult, Finding, Status, TargetResult, exit_code_for, worst
from backupcheck.restore.standing import Standing, restore_standing
from backupcheck.units import format_duration


@dataclass(frozen=True)
class PillarSpec:
    key: PillarKey
    title: str
    #: shown under the title when everything in the pillar passed
    when_ok: str

    @property
    def check_ids(self) -> frozenset[str]:
        """The registry's checks of this pillar."""
        return frozenset(c.id for c in CHECKS if c.pillar == self.key)


PILLARS: tuple[PillarSpec, ...] = (
    PillarSpec("fresh", "Up to date", "newest backups within the RPO"),
    PillarSpec("immutable", "Immutable", "backups cannot be changed or deleted"),
    PillarSpec("encrypted", "Encrypted & private", "encrypted at rest, no public or extra access"),
    PillarSpec("restorable", "Restorable", "sampled files came back byte for byte"),
    PillarSpec("rto", "Within RTO", "full restore estimated within the RTO"),
)

#: the one word on each pillar, never colour alone
ANSWER = {Status.PASS: "YES", Status.WARN: "CHECK", Status.FAIL: "NO", Status.ERROR: "UNKNOWN"}
#: restore figures older than this are no evidence (``audit --max-drill-age``, SPEC: 8d)
STALE_DRILL_SECONDS = 8 * 86400.0


def no_recent_drill(max_age_seconds: float) -> str:
    """The banner's and the findings' words when the newest drill is too old to count."""
    return f"no drill within {format_duration(max_age_seconds, 'words')}"


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
    """What ``check_id`` proves, in plain words (the id itself when unregistered)."""
    found = BY_ID.get(check_id)
    return found.plain if found else check_id


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
    found = BY_ID.get(check.id)
    if check.status is Status.WARN and found is not None and found.warned:
        return found.warned_hint or check.hint
    return check.hint


def _issue(target: str, check: Finding) -> Issue:
    found = BY_ID.get(check.id)
    title = found.failed if found else check.id
    if check.status is Status.ERROR:
        title = f"Could not verify: {plain(check.id)}"
    elif check.status is Status.WARN and found is not None and found.warned:
        title = found.warned
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
    status = worst(c.status for _, c in judged)  # an accepted risk (muted) counts as pass
    names = {t.target for t, _ in judged}
    bad = {t.target for t, c in judged if c.status is status}
    if status is Status.PASS:
        detail = f"{spec.when_ok} ({len(names)} of {len(names)} backup sets)"
        accepted = sum(1 for _, c in judged if c.status is Status.MUTED)
        if accepted:
            detail += f"; {accepted} accepted risk{'s' if accepted != 1 else ''} (muted)"
    else:
        word = {Status.WARN: "a warning on", Status.FAIL: "failed on",
                Status.ERROR: "not checked on"}[status]
        detail = f"{word} {len(bad)} of {len(names)} backup sets"
    return Pillar(spec.key, spec.title, status, ANSWER[status], detail)


def _rto_summary(targets: Sequence[TargetResult]) -> str:
    restores = [t.restore for t in targets if t.restore is not None and t.restore.estimate_method]
    if not restores:
        return ""
    # the worst as restore.rto judges it (over, at risk, within), then the slowest high end
    slowest = max(restores, key=lambda r: ((restore_standing(r) or Standing.WITHIN).rank,
                                           r.estimate_high_seconds,
                                           r.estimated_full_restore_seconds))
    standing = restore_standing(slowest)
    said = {Standing.OVER: ": over it", Standing.AT_RISK: ": at risk"}.get(
        standing or Standing.WITHIN, "")
    return (f"the slowest full restore is estimated at "
            f"{format_duration(slowest.estimated_full_restore_seconds, 'prose')} "
            f"({format_duration(slowest.estimate_low_seconds, 'prose')}–"
            f"{format_duration(slowest.estimate_high_seconds, 'prose')}) against an "
            f"agreed RTO of {format_duration(slowest.rto_seconds, 'prose')}{said}")


def judge(result: ClientResult, drill_age_seconds: float | None,
          max_drill_age_seconds: float = STALE_DRILL_SECONDS) -> Verdict:
    """The verdict of one client's audit from its findings; restore figures older than
    ``max_drill_age_seconds`` were judged ``error`` before, and the headline says so."""
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
    stale = drill_age_seconds is not None and drill_age_seconds > max_drill_age_seconds
    if stale and status in (Status.FAIL, Status.ERROR):  # never a pass on stale figures
        headline = (f"INCOMPLETE: {no_recent_drill(max_drill_age_seconds)}"
                    if status is Status.ERROR else
                    f"{headline}; {no_recent_drill(max_drill_age_seconds)}")
    notes = [f"Accepted risk on {t.target}: {plain(c.id)} ({c.id}, found {c.muted.status}) is "
             f"muted until {c.muted.until}: {c.muted.reason}"
             for t in targets for c in t.checks if c.muted is not None]
    if stale and drill_age_seconds is not None:
        age = format_duration(drill_age_seconds, "words")
        notes.append(f"The newest drill in the history is {age} old, more than the "
                     f"{format_duration(max_drill_age_seconds, 'words')} allowed "
                     "(--max-drill-age): its restore figures are not evidence. Run the audit "
                     "with --run-drill for current figures.")
    return Verdict(status=status, headline=headline, summary=summary,
                   problems=tuple(problems), warnings=tuple(warnings), notes=tuple(notes),
                   pillars=tuple(_pillar(spec, targets) for spec in PILLARS))
