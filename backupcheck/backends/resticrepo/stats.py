"""What ``restic stats`` reports, computed from the index and the trees instead of by restic.

Definitions are restic's own (``cmd/restic/cmd_stats.go``):

- ``raw-data`` over a set of snapshots: every blob their trees reach — each tree blob, and
  each data blob of a ``file`` node's content — counted once (by type and id), at the stored
  length of its index entry (``CiphertextLength``: after compression, with the encryption
  overhead). The same for repository format 1 and 2; restic takes the first index entry it
  finds for a blob stored twice, so do we.
- ``restore-size`` of one snapshot: every node below its root tree, whatever its type, path
  by path (a subtree shared by two paths counts twice, as restoring writes it twice), adding
  ``size``; a node with more than one link (not a directory) adds its size once per
  ``(inode, device_id)``, and a node with inode 0 always adds it. That is restic 0.17 and
  newer; restic 0.14–0.16 grouped by inode alone, which differs only when one snapshot spans
  several file systems whose inode numbers collide.
"""

from __future__ import annotations

from collections.abc import Iterable

from backupcheck.backends.restic_output import RawData, RestoreSize
from backupcheck.backends.resticrepo.blobs import locate
from backupcheck.backends.resticrepo.repo import Repository


def raw_data(repo: Repository, trees: Iterable[str]) -> RawData:
    """``restic stats --mode raw-data`` of the snapshots whose root trees are ``trees``.

    Trees are read a level at a time on the repository's thread pool (parallel ranged reads
    on S3 and REST). Raises BlobError (a blob not in the index, or unreadable) or TreeError.
    """
    index = repo.index()
    seen: set[str] = set()
    data: set[str] = set()
    frontier = sorted(set(trees))
    while frontier:
        seen.update(frontier)
        following: set[str] = set()
        for nodes in repo.pool.map(repo.tree, frontier):
            for node in nodes:
                if node.type == "file":
                    data.update(node.content)
                elif node.type == "dir" and node.subtree and node.subtree not in seen:
                    following.add(node.subtree)
        frontier = sorted(following)
    size = sum(locate(index, tree_id, "tree").length for tree_id in seen)
    size += sum(locate(index, blob_id, "data").length for blob_id in data)
    return RawData(total_size=size, total_blob_count=len(seen) + len(data))


def restore_size(repo: Repository, tree: str) -> RestoreSize:
    """``restic stats --mode restore-size`` of the snapshot whose root tree is ``tree``.

    Raises BlobError or TreeError when a tree cannot be read.
    """
    size = count = 0
    groups: set[tuple[int, int]] = set()  # (inode, device_id) of hard-linked files counted
    for _, node in repo.walk(tree):
        count += 1
        if node.links == 1 or node.type == "dir":
            size += node.size
        elif node.inode == 0 or (node.inode, node.device_id) not in groups:
            groups.add((node.inode, node.device_id))
            size += node.size
    return RestoreSize(total_size=size, total_file_count=count)
