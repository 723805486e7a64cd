"""Deterministic demo data: seeded file trees that look like what MSPs back up.

Two shapes: an office file share (hundreds of small documents, a few large archives) and a
Veeam backup chain (one large full per week plus daily incrementals of a little over
1 MiB). The same seed always gives the same names, sizes, modification times and bytes,
so every demo estate is the same estate.
"""

from __future__ import annotations

import os
import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import xxhash

KiB = 1024
MiB = 1024 * KiB

_DEPARTMENTS = {
    "Finance": ("Invoices", "Budget", "Payroll", "Audit"),
    "HR": ("Contracts", "Policies", "Reviews"),
    "Sales": ("Quotes", "Customers", "Forecasts"),
    "Projects": ("Alpha", "Beacon", "Cobalt", "Delta"),
    "IT": ("Runbooks", "Configs", "Licenses"),
    "Legal": ("NDAs", "Filings"),
}
_SMALL_KINDS = (".docx", ".xlsx", ".pdf", ".csv", ".txt", ".pptx", ".png", ".json")
_STEMS = ("report", "notes", "summary", "draft", "minutes", "plan", "export", "scan",
          "letter", "sheet", "statement", "checklist")
_LARGE = (("Archive/Mail", "mailbox-{n:02d}.pst"), ("Marketing/Video", "launch-{n:02d}.mp4"),
          ("IT/Images", "laptop-image-{n:02d}.zip"), ("Archive/Scans", "scans-{n:02d}.tar"))


@dataclass(frozen=True)
class FileSpec:
    """One generated file: where, how big, when last changed, and the seed of its bytes."""

    path: str  # relative, ``/``-separated
    size: int
    mtime: datetime
    seed: int


def _file_seed(namespace: str, path: str) -> int:
    return int(xxhash.xxh3_64_intdigest(f"{namespace}\0{path}".encode()))


def office_share(namespace: str, *, small: int, large: int, newest: datetime,
                 span: timedelta = timedelta(days=120),
                 large_range: tuple[int, int] = (1 * MiB, 8 * MiB)) -> list[FileSpec]:
    """A departmental file share: ``small`` files of 1–64 KiB, ``large`` of ``large_range``.

    Modification times spread over ``span`` before ``newest``; the newest file is a small
    document changed exactly at ``newest`` (so a drill that always includes the most
    recently changed file restores a small one).
    """
    rng = random.Random(_file_seed(namespace, ""))
    specs: dict[str, FileSpec] = {}
    departments = sorted(_DEPARTMENTS)
    while len(specs) < small:
        department = rng.choice(departments)
        folder = rng.choice(_DEPARTMENTS[department])
        year = rng.choice((2024, 2025, 2026))
        name = f"{rng.choice(_STEMS)}-{rng.randrange(1, 999):03d}{rng.choice(_SMALL_KINDS)}"
        path = f"{department}/{folder}/{year}/{name}"
        if path in specs:
            continue
        age = timedelta(seconds=rng.uniform(3600, span.total_seconds()))
        specs[path] = FileSpec(path, rng.randint(1 * KiB, 64 * KiB), newest - age,
                               _file_seed(namespace, path))
    for n in range(large):
        folder, pattern = _LARGE[n % len(_LARGE)]
        path = f"{folder}/{pattern.format(n=n + 1)}"
        age = timedelta(seconds=rng.uniform(86400, span.total_seconds()))
        specs[path] = FileSpec(path, rng.randint(*large_range), newest - age,
                               _file_seed(namespace, path))
    ordered = sorted(specs.values(), key=lambda s: s.path)
    latest = rng.choice([s for s in ordered if s.size <= 64 * KiB])
    return [FileSpec(s.path, s.size, newest, s.seed) if s is latest else s for s in ordered]


def veeam_chain(namespace: str, job: str, *, weeks: int, newest: datetime,
                full_size: int, incremental_range: tuple[int, int]) -> list[FileSpec]:
    """A forever-forward Veeam chain: a full (``.vbk``) each week, six incrementals (``.vib``)."""
    rng = random.Random(_file_seed(namespace, job))
    specs: list[FileSpec] = []
    first = newest - timedelta(days=7 * weeks - 1)
    for day in range(7 * weeks):
        moment = first + timedelta(days=day)
        full = day % 7 == 0
        extension = "vbk" if full else "vib"
        path = f"{job}/{job.replace(' ', '')}{moment:%Y-%m-%dT%H%M%S}.{extension}"
        size = full_size if full else rng.randint(*incremental_range)
        specs.append(FileSpec(path, size, moment, _file_seed(namespace, path)))
    return specs


def file_bytes(spec: FileSpec) -> bytes:
    return random.Random(spec.seed).randbytes(spec.size)


def write_tree(root: Path, specs: Sequence[FileSpec],
               stop: threading.Event | None = None) -> None:
    """Write ``specs`` under ``root`` and give each file its modification time.

    Returns early, without error, once ``stop`` is set: the caller is being interrupted.
    """
    for spec in specs:
        if stop is not None and stop.is_set():
            return
        write_file(root, spec)


def write_file(root: Path, spec: FileSpec) -> Path:
    path = root / spec.path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(file_bytes(spec))
    stamp = spec.mtime.timestamp()
    os.utime(path, (stamp, stamp))
    return path


def total_bytes(specs: Sequence[FileSpec]) -> int:
    return sum(s.size for s in specs)
