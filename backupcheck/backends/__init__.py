"""Storage backends, one module per kind behind the :class:`~backupcheck.backends.base.Backend`
protocol. They fetch facts and stream bytes; they never judge. The one explicit list of kinds
(backend + checks) is :mod:`backupcheck.kinds`."""
