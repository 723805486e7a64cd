"""No secret leaves: every command, with debug logging, as the real console script runs.

Distinctive secrets are planted: the restic password (read from a file, printed by a
password command, held in an environment variable), the AWS secret access key and session
token, and the tokens of the notification URLs (``urls_file``) and of the healthcheck URL in
``backupcheck.toml`` beside the targets (one notification is delivered to a loopback receiver,
one fails: a closed port). Every command runs as a subprocess with ``--debug`` and ``--format
json``; none of the secrets may appear in stdout, stderr, any file the command writes (Parquet
read back as values, not only as compressed bytes; the metrics textfile), the argv a restic
child was started with (logged by a wrapper, and sampled from the process table while the
commands run).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pyarrow.parquet as pq
import pytest

from tests.conftest import S3Server, run_cli, write_client
from tests.faultproxy import fake_restic
from tests.loopback_http import Receiver, start_receiver
from tests.restic_helpers import init_local_repo, init_s3_repo, make_tree, target_toml

ROOT = Path(__file__).resolve().parent.parent
RUN = uuid.uuid4().hex[:12]
RESTIC_SECRET = f"restic-pw-{RUN}-do-not-leak"
AWS_SECRET = f"aws-secret-{RUN}-do-not-leak"
AWS_TOKEN = f"aws-session-token-{RUN}-do-not-leak"
NOTIFY_SECRET = f"notify-token-{RUN}-do-not-leak"
DEAD_SECRET = f"dead-notify-token-{RUN}-do-not-leak"
HEALTHCHECK_SECRET = f"hc-{RUN}-do-not-leak"
SECRETS = (RESTIC_SECRET, AWS_SECRET, AWS_TOKEN, NOTIFY_SECRET, DEAD_SECRET, HEALTHCHECK_SECRET)
PASSWORD_ENV = "BC_HARDENING_RESTIC_PW"


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    yield from start_receiver()


@pytest.fixture(scope="module")
def estate(s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory,
           receiver: Receiver) -> dict[str, Any]:
    """An S3 target, a local and an S3 restic repository (one password, three sources), and
    the installation's settings beside the targets: notifications, healthcheck, metrics."""
    root = tmp_path_factory.mktemp("secrets")
    source = make_tree(root / "data", {"a.txt": b"alpha\n", "sub/b.bin": os.urandom(20_000)})
    local = init_local_repo(root / "local", password=RESTIC_SECRET)
    local.backup(source)
    on_s3 = init_s3_repo(s3_server, "hardening-secrets-restic", root / "s3repo",
                         password=RESTIC_SECRET)
    on_s3.backup(source)
    s3 = s3_server.client()
    s3.create_bucket(Bucket="hardening-secrets-s3")
    s3.put_bucket_versioning(Bucket="hardening-secrets-s3",
                             VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket="hardening-secrets-s3", Key="b/x.bin", Body=b"x" * 1000)
    targets = root / "targets"
    write_client(targets, "pwfile", target_toml("pwfile", local, password="file",
                                                extra='reader = "restic"\n'))
    write_client(targets, "pwcommand", target_toml("pwcommand", on_s3, password="command"))
    write_client(targets, "pwenv", target_toml("pwenv", local, password="env",
                                               password_env=PASSWORD_ENV,
                                               extra='reader = "restic"\n'))
    write_client(targets, "bucket", f'''client = "bucket"
rpo = "26h"
rto = "4h"
[[targets]]
name = "bucket"
kind = "s3"
bucket = "hardening-secrets-s3"
endpoint_url = "{s3_server.url}"
''')
    host = receiver.url.removeprefix("http://")
    (root / "notify.urls").write_text(f"json://user:{NOTIFY_SECRET}@{host}/hook/{NOTIFY_SECRET}"
                                      f"?token={NOTIFY_SECRET}\n"
                                      f"json://127.0.0.1:9/dead/{DEAD_SECRET}\n")
    (root / "backupcheck.toml").write_text(f'''[notify]
urls_file = "notify.urls"
on = ["pass", "warn", "fail", "error"]
healthcheck_url = "{receiver.url}/ping/{HEALTHCHECK_SECRET}"
[metrics]
textfile = "out/backupcheck.prom"
''', encoding="utf-8")
    plan = root / "plan.toml"
    plan.write_text('name = "secrets"\nfiles = 3\nmax_bytes = "1GiB"\nread_data_subset = ""'
                    '\njobs = 3\n', encoding="utf-8")
    return {"root": root, "targets": targets, "plan": plan, "source": source,
            "bin": fake_restic(root / "bin")}


class ProcessWatch:
    """Samples the argv of every process carrying the run's marker while commands run."""

    def __init__(self, marker: str) -> None:
        self.marker = marker
        self.argvs: set[tuple[str, ...]] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ProcessWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        seen: set[tuple[int, float]] = set()
        while not self._stop.wait(0.02):
            for process in psutil.process_iter(["name", "create_time"]):
                key = (process.pid, process.info["create_time"])
                # what restic starts: restic itself, the wrapper's sh, a password command
                if key in seen or process.info["name"] not in ("restic", "sh", "cat"):
                    continue
                try:
                    if process.environ().get("BC_HARDENING_MARKER") == self.marker:
                        self.argvs.add(tuple(process.cmdline()))
                        seen.add(key)
                except (psutil.Error, OSError):
                    continue


