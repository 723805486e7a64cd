"""The history's shape: the runs, files and findings schemas, the ``client`` partition.

Readers see ``client`` as a column; on disk it is only the ``client=NAME`` directory name (a
Hive partition), so the files themselves hold the schema without it (:func:`file_schema`).
"""

from __future__ import annotations

from urllib.parse import quote

import pyarrow as pa
import pyarrow.dataset as ds

from backupcheck.errors import HistoryError

#: the partition column; in the directory name, not inside the files
PARTITION = "client"
TIMESTAMP = pa.timestamp("us", tz="UTC")

#: one row per target per drill, as readers see it (``client`` comes from the directory)
RUNS_SCHEMA = pa.schema([
    ("run_id", pa.string()),
    ("started_at", TIMESTAMP),
    (PARTITION, pa.string()),
    ("target", pa.string()),
    ("kind", pa.string()),
    ("status", pa.string()),
    ("plan", pa.string()),
    ("seed", pa.int64()),
    ("snapshot", pa.string()),
    ("sampled", pa.int64()),
    ("verified", pa.int64()),
    ("mismatched", pa.int64()),
    ("unreadable", pa.int64()),
    ("unproven", pa.int64()),
    ("retries", pa.int64()),
    ("bytes", pa.int64()),
    ("seconds", pa.float64()),
    ("ttfb_seconds", pa.float64()),
    ("throughput_bytes_per_s", pa.float64()),
    ("total_bytes", pa.int64()),
    ("total_files", pa.int64()),
    ("estimated_full_restore_seconds", pa.float64()),
    #: the estimate's interval (null in rows written before it existed: the point is both)
    ("estimate_low_seconds", pa.float64()),
    ("estimate_high_seconds", pa.float64()),
    ("rto_seconds", pa.float64()),
    ("coverage", pa.float64()),
    ("estimate_method", pa.string()),
    ("estimate_a_seconds", pa.float64()),
    ("estimate_b_seconds_per_byte", pa.float64()),
    #: the whole ``estimate_method`` mapping (method, inputs, formula) as JSON
    ("estimate_inputs", pa.string()),
    ("tool_version", pa.string()),
    #: the manifest used ("" none), its problem ("" | wrong | unavailable) and its words
    ("manifest", pa.string()),
    ("manifest_problem", pa.string()),
    ("manifest_detail", pa.string()),
    #: manifest files absent from the backup; S3 objects whose listed size is not the row's
    ("missing", pa.int64()),
    ("size_differs", pa.int64()),
    #: ``read_data_subset = "rotate/N"``: the slice ``restic check`` read (null: none)
    ("read_data_slice", pa.int64()),
    ("read_data_slices", pa.int64()),
    #: ``I/N`` when the drill was shard I of N (``--shard``), else ""
    ("shard", pa.string()),
])

#: one row per sampled file per drill; ``result`` is a :class:`backupcheck.model.FileOutcome`
#: value (ok | digest | size | missing | unreadable | unproven). Coverage counts a file whose
#: result is ``ok`` while its path, size, ``mtime_ns`` and ``version_id`` are unchanged; rows
#: written before those columns existed (both null) prove nothing about today's content
FILES_SCHEMA = pa.schema([
    ("run_id", pa.string()),
    ("started_at", TIMESTAMP),
    (PARTITION, pa.string()),
    ("target", pa.string()),
    ("path", pa.string()),
    ("size", pa.int64()),
    ("xxh3_128", pa.string()),
    ("result", pa.string()),
    ("bytes", pa.int64()),
    ("seconds", pa.float64()),
    ("ttfb_seconds", pa.float64()),
    ("mtime_ns", pa.int64()),
    ("version_id", pa.string()),
    ("truth", pa.string()),
    ("note", pa.string()),
    #: what the file should have hashed to (from ``truth``): kept so that a pack built from
    #: the history shows both digests of a mismatch (null: no ground truth, or older rows)
    ("expected_xxh3_128", pa.string()),
])

#: one row per check per target per drill (SPEC): what each check said, so that an audit
#: pack tells when a finding was first seen, last seen and resolved. Findings of the client
#: itself (``config``) have the target :data:`CLIENT_TARGET`
FINDINGS_SCHEMA = pa.schema([
    ("run_id", pa.string()),
    ("started_at", TIMESTAMP),
    (PARTITION, pa.string()),
    ("target", pa.string()),
    ("kind", pa.string()),
    ("check", pa.string()),
    ("status", pa.string()),
    ("message", pa.string()),
])
CLIENT_TARGET = "(client)"

#: the directory of each dataset under the history root, and what makes one of its rows
#: unique: a run records each target (and each file of it) once
KEYS = {"runs": ("run_id", PARTITION, "target"),
        "files": ("run_id", PARTITION, "target", "path"),
        "findings": ("run_id", PARTITION, "target", "check")}
#: each dataset's schema, by its directory name
SCHEMAS = {"runs": RUNS_SCHEMA, "files": FILES_SCHEMA, "findings": FINDINGS_SCHEMA}

PARTITIONING = ds.partitioning(pa.schema([(PARTITION, pa.string())]), flavor="hive")


def file_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` as stored inside a file: without the partition column."""
    return schema.remove(schema.get_field_index(PARTITION))


def partition_dir(client: str) -> str:
    """``client=NAME``, the name percent-encoded (pyarrow decodes it; config names are safe)."""
    if not client:
        raise HistoryError("history: empty client name")
    return f"{PARTITION}={quote(client, safe='')}"
