"""Judging a target's restore: ``restore.sample`` and ``restore.rto`` from a RestoreResult.

Every message says what was compared with what, how many, and against which ground truth; a
``warn`` says why each unproven file is unproven (no truth configured, a row older than the
file, a live source that moved on, a name that cannot be read faithfully). The same functions
judge a fresh drill and, in ``audit``, a drill rebuilt from the history.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from backupcheck.checks.registry import finding
from backupcheck.model import FileOutcome, FileResult, Finding, RestoreResult, Status
from backupcheck.restore.standing import Standing, rto_standing
from backupcheck.units import format_duration

#: sampled files named one by one in the evidence (path, result, ground truth, note)
EVIDENCE_FILES = 50
_AGAINST = {"manifest": "against the manifest", "source": "against the unchanged live source",
            "metadata": "against their self-attested x-amz-meta-xxh3-128 metadata"}


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def _against(result: RestoreResult, files: Sequence[FileResult], located: bool) -> str:
    """``12 against the manifest M, 8 against their self-attested … metadata``."""
    counts = Counter(f.truth for f in files if f.truth)
    parts = []
    for source in ("manifest", "metadata", "source"):
        if counts[source]:
            where = result.manifest.location if located and source == "manifest" else ""
            parts.append(f"{counts[source]} {_AGAINST[source]}" + (f" {where}" if where else ""))
    return ", ".join(parts)


def _unproven(result: RestoreResult) -> str:
    """``3 changed after the manifest (…), 1 not in the manifest (…)``."""
    notes = Counter(f.detail or "no ground truth" for f in result.files
                    if f.result is FileOutcome.UNPROVEN)
    return ", ".join(f"{count} {note}" for note, count in notes.most_common())


def _sample(result: RestoreResult, located: bool) -> str:
    """What became of the sampled files that did not fail, and against what."""
    ok = [f for f in result.files if f.result is FileOutcome.OK]
    parts = []
    if ok:
        parts.append(f"{len(ok)} verified byte for byte ({_against(result, ok, located)})")
    if result.unproven:
        parts.append(f"{result.unproven} restored but unproven: {_unproven(result)}")
    return "; ".join(parts)


def _evidence(result: RestoreResult, truth: str, notes: Sequence[str]) -> dict[str, Any]:
    evidence: dict[str, Any] = {
        "seed": result.seed, "snapshot": result.snapshot, "sampled": result.sampled,
        "verified": result.verified, "mismatched": result.mismatched,
        "unreadable": result.unreadable, "unproven": result.unproven,
        "ground_truth": truth, "notes": list(notes),
        "truth_sources": dict(Counter(f.truth for f in result.files if f.truth)),
        "files": [{"path": f.path, "result": str(f.result), "truth": f.truth, "note": f.detail}
                  for f in result.files[:EVIDENCE_FILES]],
        "problems": [p.to_json() for p in result.problems[:20]]}
    if result.manifest.location or result.manifest.problem:
        evidence["manifest"] = result.manifest.to_json()
    return evidence


def _failures(result: RestoreResult) -> list[str]:
    check = result.manifest
    failures = []
    bad = [f for f in result.files if f.result.failed]
    if bad:
        kinds = ", ".join(sorted({str(f.result) for f in bad}))
        against = _against(result, bad, located=True)
        failures.append(f"{len(bad)} of {result.sampled} sampled files did not restore "
                        f"correctly ({kinds}" + (f"; {against})" if against else ")"))
    if check.missing:
        examples = check.evidence.get("missing_examples") or []
        named = f" (e.g. {', '.join(examples)})" if examples else ""
        total = check.evidence.get("manifest_files")
        counted = f"{check.missing} of the manifest's {total} files" if total \
            else _plural(check.missing, "manifest file")
        failures.append(f"{counted} {'is' if check.missing == 1 else 'are'} missing from the "
                        f"backup{named}")
    if check.size_differs:
        more = "more " if bad else ""
        failures.append(f"{check.size_differs} {more}"
                        f"{'object' if check.size_differs == 1 else 'objects'} listed with "
                        "another size than the manifest's (not restored)")
    return failures


def sample_finding(result: RestoreResult, truth: str, notes: Sequence[str]) -> Finding:
    """``restore.sample``: fail on any bad file, missing file or wrong manifest; error when the
    manifest could not be had; warn when some file restored but nothing proved it right."""
    evidence = _evidence(result, truth, notes)
    check = result.manifest
    if check.problem == "wrong":
        return finding("restore.sample", Status.FAIL, check.detail, evidence)
    failures = _failures(result)
    if result.sampled == 0:
        failures.insert(0, "the backup holds no files to restore")
    if check.problem == "unavailable":
        failures.append(check.detail)
    located = not any("against the manifest " in text for text in failures)
    sample = _sample(result, located)
    failed = sum(f.result.failed for f in result.files)
    others = f"the other {result.sampled - failed}" if failed else f"the {result.sampled}"
    tail = f"; {others} sampled files: {sample}" if sample else ""
    if failures and not (check.problem == "unavailable" and len(failures) == 1):
        return finding("restore.sample", Status.FAIL, "; ".join(failures) + tail, evidence)
    if check.problem == "unavailable":
        return finding("restore.sample", Status.ERROR,
                       f"{check.detail} (its files cannot be judged){tail}", evidence)
    listing = ""
    if check.location:
        newer = int(check.evidence.get("not_in_manifest", 0) or 0)
        listing = (f"; all {check.evidence.get('manifest_files', 0)} files of the manifest are "
                   "in the backup" + (f", {newer} more are newer than it" if newer else ""))
    if result.unproven:
        return finding("restore.sample", Status.WARN,
                       f"{result.unproven} of {result.sampled} files restored but unproven: "
                       f"{_unproven(result)}" + (f"; {result.verified} verified byte for byte "
                                                 f"({_against(result, _ok(result), True)})"
                                                 if result.verified else "") + listing,
                       evidence)
    against = _against(result, _ok(result), True)
    return finding("restore.sample", Status.PASS,
                   f"{result.verified} of {result.sampled} sampled files restored byte for "
                   f"byte" + (f" ({against})" if against else "") + listing, evidence)


def _ok(result: RestoreResult) -> list[FileResult]:
    return [f for f in result.files if f.result is FileOutcome.OK]


def rto_finding(result: RestoreResult) -> Finding:
    """``restore.rto``: fail when even the low end of the estimate exceeds the RTO, warn when
    only the high end does (:func:`backupcheck.restore.standing.rto_standing`, which every
    report shows too); a backup with no regular file has nothing to restore."""
    estimate, rto = result.estimated_full_restore_seconds, result.rto_seconds
    low, high = result.estimate_low_seconds, result.estimate_high_seconds
    evidence = {"estimated_full_restore_seconds": round(estimate, 3),
                "estimate_low_seconds": round(low, 3), "estimate_high_seconds": round(high, 3),
                "rto_seconds": rto, **dict(result.estimate_method)}
    if not result.estimate_method:
        return finding("restore.rto", Status.ERROR,
                       "cannot estimate the restore time: no sampled file could be read",
                       evidence)
    if result.total_files == 0:
        return finding("restore.rto", Status.PASS,
                       f"nothing to restore: the backup holds no regular file (estimate 0s "
                       f"from its listing; rto {format_duration(rto)})", evidence)
    text = (f"estimated full restore {format_duration(estimate)} "
            f"({format_duration(low)}-{format_duration(high)}; rto {format_duration(rto)})")
    standing = rto_standing(estimate, low, high, rto)
    if standing is Standing.OVER:
        return finding("restore.rto", Status.FAIL, text, evidence)
    if standing is Standing.AT_RISK:
        return finding("restore.rto", Status.WARN, f"{text}: the upper end exceeds the rto",
                       evidence)
    return finding("restore.rto", Status.PASS, text, evidence)
