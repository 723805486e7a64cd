"""The drill history: three Hive-partitioned Parquet datasets under one directory.

Layout (SPEC "Files it writes")::

    HISTORY/runs/client=NAME/RUN_ID.parquet    one row per target per drill
    HISTORY/files/client=NAME/RUN_ID.parquet   one row per sampled file per drill
    HISTORY/findings/client=NAME/RUN_ID.parquet one row per check per target per drill
    HISTORY/*/client=NAME/compacted-….parquet  many earlier drills merged into one file

``client`` lives in the directory name only, as Hive, Spark and Athena expect of a
partition column; every reader that understands Hive partitioning (pyarrow, DuckDB with
``hive_partitioning=true``, pandas, Spark, Athena) shows it as a column.

The parts: :mod:`.schema` (the datasets' shape and partition names), :mod:`.rows` (rows from
a drill report) and :mod:`.store` (:class:`HistoryStore`: crash-safe appends, compaction,
reads), :mod:`.s3store` (the same store on ``s3://bucket/prefix``, through the history's
own guarded client in :mod:`.s3guard`) and :mod:`.locate` (which of the two a location
names). This package only re-exports them; none of them imports it back.
"""

from backupcheck.history.locate import open_history
from backupcheck.history.rows import (
    findings_from_report,
    manifest_check_from_row,
    rows_from_report,
)
from backupcheck.history.schema import (
    FILES_SCHEMA,
    FINDINGS_SCHEMA,
    PARTITION,
    RUNS_SCHEMA,
    TIMESTAMP,
    partition_dir,
)
from backupcheck.history.store import COMPACT_AFTER, HistoryStore

__all__ = [
    "COMPACT_AFTER",
    "FILES_SCHEMA",
    "FINDINGS_SCHEMA",
    "PARTITION",
    "RUNS_SCHEMA",
    "TIMESTAMP",
    "HistoryStore",
    "findings_from_report",
    "manifest_check_from_row",
    "open_history",
    "partition_dir",
    "rows_from_report",
]
