"""RSABSSA-SHA384-PSS-Randomized (RFC 9474): the RFC's test vector, round trips, refusals."""

import hashlib
import math
import secrets
from pathlib import Path

import gmpy2  # type: ignore[import-untyped]
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from app.credentials import blind_rsa

VECTOR_FILE = Path(__file__).with_name("rfc9474-rsabssa-sha384-pss-randomized.txt")
VECTOR_SPKI_SHA256 = "ff428ba05045573209088fb5b288eba53098e119b9dd926ed507ed9c1f530c12"
SERVER_SECRET = b"test server secret"
KEY_ID = b"campaign 7 / rater group citizens"
# Finalizing under the wrong key of the same size: the signature does not verify, or, when a
# value happens to lie between the two moduli, it is not below this key's modulus.
WRONG_KEY_ERRORS = (blind_rsa.SignatureRejected, blind_rsa.MalformedInput)


def read_vector() -> dict[str, bytes]:
    fields: dict[str, bytes] = {}
    for line in VECTOR_FILE.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, _, value = line.partition(" = ")
        fields[name] = bytes.fromhex(value)
    return fields


def as_int(value: bytes) -> int:
    return int.from_bytes(value, "big")


def fixed_bytes(value: bytes) -> blind_rsa.RandomBytes:
    """A random source that returns ``value`` once, for the vector's fixed prefix."""

    def source(length: int) -> bytes:
        assert length == len(value)
        return value

    return source


def ordinary_pss_verify(public_key: rsa.RSAPublicKey, message: bytes, signature: bytes) -> None:
    """cryptography's own verifier with the scheme's parameters; raises InvalidSignature."""
    public_key.verify(
        signature,
        message,
        padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=48),
        hashes.SHA384(),
    )


