"""The browser's blind-signature client (app/static/js/blind-rsa.js) in headless Chromium.

The module is served by the app under its real CSP and imported into a page of the app with a
dynamic ``import()``, the way the rating page will use it. Python plays the issuer: it builds the
public key's SPKI DER with ``cryptography`` and signs blinded messages with a plain
``pow(blinded, d, n)``, independently of the server's signer. Binary values cross between
Python and the page as hex (or as base64url, where the API's encoding is the point).
"""

import base64
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from playwright.sync_api import Browser, Page

from app.credentials import sri
from tests.browser import (
    LiveServer,
    launched_chromium,
    live_server,
    new_phone_context,
    watch_script_problems,
)

pytestmark = pytest.mark.browser

# RFC 9474, Appendix A (a copy of ../shared/vectors/, kept beside the Python-side tests).
VECTOR_PATH = Path(__file__).with_name("rfc9474-rsabssa-sha384-pss-randomized.txt")
MODULE_URL = "/static/js/blind-rsa.js"
SALT_LEN = 48  # RSABSSA-SHA384-PSS: salt length = SHA-384 digest length
PREFIX_LEN = 32  # RFC 9474 randomized variant
KEY_BITS = 3072  # the smallest campaign key docs/privacy.md allows

# Every script below runs as ``async (args) => { PRELUDE ... }`` in the page: it imports the
# module under test as ``b`` and defines hex helpers.
PRELUDE = f"""
  const b = await import("{MODULE_URL}");
  const bytes = (hex) => Uint8Array.from(hex.match(/../g) || [], (pair) => parseInt(pair, 16));
  const hex = (array) => Array.from(array, (x) => x.toString(16).padStart(2, "0")).join("");
  const failure = async (promise) => {{
    try {{ await promise; return null; }} catch (error) {{ return error.message; }}
  }};
"""


def run(page: Page, body: str, args: Any = None) -> Any:
    """Runs ``body`` in the page with the module imported; returns what it returns."""
    return page.evaluate(f"async (args) => {{ {PRELUDE}\n{body} }}", args)


def spki_der_hex(public_key: rsa.RSAPublicKey) -> str:
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return der.hex()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def from_b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def pss_verifies(public_key: rsa.RSAPublicKey, message: bytes, signature: bytes) -> bool:
    """``cryptography``'s ordinary RSASSA-PSS verifier, salt length pinned to 48."""
    try:
        public_key.verify(
            signature,
            message,
            padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=SALT_LEN),
            hashes.SHA384(),
        )
    except InvalidSignature:
        return False
    return True


def flip_bit(hex_value: str, index: int = -1) -> str:
    data = bytearray(bytes.fromhex(hex_value))
    data[index] ^= 0x01
    return data.hex()


@dataclass(frozen=True)
class Vector:
    """RFC 9474 Appendix A, RSABSSA-SHA384-PSS-Randomized; hex strings as in the file."""

    fields: dict[str, str]

    def __getitem__(self, name: str) -> str:
        return self.fields[name]

    def int(self, name: str) -> int:
        return int(self.fields[name], 16)

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return rsa.RSAPublicNumbers(self.int("e"), self.int("n")).public_key()


def read_vector(path: Path) -> Vector:
    fields: dict[str, str] = {}
    for line in path.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.startswith("#"):
            fields[name.strip()] = value.strip().lower()
    return Vector(fields)


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched_chromium() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with live_server() as running:
        yield running


@pytest.fixture
def page(browser: Browser, server: LiveServer) -> Iterator[Page]:
    """The rating page in a fresh context; fails the test on script errors or CSP refusals."""
    context = new_phone_context(browser)
    tab = context.new_page()
    problems = watch_script_problems(tab)
    tab.goto(server.url("/r"))
    yield tab
    context.close()
    assert problems == [], "the page's script failed or broke the CSP"


