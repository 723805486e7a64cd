"""The audit's evidence: the model (``model``), its rebuilding from the history
(``from_history``), the reproduction record (``provenance``), ``report.json`` (``document``)
and the files of the pack (``pack``). The ``audit`` command itself is ``commands.audit``."""
