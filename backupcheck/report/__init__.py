"""Renderers of one result model: rich tables, the SPEC JSON document, and (later) more."""