@pytest.fixture(scope="module")
def vector() -> Vector:
    return read_vector(VECTOR_PATH)


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)


def key_of_3073_bits(key_3072: rsa.RSAPrivateKey) -> rsa.RSAPrivateKey:
    """A key whose modulus is 3073 bits, which OpenSSL's generator never makes.

    OpenSSL sets the top two bits of each prime, so a 1537-bit prime (from a 3074-bit key)
    times a 1536-bit one is at least 1.5 · 1.5 · 2^3071 and so exactly 3073 bits long.
    """
    e = 65537
    p = rsa.generate_private_key(public_exponent=e, key_size=3074).private_numbers().p
    q = key_3072.private_numbers().p
    d = pow(e, -1, (p - 1) * (q - 1))
    return rsa.RSAPrivateNumbers(
        p=p,
        q=q,
        d=d,
        dmp1=rsa.rsa_crt_dmp1(d, p),
        dmq1=rsa.rsa_crt_dmq1(d, q),
        iqmp=rsa.rsa_crt_iqmp(p, q),
        public_numbers=rsa.RSAPublicNumbers(e, p * q),
    ).private_key()


def blind_sign(key: rsa.RSAPrivateKey, blinded: bytes) -> bytes:
    """RSABSSA BlindSign reduced to RSASP1, as a test issuer: s = m^d mod n."""
    numbers = key.private_numbers()
    n = numbers.public_numbers.n
    m = int.from_bytes(blinded, "big")
    assert 0 <= m < n
    return pow(m, numbers.d, n).to_bytes((n.bit_length() + 7) // 8, "big")


# --- tests ----------------------------------------------------------------------------------


class TestRfc9474Vector:
    def test_vector_is_self_consistent(self, vector: Vector) -> None:
        assert vector["prepared_msg"] == vector["msg_prefix"] + vector["msg"]
        n, inv = vector.int("n"), vector.int("inv")
        blinded, m = vector.int("blinded_msg"), vector.int("encoded_msg")
        assert blinded * pow(inv, vector.int("e"), n) % n == m

    def test_key_is_read_from_spki(self, page: Page, vector: Vector) -> None:
        key = run(
            page,
            """
            const key = await b.importPublicKey(bytes(args.spki));
            return {
              n: key.n.toString(16), e: key.e.toString(16), bits: key.modulusBits,
              bytes: key.modulusBytes, type: key.cryptoKey.type,
              algorithm: key.cryptoKey.algorithm.name, hash: key.cryptoKey.algorithm.hash.name,
              usages: key.cryptoKey.usages,
            };
            """,
            {"spki": spki_der_hex(vector.public_key)},
        )

        assert int(key["n"], 16) == vector.int("n")
        assert int(key["e"], 16) == vector.int("e")
        assert key["bits"] == 4096
        assert key["bytes"] == 512
        assert (key["type"], key["algorithm"], key["hash"]) == ("public", "RSA-PSS", "SHA-384")
        assert key["usages"] == ["verify"]

    def test_blind_finalize_verify_match_the_vector(self, page: Page, vector: Vector) -> None:
        r = pow(vector.int("inv"), -1, vector.int("n"))

        out = run(
            page,
            """
            const key = await b.importPublicKey(bytes(args.spki));
            const prepared = bytes(args.prepared);
            const {blindedMsg, inv} = await b.blind(key, prepared, {
              salt: bytes(args.salt), r: BigInt("0x" + args.r),
            });
            const sig = await b.finalize(key, prepared, bytes(args.blindSig), inv);
            return {
              blindedMsg: hex(blindedMsg), inv: hex(inv), sig: hex(sig),
              verified: await b.verify(key, prepared, sig),
            };
            """,
            {
                "spki": spki_der_hex(vector.public_key),
                "prepared": vector["prepared_msg"],
                "salt": vector["salt"],
                "r": format(r, "x"),
                "blindSig": vector["blind_sig"],
            },
        )

        # The encoded message is what the browser blinded: blinded · inv^e mod n.
        n, e = vector.int("n"), vector.int("e")
        encoded = int(out["blindedMsg"], 16) * pow(int(out["inv"], 16), e, n) % n
        assert encoded.to_bytes(512, "big").hex() == vector["encoded_msg"]
        assert out["blindedMsg"] == vector["blinded_msg"]
        assert out["inv"] == vector["inv"]
        assert out["sig"] == vector["sig"]
        assert out["verified"] is True
        assert pss_verifies(
            vector.public_key, bytes.fromhex(vector["prepared_msg"]), bytes.fromhex(out["sig"])
        )

    def test_other_salt_gives_other_blinded_message(self, page: Page, vector: Vector) -> None:
        r = pow(vector.int("inv"), -1, vector.int("n"))
        blinded = run(
            page,
            """
            const key = await b.importPublicKey(bytes(args.spki));
            const salt = bytes(args.salt);
            salt[0] ^= 1;
            const {blindedMsg} = await b.blind(key, bytes(args.prepared), {
              salt, r: BigInt("0x" + args.r),
            });
            return hex(blindedMsg);
            """,
            {
                "spki": spki_der_hex(vector.public_key),
                "prepared": vector["prepared_msg"],
                "salt": vector["salt"],
                "r": format(r, "x"),
            },
        )

        assert blinded != vector["blinded_msg"]


def blind_in_browser(page: Page, key: rsa.RSAPrivateKey, msg: bytes) -> dict[str, str]:
    """Prepare and blind ``msg`` in the page: prepared (hex), blindedMsg (base64url), inv (hex)."""
    result: dict[str, str] = run(
        page,
        """
        const key = await b.importPublicKey(bytes(args.spki));
        const prepared = b.prepare(bytes(args.msg));
        const {blindedMsg, inv} = await b.blind(key, prepared);
        return {prepared: hex(prepared), blindedMsg: b.toBase64Url(blindedMsg), inv: hex(inv)};
        """,
        {"spki": spki_der_hex(key.public_key()), "msg": msg.hex()},
    )
    return result


def finalize_in_browser(
    page: Page, key: rsa.RSAPrivateKey, blinded: dict[str, str], blind_sig: str
) -> dict[str, Any]:
    """Finalize a base64url blind signature in the page: sig (base64url) and verified."""
    result: dict[str, Any] = run(
        page,
        """
        const key = await b.importPublicKey(bytes(args.spki));
        const prepared = bytes(args.prepared);
        const blindSig = b.fromBase64Url(args.blindSig);
        const sig = await b.finalize(key, prepared, blindSig, bytes(args.inv));
        return {sig: b.toBase64Url(sig), verified: await b.verify(key, prepared, sig)};
        """,
        {"spki": spki_der_hex(key.public_key()), **blinded, "blindSig": blind_sig},
    )
    return result


class TestRoundTrip:
    """Browser blinds, Python signs blind, browser finalizes; the API's base64url in between."""

    def round_trip(self, page: Page, key: rsa.RSAPrivateKey) -> None:
        modulus_bytes = (key.key_size + 7) // 8
        msg = secrets.token_bytes(32)  # the API's nonce
        blinded = blind_in_browser(page, key, msg)
        prepared = bytes.fromhex(blinded["prepared"])
        assert len(prepared) == PREFIX_LEN + len(msg)
        assert prepared.endswith(msg)

        blinded_msg = from_b64url(blinded["blindedMsg"])
        assert len(blinded_msg) == modulus_bytes
        assert b64url(blinded_msg) == blinded["blindedMsg"]
        blind_sig = blind_sign(key, blinded_msg)

        out = finalize_in_browser(page, key, blinded, b64url(blind_sig))

        signature = from_b64url(out["sig"])
        assert out["verified"] is True
        assert len(signature) == modulus_bytes
        assert pss_verifies(key.public_key(), prepared, signature)
        # Blinding hides the signature from the signer: it saw neither it nor the message.
        assert signature != blind_sig
        assert prepared.hex() not in blinded_msg.hex()

    def test_python_blind_signature_finalizes_and_verifies(
        self, page: Page, signing_key: rsa.RSAPrivateKey
    ) -> None:
        self.round_trip(page, signing_key)

    def test_modulus_one_bit_past_a_byte_boundary(
        self, page: Page, signing_key: rsa.RSAPrivateKey
    ) -> None:
        """3073 bits: the PSS encoding is one byte shorter than the modulus (emLen = k - 1)."""
        key = key_of_3073_bits(signing_key)
        assert key.key_size == 3073

        self.round_trip(page, key)

    def test_two_blindings_of_one_message_look_unrelated(
        self, page: Page, signing_key: rsa.RSAPrivateKey
    ) -> None:
        msg = b"same message"
        first = blind_in_browser(page, signing_key, msg)
        second = blind_in_browser(page, signing_key, msg)

        assert first["prepared"] != second["prepared"]
        assert first["blindedMsg"] != second["blindedMsg"]
        assert first["inv"] != second["inv"]


class TestRefusals:
    @pytest.fixture
    def signed(self, page: Page, signing_key: rsa.RSAPrivateKey) -> dict[str, str]:
        """A prepared message, its inv, a genuine blind signature and the final signature."""
        blinded = blind_in_browser(page, signing_key, b"nonce")
        blind_sig = blind_sign(signing_key, from_b64url(blinded["blindedMsg"]))
        out = finalize_in_browser(page, signing_key, blinded, b64url(blind_sig))
        return {
            "spki": spki_der_hex(signing_key.public_key()),
            "prepared": blinded["prepared"],
            "inv": blinded["inv"],
            "blindSig": blind_sig.hex(),
            "sig": from_b64url(out["sig"]).hex(),
        }

    def test_tampered_blind_signature_is_refused_by_finalize(
        self, page: Page, signed: dict[str, str]
    ) -> None:
        error = run(
            page,
            """
            const key = await b.importPublicKey(bytes(args.spki));
            return failure(b.finalize(key, bytes(args.prepared), bytes(args.blindSig),
                                      bytes(args.inv)));
            """,
            {**signed, "blindSig": flip_bit(signed["blindSig"])},
        )

        assert error == "blind-rsa: invalid signature"

    def test_wrong_inv_or_message_is_refused_by_finalize(
        self, page: Page, signed: dict[str, str]
    ) -> None:
        errors = run(
            page,
            """
            const key = await b.importPublicKey(bytes(args.spki));
            const prepared = bytes(args.prepared);
            const other = bytes(args.prepared);
            other[0] ^= 1;
            return [
              await failure(b.finalize(key, prepared, bytes(args.blindSig),
                                       bytes(args.wrongInv))),
              await failure(b.finalize(key, other, bytes(args.blindSig), bytes(args.inv))),
            ];
            """,
            {**signed, "wrongInv": flip_bit(signed["inv"])},
        )

        assert errors == ["blind-rsa: invalid signature"] * 2

    def test_tampered_signature_wrong_message_and_wrong_key_do_not_verify(
        self, page: Page, signed: dict[str, str]
    ) -> None:
        other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

        results = run(
            page,
            """
            const key = await b.importPublicKey(bytes(args.spki));
            const otherKey = await b.importPublicKey(bytes(args.otherSpki));
            const prepared = bytes(args.prepared);
            const sig = bytes(args.sig);
            const other = bytes(args.prepared);
            other[other.length - 1] ^= 1;
            return {
              genuine: await b.verify(key, prepared, sig),
              tamperedFirst: await b.verify(key, prepared, bytes(args.tamperedFirst)),
              tamperedLast: await b.verify(key, prepared, bytes(args.tamperedLast)),
              otherMessage: await b.verify(key, other, sig),
              truncated: await b.verify(key, prepared, sig.subarray(1)),
              otherKey: await b.verify(otherKey, prepared, sig.subarray(0, 256)),
            };
            """,
            {
                **signed,
                "otherSpki": spki_der_hex(other_key.public_key()),
                "tamperedFirst": flip_bit(signed["sig"], 0),
                "tamperedLast": flip_bit(signed["sig"]),
            },
        )

        assert results == {
            "genuine": True,
            "tamperedFirst": False,
            "tamperedLast": False,
            "otherMessage": False,
            "truncated": False,
            "otherKey": False,
        }

    def test_malformed_inputs_have_clear_errors(self, page: Page, signed: dict[str, str]) -> None:
        small_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 (refused)
        spki = bytes.fromhex(signed["spki"])

        errors = run(
            page,
            """
            const key = await b.importPublicKey(bytes(args.spki));
            const prepared = bytes(args.prepared);
            const blindSig = bytes(args.blindSig);
            const inv = bytes(args.inv);
            const n = bytes(key.n.toString(16));
            return {
              notBytes: await failure(b.blind(key, "text")),
              shortSalt: await failure(b.blind(key, prepared, {salt: new Uint8Array(32)})),
              badR: await failure(b.blind(key, prepared, {r: 0n})),
              noKey: await failure(b.blind({}, prepared)),
              shortBlindSig: await failure(b.finalize(key, prepared, blindSig.subarray(1), inv)),
              blindSigTooBig: await failure(b.finalize(key, prepared, n, inv)),
              zeroInv: await failure(b.finalize(key, prepared, blindSig,
                                                new Uint8Array(inv.length))),
              truncatedSpki: await failure(b.importPublicKey(bytes(args.spki).subarray(0, 100))),
              trailingSpki: await failure(b.importPublicKey(bytes(args.spki + "00"))),
              notSpki: await failure(b.importPublicKey(bytes(args.pkcs1))),
              smallKey: await failure(b.importPublicKey(bytes(args.smallSpki))),
              notString: await failure((async () => b.fromBase64Url(42))()),
              padded: await failure((async () => b.fromBase64Url("AA=="))()),
              standardAlphabet: await failure((async () => b.fromBase64Url("+/8"))()),
              strayBits: await failure((async () => b.fromBase64Url("AB"))()),
              impossibleLength: await failure((async () => b.fromBase64Url("AAAAA"))()),
              prepareText: await failure((async () => b.prepare("text"))()),
            };
            """,
            {
                **signed,
                "pkcs1": pkcs1_hex(spki),
                "smallSpki": spki_der_hex(small_key.public_key()),
            },
        )

        assert errors == {
            "notBytes": "blind-rsa: prepared must be a Uint8Array",
            "shortSalt": "blind-rsa: salt must be 48 bytes, not 32",
            "badR": "blind-rsa: r must be a bigint in [1, n)",
            "noKey": "blind-rsa: publicKey must come from importPublicKey()",
            "shortBlindSig": "blind-rsa: blindSig must be 384 bytes, not 383",
            "blindSigTooBig": "blind-rsa: blind signature out of range",
            "zeroInv": "blind-rsa: inv out of range",
            "truncatedSpki": "blind-rsa: SPKI truncated in SubjectPublicKeyInfo",
            "trailingSpki": "blind-rsa: SPKI: trailing bytes",
            "notSpki": "blind-rsa: SPKI: expected AlgorithmIdentifier",
            "smallKey": "blind-rsa: 1024-bit modulus is too small",
            "notString": "blind-rsa: base64url input must be a string",
            "padded": "blind-rsa: not unpadded base64url",
            "standardAlphabet": "blind-rsa: not unpadded base64url",
            "strayBits": "blind-rsa: non-canonical base64url",
            "impossibleLength": "blind-rsa: not unpadded base64url",
            "prepareText": "blind-rsa: msg must be a Uint8Array",
        }

    def test_r_sharing_a_factor_with_n_is_refused(self, page: Page, vector: Vector) -> None:
        error = run(
            page,
            """
            const key = await b.importPublicKey(bytes(args.spki));
            return failure(b.blind(key, bytes(args.prepared), {r: BigInt("0x" + args.p)}));
            """,
            {
                "spki": spki_der_hex(vector.public_key),
                "prepared": vector["prepared_msg"],
                "p": vector["p"],
            },
        )

        assert error == "blind-rsa: value has no inverse modulo n"


def pkcs1_hex(spki: bytes) -> str:
    """The same key as bare PKCS#1 RSAPublicKey DER, which is not an SPKI."""
    key = serialization.load_der_public_key(spki)
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1).hex()