def _file_text(path: Path) -> str:
    """What a reader of ``path`` sees: Parquet as its values, anything else as text."""
    data = path.read_bytes()
    text = data.decode("utf-8", "replace")
    if path.suffix == ".parquet":
        text += repr(pq.read_table(path).to_pylist())
    return text


def available(*command: str) -> bool:
    return run_cli(*command, "--help").exit_code == 0


@pytest.fixture(scope="module")
def runs(estate: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every command once, as subprocesses, with --debug (and --format json where it has
    one); the argv of every restic child logged and sampled."""
    work = estate["root"] / "out"
    work.mkdir()
    history, targets = work / "history", str(estate["targets"])
    argv_log = work / "restic-argv.log"
    marker = uuid.uuid4().hex
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RESTIC_", "BACKUPCHECK_", "AWS_"))}
    env.update(PATH=f"{estate['bin']}:{env.get('PATH', '/usr/bin:/bin')}",
               PYTHONPATH=str(ROOT), BC_ARGV_LOG=str(argv_log), BC_HARDENING_MARKER=marker,
               AWS_ACCESS_KEY_ID="AKIAHARDENINGTEST", AWS_SECRET_ACCESS_KEY=AWS_SECRET,
               AWS_SESSION_TOKEN=AWS_TOKEN, AWS_DEFAULT_REGION="us-east-1",
               **{PASSWORD_ENV: RESTIC_SECRET})
    commands = [
        ["inventory", "--targets", targets, "--format", "json",
         "--out", str(work / "inventory.parquet")],
        ["verify", "--targets", targets, "--format", "json", "--plan", str(estate["plan"])],
        ["drill", "--targets", targets, "--format", "json", "--plan", str(estate["plan"]),
         "--history", str(history)],
        ["history", "--history", str(history), "--format", "json"],
        ["trend", "--history", str(history), "--format", "junit",
         "--out", str(work / "trend.xml")],
    ]
    if available("manifest", "build"):
        commands.append(["manifest", "build", str(estate["source"]),
                         "--out", str(work / "manifest.parquet")])
    if available("audit"):
        commands.append(["audit", "--client", "pwenv", "--targets", targets, "--history",
                         str(history), "--plan", str(estate["plan"]), "--format", "json",
                         "--out", str(work / "audit")])
    results = {}
    with ProcessWatch(marker) as watch:
        for command in commands:
            done = subprocess.run([sys.executable, "-m", "backupcheck", "--debug", *command],
                                  env=env, cwd=ROOT, capture_output=True, text=True,
                                  timeout=180, check=False)
            results[" ".join(command[:2])] = done
        time.sleep(0.05)
    yield {"results": results, "work": work, "argv_log": argv_log, "watch": watch}


def test_every_command_ran(runs: dict[str, Any], receiver: Receiver) -> None:
    """The commands did their work (a secret cannot leak from a command that did nothing)."""
    results = runs["results"]
    # verify and drill notified (one URL delivered, one failed), pinged, wrote the metrics
    assert len(receiver.to("/hook/")) == 2
    assert len(receiver.to("/ping/")) == 4
    assert (runs["work"] / "backupcheck.prom").is_file()
    for name in ("verify --targets", "drill --targets"):
        assert "notification not delivered: urls_file line 2" in results[name].stderr
    for name, done in results.items():
        assert done.returncode in (0, 1), (name, done.stderr[-2000:])
        if name.split()[0] in ("inventory", "verify", "drill", "audit"):
            assert " DEBUG " in done.stderr, name  # debug logging was on
    assert (runs["work"] / "history" / "runs").is_dir()
    argv_log = runs["argv_log"].read_text(encoding="utf-8")
    for command in ("snapshots", "check", "dump", "ls", "cat config", "list keys"):
        assert command in argv_log, command
    assert any("restic" in " ".join(argv) for argv in runs["watch"].argvs)


@pytest.mark.parametrize("secret", SECRETS)
def test_no_secret_in_output(runs: dict[str, Any], secret: str) -> None:
    for name, done in runs["results"].items():
        assert secret not in done.stdout, name
        assert secret not in done.stderr, name


@pytest.mark.parametrize("secret", SECRETS)
def test_no_secret_in_written_files(runs: dict[str, Any], secret: str) -> None:
    written = [p for p in runs["work"].rglob("*") if p.is_file() and p != runs["argv_log"]]
    assert any(p.suffix == ".parquet" for p in written)
    for path in written:
        assert secret not in _file_text(path), path


@pytest.mark.parametrize("secret", SECRETS)
def test_no_secret_on_a_command_line(runs: dict[str, Any], secret: str) -> None:
    assert secret not in runs["argv_log"].read_text(encoding="utf-8")
    for argv in runs["watch"].argvs:
        assert secret not in " ".join(argv), argv


def test_botocore_stays_quiet_with_debug(runs: dict[str, Any]) -> None:
    """--debug is ours: botocore's wire log (headers, signatures) stays off."""
    for name, done in runs["results"].items():
        assert "botocore.endpoint DEBUG" not in done.stderr, name
        assert " DEBUG botocore" not in done.stderr, name
        assert "Authorization" not in done.stderr, name
