"""RSA blind signatures, RFC 9474 variant RSABSSA-SHA384-PSS-Randomized.

The rater's browser prepares a message (32 random bytes in front of it), blinds it and sends
the blinded message; the server signs it blind without learning the message; the browser
unblinds the signature, and later anyone holding the public key checks it as an ordinary
RSASSA-PSS signature (SHA-384, MGF1-SHA-384, salt length 48).

What comes from where:

- keys, serialisation and PSS verification: ``cryptography``;
- the secret-exponent modular power: gmpy2's ``powmod_sec`` (GMP's constant-time
  ``mpz_powm_sec``), on the CRT halves, with RSA blinding around it and a verify-after-sign
  check after it, so a faulty CRT half (the Bellcore attack) never leaves the server;
- EMSA-PSS-ENCODE (RFC 8017 §9.1.1) and MGF1 are written here, because ``cryptography`` can
  only encode as part of signing, and the blind signer must never see the encoded message.

Byte strings are big-endian and exactly the modulus length, as RFC 9474 requires. Malformed
input raises :class:`MalformedInput`; :func:`verify` alone answers with a boolean.
"""

import hashlib
import hmac
import math
import secrets
from collections.abc import Callable
from typing import NamedTuple

import gmpy2  # no stubs (mypy override in pyproject); every result is wrapped in int()
from cryptography import exceptions as crypto_exceptions
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

MIN_MODULUS_BITS = 3072
PUBLIC_EXPONENT = 65537
PREFIX_LENGTH = 32  # bytes of randomness in front of the message (RFC 9474 §4.1)
HASH_LENGTH = 48  # SHA-384 output, in bytes
SALT_LENGTH = 48  # PSS salt, in bytes: the hash length, as RFC 9474 fixes for this variant
STORAGE_PASSWORD_CONTEXT = b"pingyi credential key v1"

RandomBytes = Callable[[int], bytes]
"""A source of random bytes: called with a length, returns that many bytes."""

PSS_PADDING = padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=SALT_LENGTH)


class BlindRsaError(ValueError):
    """Base of every error this module raises on purpose."""


class MalformedInput(BlindRsaError):
    """An input cannot be what it claims: wrong length, not below the modulus, not invertible."""


class UnsuitableKey(BlindRsaError):
    """A key is not an RSA key of at least :data:`MIN_MODULUS_BITS` bits."""


class SigningFailed(BlindRsaError):
    """The verify-after-sign check failed: the computed signature is withheld."""


class SignatureRejected(BlindRsaError):
    """Finalize: the unblinded signature does not verify for the prepared message."""


class KeyDecryptionFailed(BlindRsaError):
    """A stored private key could not be decrypted: wrong server secret, key id or data."""


class Blinded(NamedTuple):
    blinded_msg: bytes  # sent to the signer
    inv: bytes  # kept by the client until finalize: the inverse of the blinding factor


# --- keys -------------------------------------------------------------------------------------


def generate_private_key(key_size: int = MIN_MODULUS_BITS) -> rsa.RSAPrivateKey:
    """A new signing key, public exponent 65537; sizes below 3072 bits are refused."""
    if key_size < MIN_MODULUS_BITS:
        raise UnsuitableKey(f"key size {key_size} bits is below the minimum {MIN_MODULUS_BITS}")
    return rsa.generate_private_key(public_exponent=PUBLIC_EXPONENT, key_size=key_size)


def modulus_length(public_key: rsa.RSAPublicKey) -> int:
    """Length in bytes of the modulus: the length of blinded messages and signatures."""
    return (public_key.key_size + 7) // 8


def public_key_der(public_key: rsa.RSAPublicKey) -> bytes:
    """The public key as DER-encoded SubjectPublicKeyInfo (what browsers import as "spki")."""
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def public_key_fingerprint(public_key: rsa.RSAPublicKey) -> bytes:
    """SHA-256 of the SPKI DER encoding, 32 bytes."""
    return hashlib.sha256(public_key_der(public_key)).digest()


def load_public_key(spki_der: bytes) -> rsa.RSAPublicKey:
    """The RSA public key in a SubjectPublicKeyInfo DER encoding."""
    try:
        key = serialization.load_der_public_key(spki_der)
    except ValueError as error:
        raise MalformedInput(f"not a DER SubjectPublicKeyInfo: {error}") from error
    if not isinstance(key, rsa.RSAPublicKey):
        raise UnsuitableKey(f"expected an RSA public key, got {type(key).__name__}")
    _check_key_size(key)
    return key


def storage_password(server_secret: bytes, key_id: bytes) -> bytes:
    """The password that encrypts one private key at rest, derived from the server secret.

    Hex, so it is plain ASCII for every PKCS#8 implementation; 256 bits of entropy, so the
    password-based KDF's iteration count does not matter.
    """
    if not key_id:
        raise ValueError("key_id must not be empty")
    digest = hmac.new(server_secret, STORAGE_PASSWORD_CONTEXT + key_id, hashlib.sha256)
    return digest.hexdigest().encode("ascii")


