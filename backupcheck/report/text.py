"""Making untrusted text (object keys, file names, messages) safe to show.

Object keys and file names come from backups an attacker may control: they can hold
newlines, terminal escape sequences or rich markup. Everything shown in a terminal passes
through :func:`safe`, which makes control characters visible and escapes markup.
"""

from __future__ import annotations

import re

from rich.markup import escape

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def visible(text: object) -> str:
    """Control and bidi characters replaced by ``\\xNN`` / ``\\uNNNN`` escapes."""
    def replace(match: re.Match[str]) -> str:
        code = ord(match.group())
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    return _CONTROL.sub(replace, str(text))


def safe(text: object) -> str:
    """Visible and markup-escaped: safe to hand to rich as markup."""
    return escape(visible(text))

