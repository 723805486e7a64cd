"""Policy checks: the registry of check ids (``registry.py``) and, per storage kind, pure
judging functions of already-fetched facts (``s3.py``, ``restic.py``)."""
