"""Tree blobs: the directories of a snapshot, with names as the bytes restic stored.

A tree is JSON ``{"nodes": [...]}``. restic writes each node's ``name`` through Go's
``strconv.Quote`` (minus the quotes) before JSON-encoding it (``internal/restic/node.go``), so a
byte that is not UTF-8 survives as ``\\xHH``. :func:`go_unquote` undoes that into the exact
bytes; ``restic ls --json`` instead prints U+FFFD, which is why names are read here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from backupcheck.backends.restic_output import parse_time

_SIMPLE = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92, '"': 34,
           "'": 39}


class TreeError(ValueError):
    """A tree blob that is not what the format says."""


def go_unquote(text: str) -> bytes:
    """The bytes of a Go-quoted string body (``strconv.Unquote`` without the quotes)."""
    if "\\" not in text:
        return text.encode("utf-8", "surrogatepass")
    out = bytearray()
    i, end = 0, len(text)
    while i < end:
        char = text[i]
        if char != "\\":
            out += char.encode("utf-8", "surrogatepass")
            i += 1
            continue
        if i + 1 >= end:
            raise TreeError(f"dangling backslash in name {text!r}")
        code = text[i + 1]
        if code in _SIMPLE:
            out.append(_SIMPLE[code])
            i += 2
        elif code == "x":
            out.append(int(_digits(text, i + 2, 2, 16), 16))
            i += 4
        elif code in "uU":
            width = 4 if code == "u" else 8
            out += chr(int(_digits(text, i + 2, width, 16), 16)).encode("utf-8", "surrogatepass")
            i += 2 + width
        elif code in "01234567":
            value = int(_digits(text, i + 1, 3, 8), 8)
            if value > 255:
                raise TreeError(f"octal escape out of range in name {text!r}")
            out.append(value)
            i += 4
        else:
            raise TreeError(f"unknown escape \\{code} in name {text!r}")
    return bytes(out)


def _digits(text: str, start: int, width: int, base: int) -> str:
    digits = text[start:start + width]
    allowed = "0123456789abcdefABCDEF" if base == 16 else "01234567"
    if len(digits) != width or any(c not in allowed for c in digits):
        raise TreeError(f"bad escape in name {text!r}")
    return digits


@dataclass(frozen=True)
class TreeNode:
    """One entry of a directory: name as bytes, and what restoring it needs."""

    name: bytes
    type: str            #: file, dir, symlink, dev, chardev, fifo, socket
    size: int
    mtime: datetime | None
    content: tuple[str, ...] = ()   #: data blob ids of a file, in order
    subtree: str | None = None      #: tree blob id of a directory
    inode: int = 0                  #: 0 when restic recorded none
    device_id: int = 0              #: ``st_dev`` of the file (with inode: one hard-link group)
    links: int = 0                  #: hard links; 0 when restic recorded none


def _node(doc: Any) -> TreeNode:
    if not isinstance(doc, dict) or not isinstance(doc.get("name"), str):
        raise TreeError("node without a name")
    kind = doc.get("type")
    if not isinstance(kind, str):
        raise TreeError(f"node {doc['name']!r} without a type")
    content = doc.get("content") or []
    if not isinstance(content, list) or not all(isinstance(c, str) for c in content):
        raise TreeError(f"node {doc['name']!r}: content is not a list of ids")
    subtree = doc.get("subtree")
    if kind == "dir" and not isinstance(subtree, str):
        raise TreeError(f"directory {doc['name']!r} without a subtree")
    mtime = None
    if isinstance(doc.get("mtime"), str):
        try:
            mtime = parse_time(doc["mtime"])
        except ValueError:
            mtime = None
    size, inode, device_id, links = (_count(doc, field)
                                     for field in ("size", "inode", "device_id", "links"))
    name = go_unquote(doc["name"])
    if not name or b"/" in name or name in (b".", b".."):
        raise TreeError(f"unsafe name {doc['name']!r}")
    return TreeNode(name=name, type=kind, size=size, mtime=mtime, content=tuple(content),
                    subtree=subtree if isinstance(subtree, str) else None, inode=inode,
                    device_id=device_id, links=links)


def _count(doc: dict[str, Any], field: str) -> int:
    """A non-negative integer field of a node (restic omits it when zero)."""
    value = doc.get(field) or 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise TreeError(f"node {doc['name']!r}: {field} is not a non-negative integer")
    return value


def parse_tree(plaintext: bytes) -> list[TreeNode]:
    """The nodes of one decrypted, decompressed tree blob."""
    try:
        doc = json.loads(plaintext)
    except ValueError as exc:
        raise TreeError(f"not JSON: {exc}") from None
    nodes = doc.get("nodes") if isinstance(doc, dict) else None
    if not isinstance(nodes, list):
        raise TreeError("no nodes list")
    return [_node(n) for n in nodes]
