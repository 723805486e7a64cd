"""SSH signatures (OpenSSH ``PROTOCOL.sshsig``) with Ed25519 keys: what ``ssh-keygen -Y sign``
writes and ``ssh-keygen -Y verify`` checks, made and checked with ``cryptography``.

The pack's ``SHA256SUMS`` is signed in the namespace ``backupcheck`` with SHA-512, so anyone
checks it with the stock tool::

    ssh-keygen -Y verify -f allowed_signers -I SIGNER -n backupcheck -s SHA256SUMS.sig < SHA256SUMS

Only Ed25519 is supported: one key type, no parameters to get wrong. A private key is read
with ``load_ssh_private_key``; a passphrase-protected one needs its passphrase (``bcrypt``
derives the key) and never comes from the command line.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from backupcheck.errors import UsageError

MAGIC = b"SSHSIG"
VERSION = 1
NAMESPACE = "backupcheck"
HASH = "sha512"
KEY_TYPE = "ssh-ed25519"
BEGIN = "-----BEGIN SSH SIGNATURE-----"
END = "-----END SSH SIGNATURE-----"


class SignatureError(Exception):
    """A signature that is malformed or does not verify; the message says which."""


def _string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


class _Reader:
    """SSH wire format: ``uint32`` length-prefixed strings, read one after another."""

    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def take(self, count: int) -> bytes:
        if self.at + count > len(self.data):
            raise SignatureError("the signature is truncated")
        chunk = self.data[self.at:self.at + count]
        self.at += count
        return chunk

    def uint32(self) -> int:
        value: int = struct.unpack(">I", self.take(4))[0]
        return value

    def string(self) -> bytes:
        return self.take(self.uint32())


def public_blob(key: Ed25519PublicKey) -> bytes:
    """The key in SSH wire format (what ``authorized_keys`` holds base64-encoded)."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return _string(KEY_TYPE.encode()) + _string(raw)


def fingerprint(blob: bytes) -> str:
    """``SHA256:…`` as ``ssh-keygen -l`` prints it."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def _signed_data(message: bytes, namespace: str) -> bytes:
    return (MAGIC + _string(namespace.encode()) + _string(b"") + _string(HASH.encode())
            + _string(hashlib.sha512(message).digest()))


def load_signing_key(path: Path, passphrase: bytes | None = None) -> Ed25519PrivateKey:
    """The OpenSSH Ed25519 private key in ``path``; any problem is a :class:`UsageError`."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"--sign-key: cannot read {path}: {exc.strerror or exc}") from None
    try:
        key = serialization.load_ssh_private_key(data, password=passphrase)
    except TypeError:  # encrypted without a passphrase, or a passphrase for a plain key
        raise UsageError(f"--sign-key: {path} is passphrase-protected: set "
                         "BACKUPCHECK_SIGN_KEY_PASSPHRASE" if passphrase is None else
                         f"--sign-key: {path} is not passphrase-protected") from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        wrong = " (or the passphrase is wrong)" if passphrase is not None else ""
        raise UsageError(f"--sign-key: {path} is not a readable OpenSSH private key{wrong}: "
                         f"{exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise UsageError(f"--sign-key: {path} is not an Ed25519 key (make one with "
                         "ssh-keygen -t ed25519)")
    return key


def sign(message: bytes, key: Ed25519PrivateKey, namespace: str = NAMESPACE) -> str:
    """The armored SSH signature of ``message``, as ``ssh-keygen -Y sign`` writes it."""
    signature = _string(KEY_TYPE.encode()) + _string(key.sign(_signed_data(message,
                                                                           namespace)))
    blob = (MAGIC + struct.pack(">I", VERSION) + _string(public_blob(key.public_key()))
            + _string(namespace.encode()) + _string(b"") + _string(HASH.encode())
            + _string(signature))
    text = base64.b64encode(blob).decode("ascii")
    lines = [text[i:i + 70] for i in range(0, len(text), 70)]
    return "\n".join([BEGIN, *lines, END]) + "\n"


@dataclass(frozen=True)
class Signed:
    """A signature that verified: by which key (SSH wire format) and its fingerprint."""

    key_blob: bytes

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.key_blob)


def verify(message: bytes, armored: str, namespace: str = NAMESPACE) -> Signed:
    """Check an armored SSH signature of ``message``; raises :class:`SignatureError`."""
    body = armored.strip()
    if not (body.startswith(BEGIN) and body.endswith(END)):
        raise SignatureError("not an SSH signature (no BEGIN/END SSH SIGNATURE lines)")
    try:
        blob = base64.b64decode("".join(body[len(BEGIN):-len(END)].split()), validate=True)
    except ValueError:
        raise SignatureError("the signature is not valid base64") from None
    reader = _Reader(blob)
    if reader.take(len(MAGIC)) != MAGIC or reader.uint32() != VERSION:
        raise SignatureError("not an SSH signature of version 1")
    key_blob, signed_namespace = reader.string(), reader.string().decode("utf-8", "replace")
    reader.string()  # reserved
    hash_name, signature = reader.string().decode("ascii", "replace"), reader.string()
    if signed_namespace != namespace:
        raise SignatureError(f"signed for namespace {signed_namespace!r}, not {namespace!r}")
    if hash_name not in ("sha512", "sha256"):
        raise SignatureError(f"unsupported hash {hash_name!r}")
    key_reader, sig_reader = _Reader(key_blob), _Reader(signature)
    if key_reader.string() != KEY_TYPE.encode() or sig_reader.string() != KEY_TYPE.encode():
        raise SignatureError("only ssh-ed25519 signatures are supported")
    try:
        public = Ed25519PublicKey.from_public_bytes(key_reader.string())
    except ValueError:
        raise SignatureError("the signing key is malformed") from None
    digest = (hashlib.sha512 if hash_name == "sha512" else hashlib.sha256)(message).digest()
    data = (MAGIC + _string(namespace.encode()) + _string(b"") + _string(hash_name.encode())
            + _string(digest))
    try:
        public.verify(sig_reader.string(), data)
    except InvalidSignature:
        raise SignatureError("the signature does not match SHA256SUMS: it was changed "
                             "after signing, or signed by another key") from None
    return Signed(key_blob)


def allowed_signers(text: str, namespace: str = NAMESPACE) -> dict[bytes, list[str]]:
    """Keys of an ``allowed_signers`` file (``ssh-keygen(1)``) to their principals: lines of
    ``principals [options] keytype base64``; a ``namespaces=`` option must list ours."""
    found: dict[bytes, list[str]] = {}
    for line in text.splitlines():
        words = line.strip().split()
        if not words or words[0].startswith("#"):
            continue
        for index in range(1, len(words) - 1):
            if words[index] == KEY_TYPE:
                options = ",".join(words[1:index])
                if "namespaces=" in options and namespace not in options:
                    break
                try:
                    blob = base64.b64decode(words[index + 1], validate=True)
                except ValueError:
                    break
                found.setdefault(blob, []).extend(words[0].split(","))
                break
    return found
