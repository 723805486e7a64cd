"""Completeness: the whole manifest held against the backup's listing, both ways (no restore).

Every manifest file absent from the backup is a ``missing`` problem. A file only in the backup
is newer than the manifest: unproven, counted. A manifest that matches none of the backup's
files, or holds no row at all, is the wrong manifest (another client's, another backup's) or
a backup of the wrong data. For restic a row whose size or mtime differ from the snapshot's
file is a file that changed after the manifest (counted, judged as unproven when sampled); for
S3 every row is judged, so an object whose listed size is not the manifest's is a ``size``
problem without reading a byte. A file whose name the listing cannot give faithfully (restic
``ls --json``: U+FFFD for bytes that are not UTF-8) may be the manifest row it seems to lack:
such a row is not counted missing.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

from backupcheck.backends.base import Catalog
from backupcheck.manifest.schema import KIND_FILE
from backupcheck.model import ManifestCheck, Problem
from backupcheck.restore.truth import REPLACEMENT, GroundTruth, row_describes, unfaithful

#: paths of each kind named in the evidence
EXAMPLES = 5
#: listing problems (missing files, sizes) carried in the report's ``problems``; the evidence
#: counts them all
MAX_LISTED_PROBLEMS = 100


def _examples(paths: Iterable[str]) -> list[str]:
    return sorted(paths)[:EXAMPLES]


def _approximations(catalog_paths: Iterable[str]) -> re.Pattern[str] | None:
    """One pattern matching every real name an unfaithful catalog path may stand for."""
    parts = []
    for path in catalog_paths:
        if unfaithful(path):
            # one U+FFFD per undecodable byte; a manifest writer may have decoded 1-4 of
            # them into one character (Latin-1, CP1252) or kept them as escapes
            parts.append("".join(".{1,4}" if c == REPLACEMENT else re.escape(c) for c in path))
    return re.compile("|".join(f"(?:{p})" for p in parts)) if parts else None


def check_manifest(truth: GroundTruth, catalog: Catalog, sampled: Collection[str] = ()
                   ) -> tuple[ManifestCheck, list[Problem]]:
    """The manifest check of one target, and the problems it found (missing files, sizes).
    Files in ``sampled`` are judged by their restore, so their listed size is left to it."""
    if not truth.configured:
        return ManifestCheck(), []
    manifest = truth.manifest
    if manifest is None:
        return ManifestCheck(location=truth.location, problem="unavailable",
                             detail=truth.problem, evidence=truth.evidence()), []
    files = {entry.path: entry for entry in catalog.entries}
    links = catalog.links
    missing: list[str] = []
    size_differs: list[Problem] = []
    rows = file_rows = matched = changed = links_not_judged = 0
    for path, row in manifest.entries():
        rows += 1
        if row.kind == KIND_FILE:
            file_rows += 1
            entry = files.get(path)
            if entry is None:
                missing.append(path)
                continue
            matched += 1
            if truth.rows_need_match:
                changed += not row_describes(row, entry)
            elif row.size != entry.size and path not in sampled:
                size_differs.append(Problem(path, "size", str(row.size),
                                            f"{entry.size} bytes listed (not restored)"))
        elif links is None:
            links_not_judged += 1  # the storage keeps no symlinks (S3)
        elif path in links:
            matched += 1
        else:
            missing.append(path)
    approximate = _approximations(files) if missing else None
    by_name = [p for p in missing if approximate and approximate.fullmatch(p)]
    if by_name:
        missing = [p for p in missing if p not in set(by_name)]
    newer = [p for p in files if p not in manifest]
    evidence = {
        **truth.evidence(), "manifest_rows": rows, "manifest_files": file_rows,
        "manifest_symlinks": rows - file_rows, "backup_files": len(files), "matched": matched,
        "missing_examples": _examples(missing), "not_in_manifest": len(newer),
        "not_in_manifest_examples": _examples(newer),
        "manifest_examples": _examples(manifest), "backup_examples": _examples(files)}
    if truth.rows_need_match:
        evidence["changed_since_manifest"] = changed
    else:
        evidence["size_differs_examples"] = _examples(p.path for p in size_differs)
    if links_not_judged:
        evidence["symlinks_not_judged"] = links_not_judged
    if by_name:
        evidence["missing_unproven_name"] = len(by_name)
        evidence["missing_unproven_name_examples"] = _examples(by_name)
    check = ManifestCheck(location=truth.location, missing=len(missing),
                          size_differs=len(size_differs), evidence=evidence)
    if rows == 0 or (matched == 0 and files):
        return _wrong(check, rows, len(files), _examples(manifest), _examples(files)), []
    problems = [Problem(p, "missing", "listed in the manifest", "absent from the backup")
                for p in sorted(missing)[:MAX_LISTED_PROBLEMS]]
    problems += size_differs[:MAX_LISTED_PROBLEMS]
    return check, problems


def _wrong(check: ManifestCheck, rows: int, backup_files: int, manifest_examples: list[str],
           backup_examples: list[str]) -> ManifestCheck:
    ours, theirs = ", ".join(manifest_examples) or "none", ", ".join(backup_examples) or "none"
    what = "is empty" if rows == 0 else f"matches none of the backup's {backup_files} files"
    counted = f"{rows} row" + ("" if rows == 1 else "s")
    detail = (f"wrong manifest? {check.location} ({counted}) {what}: another client's or "
              f"another backup's manifest, or a backup of the wrong data (manifest paths: "
              f"{ours}; backup paths: {theirs})")
    return ManifestCheck(location=check.location, problem="wrong", detail=detail,
                         missing=check.missing, size_differs=check.size_differs,
                         evidence=check.evidence)
