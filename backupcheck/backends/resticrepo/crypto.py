"""restic's authenticated encryption, composed from ``cryptography``'s primitives.

Every stored file and every blob is ``IV || CIPHERTEXT || MAC`` (restic ``doc/design.rst``,
"Keys, Encryption and MAC"): AES-256 in counter mode with the 16-byte IV as the initial counter
block, and a Poly1305-AES tag over the ciphertext whose one-time key is ``r || AES-128_k(IV)``.
Nothing here is hand-written cryptography: AES and Poly1305 come from ``cryptography``; this
module only arranges their inputs the way restic does.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import poly1305
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

IV_SIZE = 16
MAC_SIZE = 16
#: bytes an encrypted object is longer than its plaintext
OVERHEAD = IV_SIZE + MAC_SIZE


class CryptoError(ValueError):
    """Ciphertext that does not authenticate (wrong key, or damaged data)."""


@dataclass(frozen=True, repr=False)
class MasterKey:
    """The three keys of a restic repository (or of one key file's password)."""

    encrypt: bytes  #: 32 bytes, AES-256-CTR
    mac_k: bytes    #: 16 bytes, the AES-128 key of Poly1305-AES
    mac_r: bytes    #: 16 bytes, Poly1305's r (clamped by the primitive)

    def __post_init__(self) -> None:
        if (len(self.encrypt), len(self.mac_k), len(self.mac_r)) != (32, 16, 16):
            raise CryptoError("key material of the wrong length")

    def __repr__(self) -> str:  # never show key bytes, not even in a traceback
        return "MasterKey(***)"


def _poly1305_key(key: MasterKey, nonce: bytes) -> bytes:
    # Poly1305-AES: s = AES_k(nonce), one block; ECB on a single block *is* the AES permutation
    block = Cipher(algorithms.AES(key.mac_k), modes.ECB()).encryptor()  # noqa: S305
    return key.mac_r + block.update(nonce) + block.finalize()


def decrypt(key: MasterKey, data: bytes | memoryview) -> bytes:
    """The plaintext of ``IV || CIPHERTEXT || MAC``; raises CryptoError unless it authenticates."""
    if len(data) < OVERHEAD:
        raise CryptoError(f"ciphertext too short ({len(data)} bytes)")
    view = memoryview(data)
    nonce, body, tag = bytes(view[:IV_SIZE]), view[IV_SIZE:-MAC_SIZE], bytes(view[-MAC_SIZE:])
    try:
        poly1305.Poly1305.verify_tag(_poly1305_key(key, nonce), body, tag)
    except InvalidSignature:
        raise CryptoError("MAC does not match (wrong key or damaged data)") from None
    cipher = Cipher(algorithms.AES(key.encrypt), modes.CTR(nonce)).decryptor()
    plain = cipher.update(body)
    cipher.finalize()  # CTR keeps nothing back: no copy of the plaintext to append it
    return plain