class TestPrepare:
    def test_prepare_adds_32_fresh_random_bytes(self, page: Page) -> None:
        out = run(
            page,
            """
            const msg = bytes(args.msg);
            const first = b.prepare(msg), second = b.prepare(msg);
            const empty = b.prepare(new Uint8Array(0));
            return {first: hex(first), second: hex(second), empty: hex(empty)};
            """,
            {"msg": "00ff" * 16},
        )
        first, second = bytes.fromhex(out["first"]), bytes.fromhex(out["second"])
        msg = bytes.fromhex("00ff" * 16)

        assert len(first) == len(second) == len(msg) + PREFIX_LEN
        assert first[PREFIX_LEN:] == second[PREFIX_LEN:] == msg
        assert first[:PREFIX_LEN] != second[:PREFIX_LEN]
        assert len(bytes.fromhex(out["empty"])) == PREFIX_LEN


class TestBase64Url:
    def test_matches_python_both_ways(self, page: Page) -> None:
        samples = [secrets.token_bytes(length) for length in (0, 1, 2, 3, 4, 5, 32, 64, 384, 512)]
        samples += [b"\xfb\xff", b"\xfb\xef\xbe"]  # base64 would need "+" and "/" here

        out = run(
            page,
            """
            return args.map(([hexValue, python]) => [
              b.toBase64Url(bytes(hexValue)), hex(b.fromBase64Url(python)),
            ]);
            """,
            [[data.hex(), b64url(data)] for data in samples],
        )

        assert out == [[b64url(data), data.hex()] for data in samples]


