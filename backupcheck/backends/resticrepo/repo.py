"""One restic repository, read natively: opened once (one key derivation), read many times.

:class:`Repository` decrypts the config, snapshots and index, walks trees and streams files.
Every unpacked file (index, snapshot) is checked against its storage id (the SHA-256 of its
stored bytes) and every blob against its SHA-256 id: a second implementation checks restic's
data. Thread-safe: the drill's workers share one instance.

Trees are read a pack at a time: restic keeps tree blobs in packs of their own, and a walk
visits most of them, so the first tree wanted from a pack fetches the stored span of every
tree blob in it (up to :data:`TREE_SPAN_MAX`) with one ranged read, and later trees of that
pack are cut from it (each still decrypted and verified on its own). That turns a walk of
a deep tree on S3 from one request per directory into one per tree pack.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from backupcheck.backends.restic_output import Snapshot, parse_snapshot
from backupcheck.backends.resticrepo.blobs import (
    FileStream,
    fetch_range,
    locate,
    open_blob,
    read_blob,
)
from backupcheck.backends.resticrepo.compression import CompressionError, unpack_document
from backupcheck.backends.resticrepo.crypto import CryptoError, decrypt
from backupcheck.backends.resticrepo.index import BlobEntry, Index, load_index
from backupcheck.backends.resticrepo.keys import open_master_key
from backupcheck.backends.resticrepo.runs import SharedRuns, read_order
from backupcheck.backends.resticrepo.storage import Storage, StorageError
from backupcheck.backends.resticrepo.tree import TreeNode, parse_tree

#: parallel blob and index reads per repository
WORKERS = 8
#: decrypted trees kept (a walk visits each once; catalog + drill revisit few)
TREE_CACHE = 256
#: the largest span of tree blobs fetched from one pack with one read
TREE_SPAN_MAX = 8 << 20
#: stored tree spans kept, in bytes
TREE_SPANS_KEPT = 64 << 20


class RepositoryError(ValueError):
    """Repository metadata that is not what the format says (not a storage failure)."""


@dataclass(frozen=True)
class RepoConfigDoc:
    """The decrypted ``config`` file."""

    version: int
    id: str
    chunker_polynomial: str


class Repository:
    """A native, read-only view of one repository (see the module docstring)."""

    def __init__(self, storage: Storage, password: bytes, *, workers: int = WORKERS) -> None:
        self.storage = storage
        opened = time.monotonic()
        # the config first, as restic: no config means no repository (StorageMissing)
        sealed_config = storage.read("config", "")
        self.key_id, self.key = open_master_key(storage, password)
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="restic-blob")
        self._workers = workers
        self._lock = threading.Lock()
        self._index: Index | None = None
        self._trees: OrderedDict[str, list[TreeNode]] = OrderedDict()
        self._roots: dict[str, str] = {}  #: snapshot id -> root tree (snapshots never change)
        self._tree_spans: OrderedDict[str, tuple[int, bytes]] = OrderedDict()
        self._tree_packs: dict[str, tuple[int, int]] | None = None
        self._shared: SharedRuns | None = None
        self.config = self._read_config(sealed_config)
        #: what opening took (config, key derivation) and, once loaded, the index: what
        #: ``restic restore`` pays once before its first file (the RTO model's start-up)
        self.startup_seconds = time.monotonic() - opened

    # ------------------------------------------------------------ unpacked files

    def document(self, kind: str, name: str) -> Any:
        """A decrypted, decompressed JSON file (config, snapshot, index); storage id checked."""
        sealed = self.storage.read(kind, name)
        if kind != "config" and hashlib.sha256(sealed).hexdigest() != name:
            raise RepositoryError(f"{kind}/{name} does not match its storage id")
        try:
            return json.loads(unpack_document(decrypt(self.key, sealed)))
        except (CryptoError, CompressionError, ValueError) as exc:
            raise RepositoryError(f"{kind}/{name or 'config'}: {exc}") from None

    def _read_config(self, sealed: bytes) -> RepoConfigDoc:
        try:
            doc = json.loads(unpack_document(decrypt(self.key, sealed)))
        except (CryptoError, CompressionError, ValueError) as exc:
            raise RepositoryError(f"config: {exc}") from None
        try:
            version = int(doc["version"])
            if version not in (1, 2):
                raise RepositoryError(f"unsupported repository version {version}")
            return RepoConfigDoc(version, str(doc["id"]), str(doc.get("chunker_polynomial", "")))
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, RepositoryError):
                raise
            raise RepositoryError(f"config: {exc}") from None

    def snapshot_files(self) -> list[tuple[str, int]]:
        return sorted(self.storage.list("snapshots"))

    def snapshots(self) -> list[Snapshot]:
        """Every snapshot, oldest first."""
        found = []
        for name, _ in self.snapshot_files():
            doc = self.document("snapshots", name)
            if not isinstance(doc, dict):
                raise RepositoryError(f"snapshots/{name}: not a JSON object")
            found.append(parse_snapshot({**doc, "id": name, "short_id": name[:8]}))
            if isinstance(doc.get("tree"), str):
                with self._lock:
                    self._roots[name] = doc["tree"]
        return sorted(found, key=lambda s: (s.time, s.id))

    def snapshot_tree(self, snapshot_id: str) -> str:
        with self._lock:
            known = self._roots.get(snapshot_id)
        if known is not None:
            return known
        doc = self.document("snapshots", snapshot_id)
        tree = doc.get("tree") if isinstance(doc, dict) else None
        if not isinstance(tree, str):
            raise RepositoryError(f"snapshots/{snapshot_id}: no tree")
        with self._lock:
            self._roots[snapshot_id] = tree
        return tree

    def snapshot_trees(self) -> dict[str, str]:
        """The root tree of every snapshot, by id (a file already read is not read again)."""
        return {name: self.snapshot_tree(name) for name, _ in self.snapshot_files()}

    # ------------------------------------------------------------ index and trees

    def index(self) -> Index:
        with self._lock:
            if self._index is None:
                loading = time.monotonic()
                self._index = load_index(self.storage.list("index"),
                                         lambda name: self.document("index", name),
                                         self._workers)
                self.startup_seconds += time.monotonic() - loading
            return self._index

    def tree(self, tree_id: str) -> list[TreeNode]:
        """The nodes of one tree blob (verified); raises BlobError or TreeError."""
        with self._lock:
            if tree_id in self._trees:
                self._trees.move_to_end(tree_id)
                return self._trees[tree_id]
        entry = locate(self.index(), tree_id, "tree")
        span = self._tree_span(tree_id, entry)
        if span is None:
            plain = read_blob(self.storage, self.key, tree_id, entry)
        else:
            start, stored = span
            cut = memoryview(stored)[entry.offset - start:entry.offset - start + entry.length]
            plain = open_blob(self.key, tree_id, entry, cut)
        nodes = parse_tree(plain)
        with self._lock:
            self._trees[tree_id] = nodes
            while len(self._trees) > TREE_CACHE:
                self._trees.popitem(last=False)
        return nodes

    def _tree_span(self, tree_id: str, entry: BlobEntry) -> tuple[int, bytes] | None:
        """(offset, stored bytes) of every tree blob in the pack of ``entry``, or None when
        that span is too large to fetch at once."""
        index = self.index()
        with self._lock:
            if self._tree_packs is None:
                spans: dict[str, tuple[int, int]] = {}
                for blob in index.blobs.values():
                    if blob.type == "tree":
                        low, high = spans.get(blob.pack, (blob.offset, 0))
                        spans[blob.pack] = (min(low, blob.offset),
                                            max(high, blob.offset + blob.length))
                self._tree_packs = spans
            cached = self._tree_spans.get(entry.pack)
            if cached is not None:
                self._tree_spans.move_to_end(entry.pack)
            low, high = self._tree_packs.get(entry.pack, (entry.offset,
                                                          entry.offset + entry.length))
        if cached is not None:
            return cached
        if high - low > TREE_SPAN_MAX:
            return None
        span = (low, fetch_range(self.storage, tree_id, entry.pack, low, high - low))
        with self._lock:
            self._tree_spans[entry.pack] = span
            kept = sum(len(data) for _, data in self._tree_spans.values())
            while kept > TREE_SPANS_KEPT and len(self._tree_spans) > 1:
                kept -= len(self._tree_spans.popitem(last=False)[1][1])
        return span

    def walk(self, tree_id: str, prefix: bytes = b"") -> Iterator[tuple[bytes, TreeNode]]:
        """Every node below a tree, depth first, with its path (``/a/b``, bytes)."""
        stack = [(prefix, tree_id)]
        while stack:
            base, current = stack.pop()
            children = []
            for node in self.tree(current):
                path = base + b"/" + node.name
                yield path, node
                if node.type == "dir" and node.subtree:
                    children.append((path, node.subtree))
            stack.extend(reversed(children))

    def find(self, tree_id: str, path: bytes) -> TreeNode | None:
        """The node at ``path`` (``/a/b``) below a tree, or None."""
        parts = [p for p in path.split(b"/") if p]
        node: TreeNode | None = None
        current: str | None = tree_id
        for part in parts:
            if current is None:
                return None
            node = next((n for n in self.tree(current) if n.name == part), None)
            if node is None:
                return None
            current = node.subtree if node.type == "dir" else None
        return node

    def open_file(self, node: TreeNode) -> FileStream:
        shared = self._shared
        return FileStream(self.storage, self.key, self.index(), node.content, self.pool,
                          shared=shared.take if shared is not None else None)

    def share_reads(self, nodes: Sequence[TreeNode]) -> list[int]:
        """Plan shared reads for files about to be read (``runs``); returns the order to read
        them in. Blobs the index does not know are left out (their read names them)."""
        index = self.index()
        contents = [[(b, e) for b in node.content
                     if (e := index.lookup(b)) is not None and e.type == "data"]
                    for node in nodes]
        self._shared = SharedRuns(self.storage, (item for blobs in contents for item in blobs))
        return read_order(contents)

    def end_shared_reads(self) -> None:
        """Back to reading each file on its own (the RTO probe times that)."""
        shared, self._shared = self._shared, None
        if shared is not None:
            shared.release()

    # ------------------------------------------------------------ what a restore needs

    def restore_objects(self, snapshot_id: str) -> list[tuple[str, int]]:
        """Every storage object a restore of the snapshot reads, as (object key, size)."""
        store, index = self.storage, self.index()
        sizes = dict(store.list("data"))
        packs: set[str] = set()
        pending = [self.snapshot_tree(snapshot_id)]
        seen: set[str] = set()
        while pending:
            tree_id = pending.pop()
            if tree_id in seen:
                continue
            seen.add(tree_id)
            packs.add(locate(index, tree_id, "tree").pack)
            for node in self.tree(tree_id):
                for blob_id in node.content:
                    packs.add(locate(index, blob_id, "data").pack)
                if node.subtree:
                    pending.append(node.subtree)
        config_size = len(store.read("config", ""))
        objects = [(store.object_key("config", ""), config_size)]
        objects += [(store.object_key("keys", n), s) for n, s in sorted(store.list("keys"))]
        snapshot_size = dict(self.snapshot_files()).get(snapshot_id)
        if snapshot_size is None:
            raise StorageError(f"snapshots/{snapshot_id} is missing")
        objects.append((store.object_key("snapshots", snapshot_id), snapshot_size))
        objects += [(store.object_key("index", n), s) for n, s in index.files]
        for pack in sorted(packs):
            if pack not in sizes:
                raise StorageError(f"pack {pack} is missing")
            objects.append((store.object_key("data", pack), sizes[pack]))
        return objects

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.storage.close()
