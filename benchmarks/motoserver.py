"""A moto S3 server for the benchmarks, run as its own process (its CPU never shares our GIL).

    python -m benchmarks.motoserver [--port 0] [--versions BUCKET PREFIX KEYS PER_KEY MARKERS]

Prints one JSON line ``{"host": ..., "port": ...}`` on stdout once it serves, then runs until
terminated. Four things differ from ``python -m moto.server``, all so that the benchmarks
measure the client and not moto's shortcuts:

* ``--versions`` fills a versioned bucket with ``KEYS * PER_KEY`` object versions and
  ``MARKERS`` delete markers straight in moto's in-memory backend (100,000 PutObject calls
  over HTTP would take minutes), before the server starts.
* moto answers a ranged GetObject by reading (and copying) the *whole* object, then slicing
  it: a 64 MiB object fetched as eight 8 MiB ranges costs the server 512 MiB of copying, which
  no real S3 does (measured: parallel ranged reads 3x slower than one plain GET, all of it
  server CPU). Simple ranges (``bytes=A-B`` / ``bytes=A-``) are sliced from the stored buffer
  instead; the headers and everything else are moto's own. ``--stock-ranges`` turns this off.
* moto's ``list_object_versions`` deep-copies and sorts *every* version of the bucket on every
  page, so listing N versions costs O(N^2 / 1000) (measured: ~11 s of CPU per 1,000-entry
  page at 100,000 versions, ~20 minutes per listing), and its generic response serializer
  costs ~0.2 ms per entry. For the bucket filled here (never written again) the listing is
  sorted and rendered to XML once, with the elements and paging semantics (key-marker /
  version-id-marker, max-keys, prefix) of moto's own response; a page is then cut from it in
  about a millisecond. Nearly all of a listing's time is then the *client's*, which is what
  the inventory benchmark compares: the strictest setting for it (a real S3 adds ~0.1 s per
  page to both sides). ``--stock-listing`` keeps moto's own code.
* moto's response serializer formats every timestamp as text and parses it back with
  dateutil (a third of the server's CPU when listing versions). ISO 8601 text is parsed with
  ``datetime.fromisoformat`` instead; anything else still goes to the stock parser.

With ``--latency-ms N`` every request waits N ms before it is handled (a sleep, no CPU): the
round trip to a real S3 endpoint, which loopback does not have.

These changes only make moto cost closer to what a real server costs; none of them changes a
byte the client sees. Request logging is switched off: formatting a log line per request
costs the server CPU.
"""

from __future__ import annotations

import argparse
import bisect
import json
import logging
import os
import re
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.sax.saxutils import escape

DEFAULT_ACCOUNT_ID = "123456789012"


