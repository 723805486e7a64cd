"""``backupcheck audit verify DIR``: is this evidence pack the one that was made?

Every file ``SHA256SUMS`` lists is hashed again and compared; ``SHA256SUMS.sig`` (when there)
must be a valid SSH signature of ``SHA256SUMS`` in the namespace ``backupcheck``; with an
``allowed_signers`` file its key must be one of those listed. The result names every file
that changed, is missing, or is not covered by the sums. It never prints or exits.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from backupcheck.audit.pack import SIG_NAME, SUMS_NAME
from backupcheck.audit.sshsig import SignatureError, allowed_signers, fingerprint, verify
from backupcheck.errors import UsageError

_LINE = re.compile(r"^([0-9a-fA-F]{64}) [ *](.+)$")


@dataclass(frozen=True)
class PackVerdict:
    """What ``audit verify`` found in one pack directory."""

    directory: Path
    checked: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    #: files in the directory that the sums do not cover (not evidence, not a failure)
    uncovered: tuple[str, ...] = ()
    #: "valid" | "absent" | "invalid" | "not allowed"
    signature: str = "absent"
    signer_fingerprint: str = ""
    principals: tuple[str, ...] = ()
    problems: tuple[str, ...] = field(default=())

    @property
    def exit_code(self) -> int:
        return 1 if self.problems else 0

    def lines(self) -> list[str]:
        """What the command shows (names come from the pack: show them safely)."""
        out = [f"{'✔' if name not in self.changed else '✖'} {name}"
               for name in self.checked if name not in self.missing]
        out += [f"✖ {name}: missing" for name in self.missing]
        out += [f"✖ {problem}" for problem in self.problems
                if not problem.startswith(("changed:", "missing:"))]
        if self.signature == "valid":
            who = ", ".join(self.principals) or "a key not checked against allowed signers"
            out.append(f"✔ {SIG_NAME}: good signature by {who} ({self.signer_fingerprint})")
        out += [f"  note: {name} is not covered by {SUMS_NAME}" for name in self.uncovered]
        out.append("pack verified" if not self.problems else
                   f"pack NOT verified: {len(self.problems)} problem"
                   f"{'s' if len(self.problems) != 1 else ''}")
        return out


def _sums(directory: Path) -> tuple[bytes, list[tuple[str, str]]]:
    path = directory / SUMS_NAME
    if not directory.is_dir():
        raise UsageError(f"audit verify: {directory} is not a directory")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"audit verify: cannot read {path}: {exc.strerror or exc}") from None
    entries: list[tuple[str, str]] = []
    for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        match = _LINE.match(line)
        if not match:
            raise UsageError(f"audit verify: {path} line {number} is not "
                             "'<sha256>  <name>'")
        entries.append((match.group(1).lower(), match.group(2)))
    return data, entries


def verify_pack(directory: Path, signers_file: Path | None = None) -> PackVerdict:
    """Check the pack in ``directory``; ``signers_file``: an ``allowed_signers`` file whose
    keys may have signed it (then an unsigned pack is a problem too)."""
    data, entries = _sums(directory)
    problems: list[str] = []
    changed: list[str] = []
    missing: list[str] = []
    for digest, name in entries:
        if "/" in name or name in (".", ".."):
            problems.append(f"{SUMS_NAME} names {name!r}, outside the pack")
            continue
        try:
            actual = hashlib.sha256((directory / name).read_bytes()).hexdigest()
        except FileNotFoundError:
            missing.append(name)
            problems.append(f"missing: {name} is listed in {SUMS_NAME} but absent")
            continue
        except OSError as exc:
            problems.append(f"{name}: cannot read: {exc.strerror or exc}")
            continue
        if actual != digest:
            changed.append(name)
            problems.append(f"changed: {name} differs from its digest in {SUMS_NAME}")
    listed = {name for _, name in entries}
    uncovered = tuple(sorted(p.name for p in directory.iterdir() if p.is_file()
                             and p.name not in listed | {SUMS_NAME, SIG_NAME}))
    signature, who, principals = _signature(directory, data, signers_file, problems)
    return PackVerdict(directory, tuple(n for _, n in entries), tuple(changed),
                       tuple(missing), uncovered, signature, who, principals, tuple(problems))


def _signature(directory: Path, sums: bytes, signers_file: Path | None,
               problems: list[str]) -> tuple[str, str, tuple[str, ...]]:
    """(state, signer's fingerprint, principals) of ``SHA256SUMS.sig``; adds to problems."""
    allowed = None
    if signers_file is not None:
        try:
            allowed = allowed_signers(signers_file.read_text("utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"--allowed-signers: cannot read {signers_file}: {exc}") from None
    try:
        armored = (directory / SIG_NAME).read_text("ascii")
    except FileNotFoundError:
        if allowed is not None:
            problems.append(f"{SIG_NAME} is missing: the pack is not signed")
        return "absent", "", ()
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"{SIG_NAME}: cannot read: {exc}")
        return "invalid", "", ()
    try:
        signed = verify(sums, armored)
    except SignatureError as exc:
        problems.append(f"{SIG_NAME}: {exc}")
        return "invalid", "", ()
    if allowed is None:
        return "valid", signed.fingerprint, ()
    if signed.key_blob not in allowed:
        problems.append(f"{SIG_NAME}: signed by {fingerprint(signed.key_blob)}, which is not "
                        f"in {signers_file}")
        return "not allowed", signed.fingerprint, ()
    return "valid", signed.fingerprint, tuple(allowed[signed.key_blob])