def encrypt_private_key(
    private_key: rsa.RSAPrivateKey, server_secret: bytes, key_id: bytes
) -> bytes:
    """The private key as encrypted PKCS#8 DER (PBES2), under :func:`storage_password`."""
    _check_key_size(private_key.public_key())
    return private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(storage_password(server_secret, key_id)),
    )


def decrypt_private_key(encrypted: bytes, server_secret: bytes, key_id: bytes) -> rsa.RSAPrivateKey:
    """Inverse of :func:`encrypt_private_key`. Loading checks the key, so callers should cache."""
    try:
        key = serialization.load_der_private_key(
            encrypted, password=storage_password(server_secret, key_id)
        )
    except (ValueError, TypeError) as error:
        raise KeyDecryptionFailed(
            f"cannot decrypt the private key for key id {key_id!r}: {error}"
        ) from error
    if not isinstance(key, rsa.RSAPrivateKey):
        raise UnsuitableKey(f"expected an RSA private key, got {type(key).__name__}")
    _check_key_size(key.public_key())
    return key


# --- the protocol (RFC 9474 §4) ---------------------------------------------------------------


def prepare(msg: bytes, rng: RandomBytes = secrets.token_bytes) -> bytes:
    """Prepare (randomized): 32 random bytes followed by the message."""
    return _random_bytes(rng, PREFIX_LENGTH) + msg


def blind(
    public_key: rsa.RSAPublicKey, prepared: bytes, rng: RandomBytes = secrets.token_bytes
) -> Blinded:
    """Blind: PSS-encode the prepared message with a fresh salt and multiply by r^e mod n."""
    n = public_key.public_numbers().n
    return _blind(
        public_key, prepared, salt=_random_bytes(rng, SALT_LENGTH), r=_random_unit(n, rng), rng=rng
    )


def blind_sign(private_key: rsa.RSAPrivateKey, blinded_msg: bytes) -> bytes:
    """BlindSign: the RSA signature (RSASP1) of the blinded message, checked before release.

    The private operation runs on ``blinded_msg · b^e`` for a fresh random ``b`` (RSA
    blinding), by CRT with a constant-time modular power, and the result is unblinded and
    checked against the public key; a mismatch raises :class:`SigningFailed` and nothing of
    the faulty value is returned or put in the message.
    """
    _check_key_size(private_key.public_key())
    private_numbers = private_key.private_numbers()
    n, e = private_numbers.public_numbers.n, private_numbers.public_numbers.e
    length = modulus_length(private_key.public_key())
    m = _to_int(blinded_msg, length, n, "blinded message")

    rng = secrets.token_bytes
    blinding_factor = _random_unit(n, rng)
    blinding_inverse = _blinded_inverse(blinding_factor, n, rng)
    m_blinded = m * _secret_power(blinding_factor, e, n) % n
    s = _rsasp1_crt(private_numbers, m_blinded) * blinding_inverse % n

    if pow(s, e, n) != m:
        raise SigningFailed(
            "verify-after-sign check failed: the signature computed for the blinded message "
            "does not verify under the public key; it was withheld"
        )
    return s.to_bytes(length, "big")


def finalize(public_key: rsa.RSAPublicKey, prepared: bytes, blind_sig: bytes, inv: bytes) -> bytes:
    """Finalize: unblind the signature and check it for the prepared message."""
    n = public_key.public_numbers().n
    length = modulus_length(public_key)
    z = _to_int(blind_sig, length, n, "blind signature")
    r_inv = _to_int(inv, length, n, "blinding inverse")
    sig = (z * r_inv % n).to_bytes(length, "big")
    if not verify(public_key, prepared, sig):
        raise SignatureRejected(
            "the unblinded signature does not verify for the prepared message under this key"
        )
    return sig


def verify(public_key: rsa.RSAPublicKey, prepared: bytes, sig: bytes) -> bool:
    """RSASSA-PSS verification by ``cryptography`` (SHA-384, MGF1-SHA-384, salt 48 bytes).

    False for any signature that does not verify, including one of the wrong length;
    raises only for a key that is too small.
    """
    _check_key_size(public_key)
    if len(sig) != modulus_length(public_key):
        return False
    try:
        public_key.verify(sig, prepared, PSS_PADDING, hashes.SHA384())
    except crypto_exceptions.InvalidSignature:
        return False
    return True


# --- internals ----------------------------------------------------------------------------------


def _blind(
    public_key: rsa.RSAPublicKey, prepared: bytes, *, salt: bytes, r: int, rng: RandomBytes
) -> Blinded:
    """Blind with a given salt and blinding factor r: :func:`blind`, and the test vector's hook."""
    _check_key_size(public_key)
    numbers = public_key.public_numbers()
    n, e = numbers.n, numbers.e
    length = modulus_length(public_key)
    if not 1 <= r < n:
        raise MalformedInput("the blinding factor r must lie in [1, n)")
    encoded = _emsa_pss_encode(prepared, n.bit_length() - 1, salt)
    m = int.from_bytes(encoded, "big")
    if math.gcd(m, n) != 1:
        raise MalformedInput("the encoded message is not coprime with the modulus")
    if math.gcd(r, n) != 1:
        raise MalformedInput("the blinding factor r is not invertible modulo n")
    r_inv = _blinded_inverse(r, n, rng)
    z = m * _secret_power(r, e, n) % n
    return Blinded(blinded_msg=z.to_bytes(length, "big"), inv=r_inv.to_bytes(length, "big"))


