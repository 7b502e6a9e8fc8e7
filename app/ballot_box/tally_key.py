"""The tally key: HPKE (RFC 9180) with the ML-KEM-768 + X25519 hybrid KEM, and sealing a
ballot to it.

Ballots may sit in backups for decades, so the KEM is post-quantum hybrid: breaking it needs
both ML-KEM-768 and X25519 broken. The key pair is derived from a 32-byte master secret with
HKDF-SHA256 (one output for the ML-KEM seed, one for the X25519 key); the master secret is
what the trustees' Shamir shares rebuild (:mod:`app.ballot_box.shares`). The server keeps
only the public key and its fingerprint.

A sealed ballot is ``HPKE.Seal(public key, info, padded plaintext)``, where ``info`` binds it
to the campaign and the key (a ciphertext moved to another campaign does not open), and the
plaintext is padded to a size bucket (:func:`pad`) so its length shows at most its size class.
The ballot's tracker is the SHA-256 of its ciphertext.
"""

import hashlib
import secrets
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization as serial
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519
from cryptography.hazmat.primitives.hpke import (
    AEAD,
    KDF,
    KEM,
    MLKEM768X25519PrivateKey,
    MLKEM768X25519PublicKey,
    Suite,
)
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MASTER_SECRET_BYTES = 32
MLKEM_PUBLIC_BYTES = 1184
X25519_PUBLIC_BYTES = 32
PUBLIC_KEY_BYTES = MLKEM_PUBLIC_BYTES + X25519_PUBLIC_BYTES
SUITE = Suite(KEM.MLKEM768_X25519, KDF.HKDF_SHA256, AEAD.AES_256_GCM)
SUITE_NAME = "HPKE(ML-KEM-768+X25519, HKDF-SHA256, AES-256-GCM)"
ENCAPSULATED_KEY_BYTES = 1120  # ML-KEM-768 ciphertext (1088) + X25519 share (32)
TAG_BYTES = 16
LENGTH_PREFIX_BYTES = 4
SMALLEST_BUCKET = 4096  # bytes of padded plaintext: a ballot of dozens of evaluations fits
LARGEST_BUCKET = 1 << 20  # a ballot request is at most 64 KiB, so this is never reached
_INFO_PREFIX = b"pingyi sealed ballot/1\x00"
_DERIVATION_SALT = b"pingyi tally key/1"


class BallotUnreadable(ValueError):
    """A ciphertext that does not open with this key, or whose padding is damaged."""


@dataclass(frozen=True)
class TallyKeyPair:
    """A tally key rebuilt in memory from the master secret; never written anywhere."""

    private_key: MLKEM768X25519PrivateKey
    public_bytes: bytes

    @property
    def fingerprint(self) -> bytes:
        return fingerprint(self.public_bytes)


def new_master_secret() -> bytes:
    return secrets.token_bytes(MASTER_SECRET_BYTES)


def derive_key_pair(master_secret: bytes) -> TallyKeyPair:
    """The key pair a master secret stands for (the same every time)."""
    if len(master_secret) != MASTER_SECRET_BYTES:
        raise ValueError(f"a tally master secret has {MASTER_SECRET_BYTES} bytes")
    mlkem_seed = _expand(master_secret, b"ML-KEM-768 seed", 64)
    x25519_bytes = _expand(master_secret, b"X25519 private key", 32)
    mlkem_key = mlkem.MLKEM768PrivateKey.from_seed_bytes(mlkem_seed)
    x25519_key = x25519.X25519PrivateKey.from_private_bytes(x25519_bytes)
    public_bytes = mlkem_key.public_key().public_bytes_raw() + x25519_key.public_key().public_bytes(
        serial.Encoding.Raw, serial.PublicFormat.Raw
    )
    return TallyKeyPair(
        private_key=MLKEM768X25519PrivateKey(mlkem_key, x25519_key), public_bytes=public_bytes
    )


def _expand(master_secret: bytes, purpose: bytes, length: int) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=length, salt=_DERIVATION_SALT, info=purpose
    ).derive(master_secret)


def fingerprint(public_bytes: bytes) -> bytes:
    """SHA-256 of the public key's bytes: what the public and the trustees compare."""
    return hashlib.sha256(public_bytes).digest()


def fingerprint_text(digest: bytes) -> str:
    """A fingerprint as grouped hex, for reading aloud and comparing on paper."""
    digits = digest.hex()
    return " ".join(digits[i : i + 8] for i in range(0, len(digits), 8))


@lru_cache(maxsize=256)
def load_public_key(public_bytes: bytes) -> MLKEM768X25519PublicKey:
    """The public key object for stored bytes (cached: the bytes never change)."""
    if len(public_bytes) != PUBLIC_KEY_BYTES:
        raise ValueError(f"a tally public key has {PUBLIC_KEY_BYTES} bytes")
    return MLKEM768X25519PublicKey(
        mlkem.MLKEM768PublicKey.from_public_bytes(public_bytes[:MLKEM_PUBLIC_BYTES]),
        x25519.X25519PublicKey.from_public_bytes(public_bytes[MLKEM_PUBLIC_BYTES:]),
    )


def info_for(campaign_slug: str, key_fingerprint: bytes) -> bytes:
    """HPKE's ``info``: binds a ciphertext to its campaign and tally key."""
    return _INFO_PREFIX + campaign_slug.encode() + b"\x00" + key_fingerprint


def bucket_size(plaintext_length: int) -> int:
    """The padded size for a plaintext: the smallest bucket, or the next power of two."""
    needed = plaintext_length + LENGTH_PREFIX_BYTES
    size = SMALLEST_BUCKET
    while size < needed:
        size *= 2
    if size > LARGEST_BUCKET:
        raise ValueError("a ballot this large is refused before it is sealed")
    return size


def pad(plaintext: bytes) -> bytes:
    """Length prefix, plaintext, zeros up to the bucket (all inside the encryption)."""
    size = bucket_size(len(plaintext))
    prefix = len(plaintext).to_bytes(LENGTH_PREFIX_BYTES, "big")
    return prefix + plaintext + bytes(size - len(plaintext) - LENGTH_PREFIX_BYTES)


def unpad(padded: bytes) -> bytes:
    length = int.from_bytes(padded[:LENGTH_PREFIX_BYTES], "big")
    end = LENGTH_PREFIX_BYTES + length
    if end > len(padded) or padded.count(0, end) != len(padded) - end:
        raise BallotUnreadable("the padding is damaged")
    return padded[LENGTH_PREFIX_BYTES:end]


def seal(plaintext: bytes, public_bytes: bytes, info: bytes) -> bytes:
    """Encrypt a ballot's plaintext to the tally key; a fresh ephemeral key each time."""
    return SUITE.encrypt(pad(plaintext), load_public_key(public_bytes), info=info)


def open_sealed(ciphertext: bytes, key_pair: TallyKeyPair, info: bytes) -> bytes:
    """Decrypt a sealed ballot; :class:`BallotUnreadable` if it was altered or is not ours."""
    try:
        padded = SUITE.decrypt(ciphertext, key_pair.private_key, info=info)
    except (InvalidTag, ValueError) as error:
        raise BallotUnreadable("the ciphertext does not open with this tally key") from error
    return unpad(padded)


def tracker(ciphertext: bytes) -> bytes:
    """A ballot's tracker: SHA-256 of its ciphertext, handed to the rater as the receipt."""
    return hashlib.sha256(ciphertext).digest()
