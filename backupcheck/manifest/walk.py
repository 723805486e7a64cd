"""The directory walk of a build: every regular file and symlink under a root, in path order.

It never follows a symlink, records what it cannot list as unreadable instead of failing, and
counts special files (FIFOs, sockets, devices) without yielding them.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from backupcheck.errors import UsageError

_FILE, _LINK, _DIR = 0, 1, 2


def os_error_reason(exc: OSError) -> str:
    """Why an entry is unreadable, in the words of a manifest's ``unreadable`` list."""
    if exc.errno == errno.ENOENT:
        return "vanished before it could be read"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.ELOOP:
        return "replaced by a symlink while the tree was walked"
    return exc.strerror or str(exc)


class Walk:
    """Iterative walk that never follows symlinks, yielding ``(relative path, is_symlink)``.

    Entries are sorted per directory with directories keyed ``name/``, which makes the
    whole sequence sorted by path (code point order, as Parquet/Arrow compare UTF-8).
    """

    def __init__(self, root: str, skip: Iterable[str]) -> None:
        self.root = root
        self.skip = set(skip)
        self.unreadable: list[tuple[str, str]] = []
        self.special = 0

    def also_skip(self, rels: Iterable[str]) -> None:
        """Leave out more relative paths from here on (a file created during the walk)."""
        self.skip.update(rels)

    def __iter__(self) -> Iterator[tuple[str, bool]]:
        stack = [("", iter(self._list(self.root, "")))]
        while stack:
            prefix, entries = stack[-1]
            for key, kind in entries:
                if kind == _DIR:
                    sub = prefix + key
                    stack.append((sub, iter(self._list(f"{self.root}/{sub[:-1]}", sub))))
                    break
                rel = prefix + key
                if rel not in self.skip:
                    yield rel, kind == _LINK
            else:
                stack.pop()

    def _list(self, directory: str, rel: str) -> list[tuple[str, int]]:
        found: list[tuple[str, int]] = []
        try:
            with os.scandir(directory) as it:
                for entry in it:
                    name = entry.name
                    if not name.isascii() and not _is_utf8(name):
                        raw = os.fsencode(rel + name).decode("utf-8", "backslashreplace")
                        self.unreadable.append((raw, "name is not valid UTF-8; not recorded"))
                        continue
                    try:
                        if entry.is_symlink():
                            found.append((name, _LINK))
                        elif entry.is_dir(follow_symlinks=False):
                            found.append((name + "/", _DIR))
                        elif entry.is_file(follow_symlinks=False):
                            found.append((name, _FILE))
                        else:
                            self.special += 1
                    except OSError as exc:
                        self.unreadable.append((rel + name, os_error_reason(exc)))
        except OSError as exc:
            if not rel:
                raise UsageError(f"{self.root}: cannot read directory: "
                                 f"{os_error_reason(exc)}") from exc
            self.unreadable.append((rel, os_error_reason(exc)))
        found.sort()
        return found


def _is_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes arrive as lone surrogates
        return False
    return True


def paths_inside(root: str, paths: Iterable[Path]) -> frozenset[str]:
    """The given paths relative to ``root``, for those inside it (so a build skips its output)."""
    inside = set()
    for path in paths:
        real = os.path.join(os.path.realpath(path.parent), path.name)
        rel = os.path.relpath(real, root)
        if not rel.startswith(".."):
            inside.add(rel.replace(os.sep, "/"))
    return frozenset(inside)
