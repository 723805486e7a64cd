"""backupcheck: prove that backups are present, fresh, encrypted, immutable and restorable."""

__version__ = "0.1.0"
