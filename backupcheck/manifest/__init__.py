"""Ground-truth manifests: hash a directory tree into Parquet at backup time, load one for a drill.

One module per job; import a name from its home module:

  schema   the Parquet schema, row kinds, and the Manifest / ManifestEntry / ManifestStats types
  hashing  xxh3-128 of a stream, a local file or an open file descriptor
  walk     the directory walk of a build (never follows symlinks, sorted by path)
  batch    hashing one batch of walked entries into rows (the unit of work of a worker)
  pool     running batches in a pool of processes, results in walk order
  write    the Parquet writer of a build
  progress the build's progress calls
  build    build_manifest: walk, hash, write atomically
  source   a manifest's bytes from a local path or an s3:// URL
  load     load_manifest: read and strictly validate

This package file imports nothing on purpose: the forkserver of a build's pool (or each spawned
worker) imports it, and re-exporting the loader from here would load boto3 and pyarrow.compute
(~0.1 s, measured) there and into every ``manifest build``, which needs neither.
"""