def _emsa_pss_encode(message: bytes, em_bits: int, salt: bytes) -> bytes:
    """EMSA-PSS-ENCODE (RFC 8017 §9.1.1) with SHA-384 and MGF1-SHA-384.

    Step 1 (the hash's input limit, 2^125 bytes for SHA-384) cannot be reached in memory.
    """
    if len(salt) != SALT_LENGTH:
        raise MalformedInput(f"salt must be {SALT_LENGTH} bytes, got {len(salt)}")
    em_len = (em_bits + 7) // 8
    m_hash = hashlib.sha384(message).digest()  # step 2
    if em_len < HASH_LENGTH + SALT_LENGTH + 2:  # step 3
        raise MalformedInput(f"encoding error: {em_bits} bits cannot hold a PSS encoding")
    m_prime = bytes(8) + m_hash + salt  # step 5 (step 4, the salt, is the caller's)
    h = hashlib.sha384(m_prime).digest()  # step 6
    ps = bytes(em_len - SALT_LENGTH - HASH_LENGTH - 2)  # step 7
    db = ps + b"\x01" + salt  # step 8
    db_mask = _mgf1_sha384(h, em_len - HASH_LENGTH - 1)  # step 9
    masked_db = bytearray(a ^ b for a, b in zip(db, db_mask, strict=True))  # step 10
    masked_db[0] &= 0xFF >> (8 * em_len - em_bits)  # step 11
    return bytes(masked_db) + h + b"\xbc"  # step 12


def _mgf1_sha384(seed: bytes, mask_len: int) -> bytes:
    """MGF1 (RFC 8017 §B.2.1) with SHA-384."""
    if mask_len > (1 << 32) * HASH_LENGTH:
        raise MalformedInput("mask too long")
    blocks = (mask_len + HASH_LENGTH - 1) // HASH_LENGTH
    output = b"".join(
        hashlib.sha384(seed + counter.to_bytes(4, "big")).digest() for counter in range(blocks)
    )
    return output[:mask_len]


def _secret_power(base: int, exponent: int, modulus: int) -> int:
    """base^exponent mod modulus in constant time (GMP's mpz_powm_sec); a seam for fault tests.

    The modulus must be odd and the exponent positive, as they are for every use here.
    """
    return int(gmpy2.powmod_sec(base, exponent, modulus))


def _rsasp1_crt(numbers: rsa.RSAPrivateNumbers, m: int) -> int:
    """RSASP1 (RFC 8017 §5.2.1, case b: CRT with Garner's recombination)."""
    p, q = numbers.p, numbers.q
    s_p = _secret_power(m % p, numbers.dmp1, p)
    s_q = _secret_power(m % q, numbers.dmq1, q)
    h = (s_p - s_q) * numbers.iqmp % p
    return s_q + q * h


def _blinded_inverse(value: int, n: int, rng: RandomBytes) -> int:
    """value^-1 mod n, inverting value·t for a random unit t so the inversion's timing
    depends on a random number rather than on ``value``."""
    t = _random_unit(n, rng)
    product_inverse = int(gmpy2.invert(value * t % n, n))
    return product_inverse * t % n


def _random_unit(n: int, rng: RandomBytes) -> int:
    """A uniformly random integer in [1, n) coprime with n, by rejection sampling."""
    bits = n.bit_length()
    byte_length = (bits + 7) // 8
    excess_bits = 8 * byte_length - bits
    while True:
        candidate = int.from_bytes(_random_bytes(rng, byte_length), "big") >> excess_bits
        if 0 < candidate < n and math.gcd(candidate, n) == 1:
            return candidate


def _random_bytes(rng: RandomBytes, length: int) -> bytes:
    value = rng(length)
    if len(value) != length:
        raise ValueError(f"random source returned {len(value)} bytes, asked for {length}")
    return value


def _to_int(value: bytes, length: int, n: int, what: str) -> int:
    """A big-endian integer of exactly ``length`` bytes that is below the modulus."""
    if len(value) != length:
        raise MalformedInput(
            f"{what} must be {length} bytes (the modulus length), got {len(value)}"
        )
    number = int.from_bytes(value, "big")
    if number >= n:
        raise MalformedInput(f"{what} is not below the modulus")
    return number


def _check_key_size(public_key: rsa.RSAPublicKey) -> None:
    if public_key.key_size < MIN_MODULUS_BITS:
        raise UnsuitableKey(
            f"RSA key of {public_key.key_size} bits is below the minimum {MIN_MODULUS_BITS}"
        )