def key_of_exact_size(bits: int) -> rsa.RSAPrivateKey:
    """An RSA key whose modulus has exactly ``bits`` bits (OpenSSL rounds to whole bytes)."""
    e = 65537
    while True:
        p = int(gmpy2.next_prime(secrets.randbits(bits - bits // 2) | 1 << (bits - bits // 2 - 1)))
        q = int(gmpy2.next_prime(secrets.randbits(bits // 2) | 1 << (bits // 2 - 1)))
        n = p * q
        lambda_n = (p - 1) * (q - 1) // math.gcd(p - 1, q - 1)
        if p != q and n.bit_length() == bits and math.gcd(e, lambda_n) == 1:
            break
    return key_from_numbers(p, q, pow(e, -1, lambda_n), e)


def key_from_numbers(p: int, q: int, d: int, e: int) -> rsa.RSAPrivateKey:
    return rsa.RSAPrivateNumbers(
        p=p,
        q=q,
        d=d,
        dmp1=rsa.rsa_crt_dmp1(d, p),
        dmq1=rsa.rsa_crt_dmq1(d, q),
        iqmp=rsa.rsa_crt_iqmp(p, q),
        public_numbers=rsa.RSAPublicNumbers(e, p * q),
    ).private_key()


@pytest.fixture(scope="module")
def vector() -> dict[str, bytes]:
    return read_vector()


@pytest.fixture(scope="module")
def vector_key(vector: dict[str, bytes]) -> rsa.RSAPrivateKey:
    key = key_from_numbers(*(as_int(vector[name]) for name in ("p", "q", "d", "e")))
    assert key.public_key().public_numbers().n == as_int(vector["n"])
    return key


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return blind_rsa.generate_private_key(3072)


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    return blind_rsa.generate_private_key(3072)


class Session:
    """One rater's run of the protocol up to the blind signature."""

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        self.prepared = blind_rsa.prepare(secrets.token_bytes(32))  # the 32-byte nonce
        self.blinded = blind_rsa.blind(key.public_key(), self.prepared)
        self.blind_sig = blind_rsa.blind_sign(key, self.blinded.blinded_msg)


@pytest.fixture
def session(signing_key: rsa.RSAPrivateKey) -> Session:
    return Session(signing_key)


class TestRfc9474Vector:
    def test_prepare_puts_the_prefix_in_front_of_the_message(
        self, vector: dict[str, bytes]
    ) -> None:
        prepared = blind_rsa.prepare(vector["msg"], fixed_bytes(vector["msg_prefix"]))
        assert prepared == vector["prepared_msg"]

    def test_pss_encoding_with_the_vector_salt_gives_encoded_msg(
        self, vector: dict[str, bytes]
    ) -> None:
        em_bits = as_int(vector["n"]).bit_length() - 1
        encoded = blind_rsa._emsa_pss_encode(vector["prepared_msg"], em_bits, vector["salt"])
        assert encoded == vector["encoded_msg"]

    def test_blinding_with_the_vector_factor_gives_blinded_msg_and_inv(
        self, vector: dict[str, bytes], vector_key: rsa.RSAPrivateKey
    ) -> None:
        r = pow(as_int(vector["inv"]), -1, as_int(vector["n"]))
        blinded = blind_rsa._blind(
            vector_key.public_key(),
            vector["prepared_msg"],
            salt=vector["salt"],
            r=r,
            rng=secrets.token_bytes,
        )
        assert blinded.blinded_msg == vector["blinded_msg"]
        assert blinded.inv == vector["inv"]

    def test_blind_sign_gives_blind_sig(
        self, vector: dict[str, bytes], vector_key: rsa.RSAPrivateKey
    ) -> None:
        assert blind_rsa.blind_sign(vector_key, vector["blinded_msg"]) == vector["blind_sig"]

    def test_finalize_gives_sig(
        self, vector: dict[str, bytes], vector_key: rsa.RSAPrivateKey
    ) -> None:
        sig = blind_rsa.finalize(
            vector_key.public_key(), vector["prepared_msg"], vector["blind_sig"], vector["inv"]
        )
        assert sig == vector["sig"]

    def test_sig_verifies_here_and_with_the_ordinary_pss_verifier(
        self, vector: dict[str, bytes], vector_key: rsa.RSAPrivateKey
    ) -> None:
        public_key = vector_key.public_key()
        assert blind_rsa.verify(public_key, vector["prepared_msg"], vector["sig"])
        ordinary_pss_verify(public_key, vector["prepared_msg"], vector["sig"])

    def test_end_to_end_from_the_raw_message(
        self, vector: dict[str, bytes], vector_key: rsa.RSAPrivateKey
    ) -> None:
        public_key = vector_key.public_key()
        prepared = blind_rsa.prepare(vector["msg"], fixed_bytes(vector["msg_prefix"]))
        r = pow(as_int(vector["inv"]), -1, as_int(vector["n"]))
        blinded = blind_rsa._blind(
            public_key, prepared, salt=vector["salt"], r=r, rng=secrets.token_bytes
        )
        blind_sig = blind_rsa.blind_sign(vector_key, blinded.blinded_msg)
        sig = blind_rsa.finalize(public_key, prepared, blind_sig, blinded.inv)
        assert (blinded.blinded_msg, blind_sig, sig) == (
            vector["blinded_msg"],
            vector["blind_sig"],
            vector["sig"],
        )


class TestRoundTrip:
    def test_random_round_trips_verify_with_the_ordinary_pss_verifier(
        self, signing_key: rsa.RSAPrivateKey
    ) -> None:
        public_key = signing_key.public_key()
        for _ in range(5):
            run = Session(signing_key)
            sig = blind_rsa.finalize(public_key, run.prepared, run.blind_sig, run.blinded.inv)
            assert len(run.prepared) == 64
            assert len(sig) == 384
            ordinary_pss_verify(public_key, run.prepared, sig)
            assert blind_rsa.verify(public_key, run.prepared, sig)

    def test_signature_does_not_depend_on_the_signers_blinding_factor(
        self, signing_key: rsa.RSAPrivateKey, session: Session
    ) -> None:
        again = blind_rsa.blind_sign(signing_key, session.blinded.blinded_msg)
        assert again == session.blind_sig

    def test_prefix_salt_and_blinding_factor_are_fresh_each_time(
        self, signing_key: rsa.RSAPrivateKey
    ) -> None:
        public_key = signing_key.public_key()
        nonce = secrets.token_bytes(32)
        assert blind_rsa.prepare(nonce) != blind_rsa.prepare(nonce)
        prepared = blind_rsa.prepare(nonce)
        first, second = blind_rsa.blind(public_key, prepared), blind_rsa.blind(public_key, prepared)
        assert first.blinded_msg != second.blinded_msg
        assert first.inv != second.inv

    def test_modulus_one_bit_past_a_byte_boundary(self) -> None:
        """3073 bits: the PSS encoding is one byte shorter than the modulus (emLen = k - 1)."""
        key = key_of_exact_size(3073)
        run = Session(key)
        assert len(run.blinded.blinded_msg) == blind_rsa.modulus_length(key.public_key()) == 385
        sig = blind_rsa.finalize(key.public_key(), run.prepared, run.blind_sig, run.blinded.inv)
        ordinary_pss_verify(key.public_key(), run.prepared, sig)


class TestRefusals:
    def test_tampered_signature_does_not_verify(
        self, signing_key: rsa.RSAPrivateKey, session: Session
    ) -> None:
        public_key = signing_key.public_key()
        sig = blind_rsa.finalize(
            public_key, session.prepared, session.blind_sig, session.blinded.inv
        )
        for position in (0, 100, len(sig) - 1):
            tampered = bytearray(sig)
            tampered[position] ^= 0x01
            assert not blind_rsa.verify(public_key, session.prepared, bytes(tampered))

    def test_tampered_blind_signature_is_rejected_by_finalize(
        self, signing_key: rsa.RSAPrivateKey, session: Session
    ) -> None:
        tampered = bytearray(session.blind_sig)
        tampered[-1] ^= 0x01
        with pytest.raises(blind_rsa.SignatureRejected, match="does not verify"):
            blind_rsa.finalize(
                signing_key.public_key(), session.prepared, bytes(tampered), session.blinded.inv
            )

    def test_signature_does_not_verify_under_another_key(
        self, signing_key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey, session: Session
    ) -> None:
        sig = blind_rsa.finalize(
            signing_key.public_key(), session.prepared, session.blind_sig, session.blinded.inv
        )
        assert not blind_rsa.verify(other_key.public_key(), session.prepared, sig)
        with pytest.raises(WRONG_KEY_ERRORS):
            blind_rsa.finalize(
                other_key.public_key(), session.prepared, session.blind_sig, session.blinded.inv
            )

    def test_blinded_message_for_another_key_gives_no_credential(
        self, signing_key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey
    ) -> None:
        """Same length, so it is signed; the result is useless under either key."""
        prepared = blind_rsa.prepare(secrets.token_bytes(32))
        n = signing_key.public_key().public_numbers().n
        blinded = blind_rsa.blind(other_key.public_key(), prepared)
        while as_int(blinded.blinded_msg) >= n:  # that case is the "not below the modulus" test
            blinded = blind_rsa.blind(other_key.public_key(), prepared)
        blind_sig = blind_rsa.blind_sign(signing_key, blinded.blinded_msg)
        for public_key in (other_key.public_key(), signing_key.public_key()):
            with pytest.raises(WRONG_KEY_ERRORS):
                blind_rsa.finalize(public_key, prepared, blind_sig, blinded.inv)

    def test_blinded_message_for_a_key_of_another_size_is_malformed(
        self, signing_key: rsa.RSAPrivateKey, vector: dict[str, bytes]
    ) -> None:
        with pytest.raises(blind_rsa.MalformedInput, match=r"must be 384 bytes.*got 512"):
            blind_rsa.blind_sign(signing_key, vector["blinded_msg"])

    @pytest.mark.parametrize("length", [0, 1, 383, 385])
    def test_blinded_message_of_the_wrong_length_is_malformed(
        self, signing_key: rsa.RSAPrivateKey, length: int
    ) -> None:
        with pytest.raises(blind_rsa.MalformedInput, match=rf"384 bytes.*got {length}"):
            blind_rsa.blind_sign(signing_key, bytes(length))

    def test_blinded_message_not_below_the_modulus_is_malformed(
        self, signing_key: rsa.RSAPrivateKey
    ) -> None:
        n = signing_key.public_key().public_numbers().n
        for value in (n, n + 1, 2**3072 - 1):
            with pytest.raises(blind_rsa.MalformedInput, match="not below the modulus"):
                blind_rsa.blind_sign(signing_key, value.to_bytes(384, "big"))

    def test_finalize_refuses_malformed_blind_signature_and_inverse(
        self, signing_key: rsa.RSAPrivateKey, session: Session
    ) -> None:
        public_key = signing_key.public_key()
        n_bytes = public_key.public_numbers().n.to_bytes(384, "big")
        with pytest.raises(blind_rsa.MalformedInput, match="blind signature must be 384 bytes"):
            blind_rsa.finalize(
                public_key, session.prepared, session.blind_sig[1:], session.blinded.inv
            )
        with pytest.raises(blind_rsa.MalformedInput, match="blinding inverse must be 384 bytes"):
            blind_rsa.finalize(
                public_key, session.prepared, session.blind_sig, b"\x00" + session.blinded.inv
            )
        with pytest.raises(blind_rsa.MalformedInput, match="blind signature is not below"):
            blind_rsa.finalize(public_key, session.prepared, n_bytes, session.blinded.inv)

    def test_verify_answers_false_for_malformed_signatures(
        self, signing_key: rsa.RSAPrivateKey, session: Session
    ) -> None:
        public_key = signing_key.public_key()
        n = public_key.public_numbers().n
        for sig in (b"", bytes(383), bytes(385), bytes(384), n.to_bytes(384, "big"), b"\xff" * 384):
            assert blind_rsa.verify(public_key, session.prepared, sig) is False

    def test_altered_prepared_message_is_refused(
        self, signing_key: rsa.RSAPrivateKey, session: Session
    ) -> None:
        public_key = signing_key.public_key()
        sig = blind_rsa.finalize(
            public_key, session.prepared, session.blind_sig, session.blinded.inv
        )
        altered = bytearray(session.prepared)
        altered[40] ^= 0x80
        assert not blind_rsa.verify(public_key, bytes(altered), sig)
        assert not blind_rsa.verify(public_key, session.prepared[32:], sig)  # prefix dropped
        with pytest.raises(blind_rsa.SignatureRejected):
            blind_rsa.finalize(public_key, bytes(altered), session.blind_sig, session.blinded.inv)

    def test_signature_replayed_with_another_prepared_message_is_refused(
        self, signing_key: rsa.RSAPrivateKey, session: Session
    ) -> None:
        public_key = signing_key.public_key()
        sig = blind_rsa.finalize(
            public_key, session.prepared, session.blind_sig, session.blinded.inv
        )
        second = Session(signing_key)
        assert not blind_rsa.verify(public_key, second.prepared, sig)
        with pytest.raises(blind_rsa.SignatureRejected):  # one session's blind signature ...
            blind_rsa.finalize(public_key, second.prepared, session.blind_sig, second.blinded.inv)
        with pytest.raises(blind_rsa.SignatureRejected):  # ... or its inverse with another's
            blind_rsa.finalize(public_key, second.prepared, second.blind_sig, session.blinded.inv)

    def test_keys_below_3072_bits_are_refused(self) -> None:
        with pytest.raises(blind_rsa.UnsuitableKey, match="2048 bits is below the minimum 3072"):
            blind_rsa.generate_private_key(2048)
        small_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        small_spki = small_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        with pytest.raises(blind_rsa.UnsuitableKey):
            blind_rsa.load_public_key(small_spki)
        with pytest.raises(blind_rsa.UnsuitableKey):
            blind_rsa.blind(small_key.public_key(), blind_rsa.prepare(b"nonce"))
        with pytest.raises(blind_rsa.UnsuitableKey):
            blind_rsa.blind_sign(small_key, bytes(256))
        with pytest.raises(blind_rsa.UnsuitableKey):
            blind_rsa.encrypt_private_key(small_key, SERVER_SECRET, KEY_ID)

    def test_public_key_that_is_not_spki_der_is_malformed(self) -> None:
        with pytest.raises(blind_rsa.MalformedInput, match="SubjectPublicKeyInfo"):
            blind_rsa.load_public_key(b"\x30\x03\x02\x01\x01")


class TestVerifyAfterSign:
    def test_faulty_crt_half_is_caught_and_withheld(
        self, signing_key: rsa.RSAPrivateKey, session: Session, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A fault in one CRT half would let anyone factor n from the output (Bellcore)."""
        p = signing_key.private_numbers().p
        exact_power = blind_rsa._secret_power

        def faulty_power(base: int, exponent: int, modulus: int) -> int:
            result = exact_power(base, exponent, modulus)
            return (result + 1) % modulus if modulus == p else result

        monkeypatch.setattr(blind_rsa, "_secret_power", faulty_power)
        with pytest.raises(blind_rsa.SigningFailed, match="verify-after-sign") as caught:
            blind_rsa.blind_sign(signing_key, session.blinded.blinded_msg)
        assert caught.value.args == (
            "verify-after-sign check failed: the signature computed for the blinded message "
            "does not verify under the public key; it was withheld",
        )

    def test_power_returning_garbage_is_caught(
        self,
        vector: dict[str, bytes],
        vector_key: rsa.RSAPrivateKey,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr(blind_rsa, "_secret_power", lambda base, exponent, modulus: 2)
        with pytest.raises(blind_rsa.SigningFailed):
            blind_rsa.blind_sign(vector_key, vector["blinded_msg"])

    def test_exact_power_passes_the_check(
        self, signing_key: rsa.RSAPrivateKey, session: Session
    ) -> None:
        s = as_int(session.blind_sig)
        public_numbers = signing_key.public_key().public_numbers()
        assert pow(s, public_numbers.e, public_numbers.n) == as_int(session.blinded.blinded_msg)


class TestPrivateKeyAtRest:
    def test_round_trip_through_encryption(self, signing_key: rsa.RSAPrivateKey) -> None:
        stored = blind_rsa.encrypt_private_key(signing_key, SERVER_SECRET, KEY_ID)
        loaded = blind_rsa.decrypt_private_key(stored, SERVER_SECRET, KEY_ID)
        assert loaded.private_numbers() == signing_key.private_numbers()

    def test_stored_form_is_encrypted_pkcs8(self, signing_key: rsa.RSAPrivateKey) -> None:
        stored = blind_rsa.encrypt_private_key(signing_key, SERVER_SECRET, KEY_ID)
        with pytest.raises(TypeError, match="encrypted"):
            serialization.load_der_private_key(stored, password=None)
        d = signing_key.private_numbers().d.to_bytes(384, "big").lstrip(b"\x00")
        assert d[:32] not in stored
        password = blind_rsa.storage_password(SERVER_SECRET, KEY_ID)
        assert serialization.load_der_private_key(stored, password=password)

    def test_wrong_secret_is_refused(self, signing_key: rsa.RSAPrivateKey) -> None:
        stored = blind_rsa.encrypt_private_key(signing_key, SERVER_SECRET, KEY_ID)
        with pytest.raises(blind_rsa.KeyDecryptionFailed, match="cannot decrypt"):
            blind_rsa.decrypt_private_key(stored, b"another secret", KEY_ID)

    def test_wrong_key_id_is_refused(self, signing_key: rsa.RSAPrivateKey) -> None:
        stored = blind_rsa.encrypt_private_key(signing_key, SERVER_SECRET, KEY_ID)
        with pytest.raises(blind_rsa.KeyDecryptionFailed):
            blind_rsa.decrypt_private_key(stored, SERVER_SECRET, b"campaign 7 / rater group firms")

    def test_garbage_and_unencrypted_keys_are_refused(self, signing_key: rsa.RSAPrivateKey) -> None:
        plain = signing_key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        for stored in (b"", b"not a key", plain):
            with pytest.raises(blind_rsa.KeyDecryptionFailed):
                blind_rsa.decrypt_private_key(stored, SERVER_SECRET, KEY_ID)

    def test_password_is_derived_per_key_and_secret(self) -> None:
        password = blind_rsa.storage_password(SERVER_SECRET, KEY_ID)
        assert password == blind_rsa.storage_password(SERVER_SECRET, KEY_ID)
        assert len(password) == 64
        assert password != blind_rsa.storage_password(SERVER_SECRET, KEY_ID + b"x")
        assert password != blind_rsa.storage_password(b"other", KEY_ID)
        with pytest.raises(ValueError, match="key_id"):
            blind_rsa.storage_password(SERVER_SECRET, b"")


class TestPublicKeyEncoding:
    def test_vector_key_spki_der_and_fingerprint_are_pinned(
        self, vector_key: rsa.RSAPrivateKey
    ) -> None:
        der = blind_rsa.public_key_der(vector_key.public_key())
        assert len(der) == 550
        assert blind_rsa.public_key_fingerprint(vector_key.public_key()).hex() == VECTOR_SPKI_SHA256

    def test_der_and_fingerprint_are_stable_through_loading(
        self, signing_key: rsa.RSAPrivateKey
    ) -> None:
        der = blind_rsa.public_key_der(signing_key.public_key())
        loaded = blind_rsa.load_public_key(der)
        assert blind_rsa.public_key_der(loaded) == der
        fingerprint = blind_rsa.public_key_fingerprint(loaded)
        assert fingerprint == hashlib.sha256(der).digest()
        assert fingerprint == blind_rsa.public_key_fingerprint(signing_key.public_key())

    def test_loaded_public_key_verifies_credentials(
        self, signing_key: rsa.RSAPrivateKey, session: Session
    ) -> None:
        loaded = blind_rsa.load_public_key(blind_rsa.public_key_der(signing_key.public_key()))
        sig = blind_rsa.finalize(loaded, session.prepared, session.blind_sig, session.blinded.inv)
        assert blind_rsa.verify(loaded, session.prepared, sig)
