"""``audit --all``: a pack per client under ``DIR/CLIENT/`` and ``DIR/index.html``.

Each client's pack is made by :func:`commands.audit.build_audit_pack`, exactly as
``audit --client`` makes it. A client whose pack cannot be made (no drill in the history, a
client file that did not load) still gets its row, status ``error`` and the one-line reason.
The overview's figures are read from each pack's evidence: status, RTO headroom (of the worst
target, judged on the estimate's interval as ``restore.rto`` is: ``audit.fleet``), restore
coverage (lowest target),
the age of the oldest restore figures used and the number of open findings. Rows are sorted
worst first. The exit code is the worst over the clients (SPEC: lowest non-zero of 1, 2, 3).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Sequence
from dataclasses import replace

from backupcheck.atomic import write_atomic
from backupcheck.audit.fleet import FleetResult, FleetRow, pack_dir_name, row_of, sort_key
from backupcheck.audit.model import AuditOptions
from backupcheck.audit.pack import HTML_NAME, check_out
from backupcheck.clock import as_utc, now_utc
from backupcheck.commands.audit import build_audit_pack
from backupcheck.config import BrokenClient
from backupcheck.engine import Progress
from backupcheck.errors import BackupcheckError, UsageError
from backupcheck.model import Client, Status
from backupcheck.report.fleet_html import render_fleet_html

INDEX_NAME = "index.html"


def build_fleet(clients: Sequence[Client], broken: Sequence[BrokenClient],
                options: AuditOptions, *, progress: Progress | None = None) -> FleetResult:
    """A pack per client under ``options.out`` and the overview ``index.html`` beside them."""
    check_out(options.out)
    rows: list[FleetRow] = []
    for client in clients:
        name = pack_dir_name(client.name)
        try:
            result = build_audit_pack(client, replace(options, out=options.out / name),
                                      progress=progress)
        except BackupcheckError as exc:
            rows.append(FleetRow(client.name, Status.ERROR, exc.exit_code or 2,
                                 f"no evidence pack: {str(exc).splitlines()[0]}",
                                 rto_seconds=client.rto_seconds))
            continue
        rows.append(row_of(result, f"{urllib.parse.quote(name)}/{HTML_NAME}"))
    for bad in broken:
        rows.append(FleetRow(bad.name, Status.ERROR, bad.error.exit_code,
                             f"client file did not load: {str(bad.error).splitlines()[0]}"))
    rows.sort(key=sort_key)
    moment = as_utc(options.now) if options.now else now_utc()
    generated = max(moment, now_utc())
    index = options.out / INDEX_NAME
    page = render_fleet_html(rows, generated)
    try:
        options.out.mkdir(parents=True, exist_ok=True)
        write_atomic(index, page.encode("utf-8"))
    except OSError as exc:
        raise UsageError(f"--out: cannot write {index}: {exc.strerror or exc}") from None
    return FleetResult(options.out, tuple(rows), generated, index)