def populate_versions(bucket_name: str, prefix: str, keys: int, per_key: int,
                      markers: int, *, freeze: bool = True) -> None:
    """Fill ``bucket_name`` (created, versioned) with versions and delete markers in-process."""
    from moto.s3.models import s3_backends

    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    backend.create_bucket(bucket_name, "us-east-1")
    backend.put_bucket_versioning(bucket_name, "Enabled")
    base = datetime(2026, 1, 1)  # naive UTC, as moto keeps its timestamps
    payload = b"x" * 64
    # every key gets the marker after its versions: spread markers evenly over the keys
    marker_every = max(1, keys // markers) if markers else 0
    made_markers = 0
    for i in range(keys):
        name = f"{prefix}host{i % 50:02d}/day{i // 50:05d}/blk{i:07d}.vbk"
        for v in range(per_key):
            key = backend.put_object(bucket_name, name, payload)
            # distinct, increasing times so "latest" is well defined (moto sorts by time)
            key.last_modified = base + timedelta(seconds=i * 10 + v)
        if marker_every and i % marker_every == 0 and made_markers < markers:
            backend.delete_object(bucket_name, name)
            backend.get_bucket(bucket_name).keys.getlist(name)[-1].last_modified = (
                base + timedelta(seconds=i * 10 + per_key))
            made_markers += 1
    if freeze:
        freeze_listing(bucket_name)


OWNER = ("<Owner><ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>"
         "<DisplayName>webfile</DisplayName></Owner>")


class _FrozenListing:
    """The sorted version list of one bucket that is no longer written to, pre-rendered."""

    def __init__(self, bucket: Any) -> None:
        from moto.s3.models import FakeKey

        versions = [v for _, vs in bucket.keys.iterlists() for v in vs]
        versions.sort(key=lambda r: (r.name, -r.last_modified.timestamp()))
        previous = None
        self.xml: list[str] = []
        for version in versions:
            version.is_latest = version.name != previous
            previous = version.name
            # the elements moto's own ListObjectVersions response carries, in S3's key order
            common = (f"<Key>{escape(version.name)}</Key><VersionId>{version.version_id}"
                      f"</VersionId><IsLatest>{str(version.is_latest).lower()}</IsLatest>"
                      f"<LastModified>{version.last_modified:%Y-%m-%dT%H:%M:%S.000Z}"
                      "</LastModified>")
            if isinstance(version, FakeKey):
                self.xml.append(f"<Version>{common}<ETag>{escape(version.etag)}</ETag><Size>"
                                f"{version.size}</Size>{OWNER}<StorageClass>"
                                f"{version.storage_class}</StorageClass></Version>")
            else:
                self.xml.append(f"<DeleteMarker>{common}{OWNER}</DeleteMarker>")
        self.bucket = bucket.name
        self.names = [v.name for v in versions]
        self.ids = [str(v.version_id) for v in versions]
        self.position = {(n, i): k for k, (n, i) in enumerate(zip(self.names, self.ids,
                                                                   strict=True))}

    def page(self, key_marker: str | None, version_id_marker: str | None, max_keys: int,
             prefix: str) -> tuple[range, str | None, str | None]:
        """Which entries one page holds, and the markers of the next page (None: last page)."""
        if key_marker is None:
            start = 0
        elif version_id_marker:
            start = self.position[(key_marker, version_id_marker)] + 1
        else:
            start = bisect.bisect_right(self.names, key_marker)
        start = max(start, bisect.bisect_left(self.names, prefix))
        end = start
        while end < len(self.names) and end - start < max_keys and \
                self.names[end].startswith(prefix):
            end += 1
        more = end < len(self.names) and self.names[end].startswith(prefix) and end > start
        if not more:
            return range(start, end), None, None
        return range(start, end), self.names[end - 1], self.ids[end - 1]

    def render(self, query: dict[str, list[str]]) -> str:
        def first(name: str) -> str | None:
            return query.get(name, [None])[0]

        key_marker, version_marker = first("key-marker"), first("version-id-marker")
        prefix = first("prefix") or ""
        max_keys = int(first("max-keys") or 1000)
        entries, next_key, next_version = self.page(key_marker, version_marker, max_keys,
                                                    prefix)
        head = (f'<?xml version="1.0" encoding="UTF-8"?><ListVersionsResult xmlns='
                f'"http://s3.amazonaws.com/doc/2006-03-01/"><Name>{self.bucket}</Name><Prefix>'
                f"{escape(prefix)}</Prefix><KeyMarker>{escape(key_marker or '')}</KeyMarker>"
                f"<VersionIdMarker>{version_marker or ''}</VersionIdMarker><MaxKeys>"
                f"{max_keys}</MaxKeys><IsTruncated>{str(next_key is not None).lower()}"
                "</IsTruncated>")
        if next_key is not None:
            head += (f"<NextKeyMarker>{escape(next_key)}</NextKeyMarker><NextVersionIdMarker>"
                     f"{next_version}</NextVersionIdMarker>")
        return head + "".join(self.xml[entries.start:entries.stop]) + "</ListVersionsResult>"


_FROZEN: dict[str, _FrozenListing] = {}


def freeze_listing(bucket_name: str) -> None:
    """Answer ``ListObjectVersions`` on ``bucket_name`` from its listing, sorted once."""
    from moto.s3.models import s3_backends
    from moto.s3.responses import S3Response

    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    _FROZEN[bucket_name] = _FrozenListing(backend.get_bucket(bucket_name))
    if getattr(S3Response, "_bench_frozen_listing", False):
        return
    stock = S3Response.list_object_versions

    def list_object_versions(self: Any) -> Any:
        frozen = _FROZEN.get(self.bucket_name)
        if frozen is None or self.querystring.get("delimiter"):
            return stock(self)
        return 200, {"Content-Type": "application/xml"}, frozen.render(self.querystring)

    S3Response.list_object_versions = list_object_versions
    S3Response._bench_frozen_listing = True


class _LazyValue:
    """An object's bytes that are read from moto's buffer only for the slice asked for."""

    def __init__(self, key: Any) -> None:
        self.key = key

    def __len__(self) -> int:
        return int(self.key.size)

    def __getitem__(self, part: slice) -> bytes:
        start, stop, _ = part.indices(len(self))
        with self.key.lock:
            self.key._value_buffer.seek(start)
            data: bytes = self.key._value_buffer.read(max(0, stop - start))
        return data


_RANGE = re.compile(r"bytes=(\d+)-(\d*)$")
_lazy = threading.local()


def patch_ranged_get() -> None:
    """Serve simple ranged GETs by slicing the stored object instead of copying it whole."""
    from moto.s3.models import FakeKey
    from moto.s3.responses import S3Response

    stock_value = FakeKey.value
    stock_get = S3Response.get_object

    def value(self: Any) -> Any:
        if getattr(_lazy, "on", False):
            return _LazyValue(self)
        return stock_value.fget(self)

    def get_object(self: Any) -> Any:
        match = _RANGE.match(str(self.headers.get("range", "")).strip())
        if not match or (match.group(2) and int(match.group(2)) < int(match.group(1))):
            return stock_get(self)
        _lazy.on = True
        try:
            return stock_get(self)
        finally:
            _lazy.on = False

    FakeKey.value = property(value, stock_value.fset)
    S3Response.get_object = get_object


def patch_timestamp_parsing() -> None:
    """ISO 8601 timestamps in responses parsed by the standard library, not by dateutil."""
    import moto.core.serialize as serialize

    stock = serialize.parse_to_aware_datetime

    def parse_to_aware_datetime(value: Any) -> datetime:
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                return stock(value)  # type: ignore[no-any-return]
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        return stock(value)  # type: ignore[no-any-return]

    serialize.parse_to_aware_datetime = parse_to_aware_datetime


def add_latency(milliseconds: float) -> None:
    """Every request waits ``milliseconds`` first, in its own server thread (no CPU)."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    stock = DomainDispatcherApplication.__call__
    delay = milliseconds / 1000

    def call(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        time.sleep(delay)
        return stock(self, environ, start_response)

    DomainDispatcherApplication.__call__ = call


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--versions", nargs=5, metavar=("BUCKET", "PREFIX", "KEYS", "PER_KEY",
                                                        "MARKERS"))
    parser.add_argument("--stock-ranges", action="store_true",
                        help="keep moto's whole-object copy per ranged GET")
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="wait this long before handling each request (a WAN round trip)")
    parser.add_argument("--stock-listing", action="store_true",
                        help="list the --versions bucket with moto's own (slow) code")
    args = parser.parse_args(argv)
    parent = os.getppid()  # alive now: it waits for our address line
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("the benchmark server only listens on loopback")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    from moto.server import ThreadedMotoServer

    patch_timestamp_parsing()
    if args.latency_ms > 0:
        add_latency(args.latency_ms)
    if not args.stock_ranges:
        patch_ranged_get()
    if args.versions:
        bucket, prefix, keys, per_key, markers = args.versions
        populate_versions(bucket, prefix, int(keys), int(per_key), int(markers),
                          freeze=not args.stock_listing)
    server = ThreadedMotoServer(ip_address=args.host, port=args.port, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    sys.stdout.write(json.dumps({"host": host, "port": port}) + "\n")
    sys.stdout.flush()
    # runs in a session of its own: nobody's Ctrl-C reaches it, so it leaves with its parent
    try:
        while os.getppid() == parent:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
