"""The restic adapter: one :class:`Restic` per repository, typed results from the real binary.

Glossary:
  location   the repository string with any URL password masked (safe for messages);
  child      one restic process we started (see ``restic_process.py``): own session, listed in
             its adapter's registry while alive, always killed and reaped;
  timeout    how long a child may run (``dump``/``ls``: stay silent) before it is killed —
             restic hangs forever on a server that accepts TCP and never answers.

Secrets travel only through the child's environment (``RESTIC_REPOSITORY`` and one of
``RESTIC_PASSWORD_FILE`` / ``RESTIC_PASSWORD_COMMAND`` / ``RESTIC_PASSWORD``), never argv, and
are scrubbed from anything restic prints before it becomes a message. Every command runs
with ``--no-lock`` and none of them writes to the repository: ``key list`` ignores
``--no-lock`` in restic 0.14, so keys are read with ``list keys`` + ``cat key`` instead.

Failures that mean "this repository cannot be checked" raise :class:`TargetUnavailable`
with one line (see ``restic_output.classify_failure``); ``dump`` streams raise
:class:`FileMissing` or :class:`FileUnreadable` from a read, never a silent short read.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import shutil
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from backupcheck.backends.restic_dump import DumpStream
from backupcheck.backends.restic_output import (
    SNAPSHOT_ID,
    CheckOutcome,
    KeyInfo,
    Keys,
    Node,
    RawData,
    RepoConfig,
    RestoreSize,
    S3Location,
    Snapshot,
    classify_failure,
    excerpt,
    first_line,
    is_access_failure,
    parse_config,
    parse_key,
    parse_node,
    parse_raw_data,
    parse_restore_size,
    parse_s3_repository,
    parse_snapshot,
    parse_time,
    parse_version,
    redact_repository,
    shorten,
    storage_kind,
    unexpected_output,
    url_password,
)
from backupcheck.backends.restic_process import (
    Child,
    ChildRegistry,
    installed_version,
    meaningful_lines,
)
from backupcheck.errors import TargetUnavailable
from backupcheck.model import ResticTarget

__all__ = [
    "CheckOutcome", "DumpStream", "KeyInfo", "Keys", "Node", "RawData", "RepoConfig",
    "RestoreSize", "Restic", "S3Location", "Snapshot", "classify_failure",
    "installed_version", "parse_s3_repository", "parse_time", "redact_repository",
    "storage_kind",
]

MIN_VERSION = (0, 14, 0)
DEFAULT_TIMEOUT = float(os.environ.get("BACKUPCHECK_RESTIC_TIMEOUT", "120"))
DEFAULT_CHECK_TIMEOUT = float(os.environ.get("BACKUPCHECK_RESTIC_CHECK_TIMEOUT", "14400"))
INSTALL_HINT = ("install it with `apt-get install restic` (Debian/Ubuntu) or from "
                "https://restic.net; backupcheck needs restic 0.14 or newer")
#: how many restic error lines a check summary keeps
ERROR_LINES = 10
#: key files read for details at most (a repository with more keys is a finding anyway)
KEY_DETAILS = 20

T = TypeVar("T")
log = logging.getLogger(__name__)
_PASSWORD_VARS = ("RESTIC_PASSWORD", "RESTIC_PASSWORD_FILE", "RESTIC_PASSWORD_COMMAND")
_SECRET_NAME = re.compile(r"SECRET|TOKEN|PASSWORD|PASSPHRASE|ACCOUNT_KEY|CREDENTIALS?_JSON",
                          re.IGNORECASE)

class Restic:
    """One restic repository, reached through the restic binary. Thread-safe.

    ``timeout`` bounds every metadata command and every pause of a ``dump`` or ``ls``
    stream; ``check_timeout`` bounds ``restic check``. ``close()`` kills every child still
    running.
    """

    def __init__(self, target: ResticTarget, *, binary: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT,
                 check_timeout: float = DEFAULT_CHECK_TIMEOUT,
                 environ: Mapping[str, str] | None = None) -> None:
        self.target = target
        self.location = redact_repository(target.repository)
        self.timeout, self.check_timeout = timeout, check_timeout
        found = binary or shutil.which("restic")
        if not found or not os.access(found, os.X_OK):
            raise TargetUnavailable(f"restic binary not found: {INSTALL_HINT}")
        self.binary = found
        self.password_source, self.env, self.secrets = self._environment(
            os.environ if environ is None else environ)
        self.children = ChildRegistry()
        # a safety net: children still running when the adapter is dropped or the
        # interpreter exits are stopped too (they run in their own session, so no
        # terminal signal reaches them)
        self._finalizer = weakref.finalize(self, self.children.stop_all)
        self._version: tuple[int, int, int] | None = None
        #: set by close(): no new child may start (a worker thread still walking its sample
        #: after Ctrl-C would otherwise start one restic after another)
        self._closed = False

    def _environment(self, base: Mapping[str, str]) -> tuple[str, dict[str, str], list[str]]:
        target = self.target
        env = {k: v for k, v in base.items() if not k.startswith("RESTIC_")}
        if "AWS_PROFILE" in target.env:
            # restic prefers key variables over a profile: a target that names its profile
            # must not be signed with whatever keys the caller's shell happens to export
            for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
                env.pop(name, None)
        env.update(target.env)
        for name in _PASSWORD_VARS:
            env.pop(name, None)
        env["RESTIC_REPOSITORY"] = target.repository
        secrets: list[str] = []
        if target.password_file:
            if not os.path.isfile(target.password_file):
                raise TargetUnavailable(f"password_file {target.password_file} does not exist")
            env["RESTIC_PASSWORD_FILE"] = target.password_file
            source = f"password_file {target.password_file}"
        elif target.password_command:
            env["RESTIC_PASSWORD_COMMAND"] = target.password_command
            source = "password_command"
        elif target.password_env:
            value = base.get(target.password_env)
            if not value:
                raise TargetUnavailable(f"environment variable {target.password_env} "
                                        "(password_env) is not set")
            env["RESTIC_PASSWORD"] = value
            secrets.append(value)
            source = f"password_env {target.password_env}"
        else:
            raise TargetUnavailable(f"no password source configured for {self.location}")
        in_url = url_password(target.repository)
        if in_url:
            secrets.append(in_url)
        secrets += [v for k, v in env.items() if _SECRET_NAME.search(k) and len(v) >= 8]
        # longest first, so a secret containing another is masked whole
        return source, env, sorted({s for s in secrets if len(s) >= 3}, key=len, reverse=True)

    # ------------------------------------------------------------ plumbing

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def _spawn(self, args: Sequence[str], *, timeout: float, idle: bool,
               buffered: bool = False) -> Child:
        argv = [self.binary, "--no-lock", *args]
        if self._closed:
            raise self._closed_error()
        log.debug("%s: running restic %s", self.location, " ".join(args))  # argv holds no secret
        try:
            child = Child(argv, self.env, timeout=timeout, idle=idle, buffered=buffered,
                          registry=self.children)
        except FileNotFoundError:
            raise TargetUnavailable(f"restic binary not found: {INSTALL_HINT}") from None
        except OSError as exc:
            raise TargetUnavailable(f"cannot run restic: {exc.strerror or exc}") from None
        if self._closed:  # close() ran while it started: it may have missed this child
            child.stop()
            raise self._closed_error()
        return child

    def _closed_error(self) -> TargetUnavailable:
        return TargetUnavailable(f"restic for {self.location} was stopped (the run is ending)")

    def _timed_out(self, command: str, timeout: float) -> TargetUnavailable:
        return TargetUnavailable(f"restic {command} got no answer from {self.location} within "
                                 f"{timeout:.0f}s (unreachable or hung); killed")

    def _run(self, args: Sequence[str], *, timeout: float | None = None,
             check_version: bool = True) -> tuple[int, bytes, str]:
        """Run to completion: (exit code, stdout, scrubbed stderr). Raises on a timeout."""
        if check_version:
            self.version()
        limit = self.timeout if timeout is None else timeout
        child = self._spawn(args, timeout=limit, idle=False)
        try:
            stdout = child.read_all()
            code = child.wait()
        finally:
            child.stop()
        if child.timed_out:
            raise self._timed_out(args[0], limit)
        return code, stdout, self.scrub(child.stderr_text())

    def _ok(self, args: Sequence[str], **kwargs: Any) -> bytes:
        code, stdout, stderr = self._run(args, **kwargs)
        if code != 0:
            raise classify_failure(args[0], code, stderr, self.location, self.password_source)
        return stdout

    def _json(self, args: Sequence[str]) -> Any:
        stdout = self._ok(args)
        try:
            return json.loads(stdout)
        except ValueError:
            raise unexpected_output(args[0], self.scrub(stdout.decode("utf-8", "replace")),
                                    "not JSON") from None

    def _parsed(self, args: Sequence[str], parse: Callable[[Any], T]) -> T:
        """``args``' JSON output through ``parse``; anything unexpected is unavailable."""
        doc = self._json(args)
        try:
            return parse(doc)
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            shown = self.scrub(json.dumps(doc)[:200])
            raise unexpected_output(" ".join(args[:2]), shown, str(exc)) from None

    # ------------------------------------------------------------ commands

    def version(self) -> tuple[int, int, int]:
        """restic's version; TargetUnavailable when it is older than 0.14 or unrecognised."""
        if self._version is None:
            stdout = self._ok(["version"], check_version=False)
            text = stdout.decode("utf-8", "replace")
            try:
                found = parse_version(text)
            except ValueError:
                raise unexpected_output("version", text) from None
            if found < MIN_VERSION:
                raise TargetUnavailable(
                    f"restic {'.'.join(map(str, found))} is too old: backupcheck needs "
                    f"{'.'.join(map(str, MIN_VERSION))} or newer ({INSTALL_HINT})")
            self._version = found
        return self._version

    def snapshots(self, host: str | None = None, paths: Sequence[str] = (),
                  tags: Sequence[str] = ()) -> list[Snapshot]:
        """Matching snapshots, oldest first. ``tags`` must all be present on a snapshot."""
        args = ["snapshots", "--json"]
        if host:
            args += ["--host", host]
        for path in paths:
            args += ["--path", path]
        if tags:
            args += ["--tag", ",".join(tags)]
        found = self._parsed(args, _parse_snapshots)
        return sorted(found, key=lambda s: s.time)

    def ls(self, snapshot_id: str) -> Iterator[Node]:
        """Stream the nodes of one snapshot, line by line (nothing is buffered whole)."""
        _check_id(snapshot_id)
        self.version()
        child = self._spawn(["ls", "--json", snapshot_id], timeout=self.timeout, idle=True,
                            buffered=True)
        try:
            for raw in child.lines():
                if not raw.strip():
                    continue
                try:
                    doc = json.loads(raw)
                    kind = doc.get("struct_type") or doc.get("message_type")
                    if kind == "node":
                        node = parse_node(doc)
                    elif kind == "snapshot":
                        continue
                    else:
                        raise ValueError("neither snapshot nor node")
                except (ValueError, TypeError, AttributeError) as exc:
                    child.stop()
                    raise unexpected_output("ls", self.scrub(raw.decode("utf-8", "replace")),
                                            str(exc)) from None
                yield node
            code = child.wait()
            if child.timed_out:
                raise self._timed_out("ls", self.timeout)
            if code != 0:
                raise classify_failure("ls", code, self.scrub(child.stderr_text()),
                                       self.location, self.password_source)
        finally:
            child.stop()

    def stats_restore_size(self, snapshot_id: str) -> RestoreSize:
        _check_id(snapshot_id)
        return self._parsed(["stats", "--json", "--mode", "restore-size", snapshot_id],
                            parse_restore_size)

    def stats_raw_data(self) -> RawData:
        return self._parsed(["stats", "--json", "--mode", "raw-data"], parse_raw_data)

    def keys(self, *, details_above: int = -1) -> Keys:
        """Every key of the repository (``list keys``), with owner details from ``cat key``
        when there are more than ``details_above`` keys (each costs a key derivation).

        ``key list`` is avoided: restic 0.14 ignores ``--no-lock`` for it and writes a lock.
        """
        ids = self._ok(["list", "keys"]).decode("utf-8", "replace").split()
        if not all(SNAPSHOT_ID.match(i) for i in ids):
            raise unexpected_output("list keys", self.scrub(" ".join(ids)))
        infos: list[KeyInfo] = []
        for key_id in ids:
            if len(ids) <= details_above or len(infos) >= KEY_DETAILS:
                infos.append(KeyInfo(key_id[:8]))
            else:
                infos.append(self._parsed(["cat", "key", key_id],
                                          functools.partial(parse_key, key_id)))
        return Keys(tuple(infos))

    def config(self) -> RepoConfig:
        return self._parsed(["cat", "config"], parse_config)

    def check(self, read_data_subset: str = "") -> CheckOutcome:
        """``restic check`` (plus ``--read-data-subset`` when given); errors summarised."""
        args = ["check"]
        if read_data_subset:
            args += ["--read-data-subset", read_data_subset]
        started = time.monotonic()
        code, stdout, stderr = self._run(args, timeout=self.check_timeout)
        seconds = time.monotonic() - started
        lines = [shorten(line) for line in meaningful_lines(stderr)
                 if line != "Fatal: repository contains errors"]
        if code != 0 and is_access_failure(stderr, code):
            raise classify_failure("check", code, stderr, self.location, self.password_source)
        if code != 0 and not lines:
            lines = [line for line in meaningful_lines(self.scrub(stdout.decode(
                "utf-8", "replace"))) if "error" in line.lower()] or [first_line(stderr)]
        return CheckOutcome(ok=code == 0, exit_code=code,
                            errors=tuple(lines[:ERROR_LINES]) if code != 0 else (),
                            error_count=len(lines) if code != 0 else 0,
                            read_data_subset=read_data_subset, seconds=round(seconds, 3))

    def dump(self, snapshot_id: str, path: str) -> DumpStream:
        """A streamed reader of one file of a snapshot (``path`` as ``ls`` gave it)."""
        _check_id(snapshot_id)
        self.version()
        child = self._spawn(["dump", snapshot_id, path], timeout=self.timeout, idle=True)
        return DumpStream(child, snapshot_id, path, self.scrub)

    def close(self) -> None:
        """Kill and reap every child still running; start no new one after this."""
        self._closed = True
        self.children.stop_all()


def _parse_snapshots(doc: Any) -> list[Snapshot]:
    if not isinstance(doc, list):
        raise ValueError("not a list")
    return [parse_snapshot(item) for item in doc]


def _check_id(snapshot_id: str) -> None:
    if not SNAPSHOT_ID.match(snapshot_id):
        raise TargetUnavailable(f"not a restic snapshot id: {excerpt(snapshot_id)!r}")
