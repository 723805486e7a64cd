"""The SPEC JSON document (``backupcheck.report/1``)."""

from __future__ import annotations

import json
from typing import Any

from backupcheck.model import RunReport


def _default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def dumps(document: Any) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, default=_default)


def render_json(report: RunReport) -> str:
    return dumps(report.to_json())
