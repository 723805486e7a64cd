"""Opening a repository's key: the password through scrypt, once per target.

A key file (``keys/<id>``) is JSON with the scrypt parameters and ``data``, the master key
encrypted with the 64 derived bytes (32 AES-256, 16 AES-128 ``k``, 16 Poly1305 ``r``; restic
``doc/design.rst``). restic tries the key files in turn; so do we, counting every derivation
so a test can prove the drill pays for it once per target.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from typing import Any

from backupcheck.backends.resticrepo.crypto import CryptoError, MasterKey, decrypt
from backupcheck.backends.resticrepo.storage import Storage, StorageError

#: key files tried before giving up (restic tries a bounded number too)
MAX_KEYS_TRIED = 20
#: refuse scrypt parameters that would need more memory than this (a hostile key file)
MAX_SCRYPT_MEMORY = 1 << 30

_lock = threading.Lock()
_derivations = 0


def derivations() -> int:
    """How many scrypt derivations this process has run (for tests and benchmarks)."""
    return _derivations


class WrongPassword(ValueError):
    """No key file of the repository opens with the password."""


class BadKeyFile(ValueError):
    """A key file that is not what the format says."""


def _b64(doc: Any, name: str) -> bytes:
    value = doc.get(name) if isinstance(doc, dict) else None
    if not isinstance(value, str):
        raise BadKeyFile(f"no {name!r}")
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        raise BadKeyFile(f"{name!r} is not base64") from None


def _int(doc: dict[str, Any], name: str) -> int:
    value = doc.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise BadKeyFile(f"{name!r} is not a positive integer")
    return value


def derive(password: bytes, doc: dict[str, Any]) -> MasterKey:
    """The user key of one key file (one scrypt run)."""
    global _derivations
    if doc.get("kdf") != "scrypt":
        raise BadKeyFile(f"unknown kdf {doc.get('kdf')!r}")
    n, r, p = _int(doc, "N"), _int(doc, "r"), _int(doc, "p")
    salt = _b64(doc, "salt")
    # what OpenSSL allocates: V (128*r*(N+2)) plus B (128*r*p), plus slack
    memory = 128 * r * (n + 2) + 128 * r * p + (1 << 20)
    if memory > MAX_SCRYPT_MEMORY:
        raise BadKeyFile(f"scrypt parameters need {memory >> 20} MiB")
    raw = hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, maxmem=memory, dklen=64)
    with _lock:
        _derivations += 1
    return MasterKey(encrypt=raw[:32], mac_k=raw[32:48], mac_r=raw[48:])


def _master(plaintext: bytes) -> MasterKey:
    try:
        doc = json.loads(plaintext)
        mac = doc["mac"]
        return MasterKey(encrypt=_b64(doc, "encrypt"), mac_k=_b64(mac, "k"),
                         mac_r=_b64(mac, "r"))
    except (ValueError, KeyError, TypeError, CryptoError) as exc:
        raise BadKeyFile(f"master key document: {exc}") from None


def open_master_key(storage: Storage, password: bytes) -> tuple[str, MasterKey]:
    """(key file id, master key) for the first key file the password opens.

    Raises WrongPassword when none does, StorageError when the key files cannot be read.
    """
    names = sorted(name for name, _ in storage.list("keys"))
    if not names:
        raise StorageError("the repository has no key files")
    bad: list[str] = []
    for name in names[:MAX_KEYS_TRIED]:
        try:
            doc = json.loads(storage.read("keys", name))
            if not isinstance(doc, dict):
                raise BadKeyFile("not a JSON object")
            user_key = derive(password, doc)
            sealed = _b64(doc, "data")
        except (ValueError, BadKeyFile) as exc:
            bad.append(f"{name[:8]}: {exc}")
            continue
        try:
            plaintext = decrypt(user_key, sealed)
        except CryptoError:
            continue  # not this key's password
        return name, _master(plaintext)
    detail = f" (unusable key files: {'; '.join(bad)})" if bad else ""
    raise WrongPassword(f"wrong password: no key file opens with it{detail}")
