"""The SPEC JSON document (``backupcheck.report/1``)."""

from __future__ import annotations

import json
import re
from typing import Any

from backupcheck.model import RunReport

#: characters ``json.dumps(ensure_ascii=False)`` leaves raw that a terminal may act on (C1
#: controls such as the 8-bit CSI, bidi overrides) or that end a line in JavaScript; json
#: escapes C0 itself. They can only occur inside JSON strings, so escaping them keeps the
#: document equal and makes ``cat report.json`` on a terminal harmless.
_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def dumps(document: Any) -> str:
    text = json.dumps(document, indent=2, ensure_ascii=False, default=_default)
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def render_json(report: RunReport) -> str:
    return dumps(report.to_json())