class TestSubresourceIntegrity:
    """Chromium accepts the published SRI value for the module, and refuses a wrong one."""

    PRELOAD = """
      const link = document.createElement("link");
      link.rel = "modulepreload";
      link.href = args.url;
      link.integrity = args.integrity;
      const loaded = new Promise((resolve) => {
        link.onload = () => resolve("load");
        link.onerror = () => resolve("error");
      });
      document.head.append(link);
      const preload = await loaded;
      let imported;
      try {
        imported = typeof (await import(args.url)).blind;
      } catch (error) {
        imported = error.name;
      }
      return {preload, imported};
    """

    def preload(self, page: Page, integrity: str) -> Any:
        # No PRELUDE: the module must not be in the page's module map before the preload.
        return page.evaluate(
            f"async (args) => {{ {self.PRELOAD} }}", {"url": MODULE_URL, "integrity": integrity}
        )

    def test_published_value_is_accepted(self, page: Page) -> None:
        out = self.preload(page, sri.integrity(sri.BLIND_RSA_MODULE))

        assert out == {"preload": "load", "imported": "function"}

    def test_wrong_value_blocks_the_module(self, browser: Browser, server: LiveServer) -> None:
        wrong = "sha384-" + base64.b64encode(bytes(48)).decode()
        context = new_phone_context(browser)
        tab = context.new_page()
        tab.goto(server.url("/"))  # /r preloads the module itself, with the right hash
        try:
            out = self.preload(tab, wrong)
        finally:
            context.close()

        # The failed preload stays in the module map: a later import of the URL fails too.
        assert out == {"preload": "error", "imported": "TypeError"}
