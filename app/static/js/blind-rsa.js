// RSA blind signatures, client side: RSABSSA-SHA384-PSS-Randomized (RFC 9474).
//
// The rater's browser prepares a random message, blinds it, sends the blinded message to the
// issuer, unblinds the issuer's blind signature and checks the result. The issuer never sees
// the message or the signature it ends up having made, so it cannot link a credential it
// issued to the ballot that later spends it (docs/privacy.md).
//
//   const key = await importPublicKey(spkiDer);         // from GET /api/v1/campaigns/{slug}/keys
//   const prepared = prepare(message);                  // 32 random bytes ‖ message
//   const {blindedMsg, inv} = await blind(key, prepared);
//   ... POST toBase64Url(blindedMsg), receive blindSig ...
//   const sig = await finalize(key, prepared, blindSig, inv);  // throws unless it verifies
//
// No dependencies and no build step: BigInt for the modular arithmetic, WebCrypto for SHA-384,
// randomness and the final PSS check. Loaded as an ES module under CSP script-src 'self'.
//
// Timing: nothing here computes with a private key. The only exponent is the public e; the
// secret blinding factor r goes through BigInt multiplication and an extended Euclid, which are
// not constant-time, so a spy with a timing side channel on the rater's own device could learn
// about r. That is outside the threat model (docs/privacy.md); browsers offer no constant-time bignums.

const HASH = "SHA-384";
const HASH_LEN = 48; // bytes of a SHA-384 digest
const SALT_LEN = 48; // RFC 9474: salt length = hash length for this variant
const PREFIX_LEN = 32; // RFC 9474 §4.1: the randomized variants prepend 32 random bytes
const MIN_MODULUS_BITS = 2048; // refuse toy keys; campaign keys are at least 3072 bits
const RSA_ENCRYPTION_OID = "2a864886f70d010101"; // 1.2.840.113549.1.1.1, DER contents

// --- input checks -------------------------------------------------------------------------

function subtle() {
  // crypto.subtle exists only in secure contexts: HTTPS, or http://localhost / 127.0.0.1.
  const api = globalThis.crypto && globalThis.crypto.subtle;
  if (!api) {
    throw new Error("blind-rsa: WebCrypto is unavailable; the page must be served over HTTPS");
  }
  return api;
}

function checkBytes(value, name, length) {
  if (!(value instanceof Uint8Array)) {
    throw new TypeError(`blind-rsa: ${name} must be a Uint8Array`);
  }
  if (length !== undefined && value.length !== length) {
    throw new Error(`blind-rsa: ${name} must be ${length} bytes, not ${value.length}`);
  }
  return value;
}

function checkKey(publicKey) {
  if (
    !publicKey ||
    typeof publicKey.n !== "bigint" ||
    typeof publicKey.e !== "bigint" ||
    !Number.isInteger(publicKey.modulusBytes) ||
    !publicKey.cryptoKey
  ) {
    throw new TypeError("blind-rsa: publicKey must come from importPublicKey()");
  }
  return publicKey;
}

// --- bytes, integers, base64url -----------------------------------------------------------

function toHex(bytes) {
  let hex = "";
  for (const byte of bytes) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

// OS2IP (RFC 8017 §4.2): big-endian bytes to a non-negative integer.
function bytesToInt(bytes) {
  return bytes.length === 0 ? 0n : BigInt("0x" + toHex(bytes));
}

// I2OSP (RFC 8017 §4.1): a non-negative integer to exactly `length` big-endian bytes.
function intToBytes(value, length) {
  if (value < 0n) throw new RangeError("blind-rsa: cannot encode a negative integer");
  const hex = value.toString(16);
  if (hex.length > 2 * length) {
    throw new RangeError(`blind-rsa: integer too large for ${length} bytes`);
  }
  const padded = hex.padStart(2 * length, "0");
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = parseInt(padded.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

function bitLength(value) {
  return value === 0n ? 0 : value.toString(2).length;
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Base64url without padding (RFC 4648 §5), as the API carries binary values. */
export function toBase64Url(bytes) {
  checkBytes(bytes, "bytes");
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Strict inverse of toBase64Url: no padding, no whitespace, no other alphabet. */
export function fromBase64Url(text) {
  if (typeof text !== "string") throw new TypeError("blind-rsa: base64url input must be a string");
  // A length of 1 mod 4 cannot come from whole bytes.
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) {
    throw new Error("blind-rsa: not unpadded base64url");
  }
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  const bytes = Uint8Array.from(binary, (char) => char.charCodeAt(0));
  // atob ignores stray low bits in the last character; a value has one spelling only.
  if (toBase64Url(bytes) !== text) throw new Error("blind-rsa: non-canonical base64url");
  return bytes;
}

// --- modular arithmetic -------------------------------------------------------------------

function mod(a, m) {
  const r = a % m;
  return r < 0n ? r + m : r; // BigInt % keeps the sign of the dividend
}

// Left-to-right square and multiply. Only ever called with the public exponent e here.
function modPow(base, exponent, modulus) {
  let result = 1n;
  base = mod(base, modulus);
  for (const bit of exponent.toString(2)) {
    result = (result * result) % modulus;
    if (bit === "1") result = (result * base) % modulus;
  }
  return result;
}

// Extended Euclid: returns [g, x] with g = gcd(a, m) and a·x ≡ g (mod m).
function extendedEuclid(a, m) {
  let [oldR, r] = [mod(a, m), m];
  let [oldX, x] = [1n, 0n];
  while (r !== 0n) {
    const q = oldR / r; // BigInt division truncates; both are non-negative here
    [oldR, r] = [r, oldR - q * r];
    [oldX, x] = [x, oldX - q * x];
  }
  return [oldR, oldX];
}

function gcd(a, m) {
  return extendedEuclid(a, m)[0];
}

function inverseMod(a, m) {
  const [g, x] = extendedEuclid(a, m);
  if (g !== 1n) throw new Error("blind-rsa: value has no inverse modulo n");
  return mod(x, m);
}

// A uniform r in [1, n) with gcd(r, n) = 1, by rejection sampling: draw as many bits as n has,
// so that each draw is accepted with probability over one half.
function randomUnit(n, modulusBytes) {
  const excessBits = 8 * modulusBytes - bitLength(n);
  for (;;) {
    const bytes = crypto.getRandomValues(new Uint8Array(modulusBytes));
    bytes[0] &= 0xff >> excessBits;
    const r = bytesToInt(bytes);
    if (r >= 1n && r < n && gcd(r, n) === 1n) return r;
  }
}

// --- DER: just enough of SubjectPublicKeyInfo to read n and e -----------------------------

// Reads one DER element at `offset`; returns its tag, contents and the offset after it.
function readDer(bytes, offset, expectedTag, what) {
  if (offset + 2 > bytes.length) throw new Error(`blind-rsa: SPKI truncated at ${what}`);
  const tag = bytes[offset];
  if (tag !== expectedTag) throw new Error(`blind-rsa: SPKI: expected ${what}`);
  let length = bytes[offset + 1];
  let start = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    // DER: long form only from 128 on, minimal, and no length beyond 4 bytes here.
    if (count === 0 || count > 4 || start + count > bytes.length || bytes[start] === 0) {
      throw new Error(`blind-rsa: SPKI: bad length of ${what}`);
    }
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + bytes[start + i];
    if (length < 0x80) throw new Error(`blind-rsa: SPKI: bad length of ${what}`);
    start += count;
  }
  const end = start + length;
  if (end > bytes.length) throw new Error(`blind-rsa: SPKI truncated in ${what}`);
  return { contents: bytes.subarray(start, end), next: end };
}

function readPositiveInteger(bytes, offset, what) {
  const { contents, next } = readDer(bytes, offset, 0x02, what);
  if (contents.length === 0 || contents[0] & 0x80) {
    throw new Error(`blind-rsa: SPKI: ${what} must be a positive integer`);
  }
  // DER integers are minimal: a leading zero byte only to keep the top bit clear.
  if (contents.length > 1 && contents[0] === 0 && !(contents[1] & 0x80)) {
    throw new Error(`blind-rsa: SPKI: ${what} is not minimally encoded`);
  }
  return { value: bytesToInt(contents), next };
}

function parseSpki(der) {
  const spki = readDer(der, 0, 0x30, "SubjectPublicKeyInfo");
  if (spki.next !== der.length) throw new Error("blind-rsa: SPKI: trailing bytes");
  const body = spki.contents;

  const algorithm = readDer(body, 0, 0x30, "AlgorithmIdentifier");
  const oid = readDer(algorithm.contents, 0, 0x06, "algorithm OID");
  if (toHex(oid.contents) !== RSA_ENCRYPTION_OID) {
    throw new Error("blind-rsa: SPKI: not an rsaEncryption key");
  }
  // rsaEncryption has NULL parameters (RFC 3279 §2.3.1).
  const parameters = readDer(algorithm.contents, oid.next, 0x05, "NULL parameters");
  if (parameters.contents.length !== 0 || parameters.next !== algorithm.contents.length) {
    throw new Error("blind-rsa: SPKI: unexpected algorithm parameters");
  }

  const bitString = readDer(body, algorithm.next, 0x03, "subjectPublicKey");
  if (bitString.next !== body.length) throw new Error("blind-rsa: SPKI: trailing bytes");
  if (bitString.contents.length === 0 || bitString.contents[0] !== 0) {
    throw new Error("blind-rsa: SPKI: subjectPublicKey must be whole bytes");
  }
  const rsaKey = bitString.contents.subarray(1);

  const sequence = readDer(rsaKey, 0, 0x30, "RSAPublicKey");
  if (sequence.next !== rsaKey.length) throw new Error("blind-rsa: SPKI: trailing bytes");
  const n = readPositiveInteger(sequence.contents, 0, "modulus");
  const e = readPositiveInteger(sequence.contents, n.next, "public exponent");
  if (e.next !== sequence.contents.length) throw new Error("blind-rsa: SPKI: trailing bytes");
  return { n: n.value, e: e.value };
}

// --- EMSA-PSS with SHA-384 and MGF1-SHA-384 -----------------------------------------------

async function sha384(bytes) {
  return new Uint8Array(await subtle().digest(HASH, bytes));
}

// MGF1 (RFC 8017 B.2.1): Hash(seed ‖ counter) for counter = 0, 1, ..., truncated to length.
async function mgf1(seed, length) {
  const blocks = [];
  for (let counter = 0; counter * HASH_LEN < length; counter++) {
    const c = new Uint8Array(4);
    new DataView(c.buffer).setUint32(0, counter);
    blocks.push(sha384(concat(seed, c)));
  }
  return concat(...(await Promise.all(blocks))).subarray(0, length);
}

// EMSA-PSS-ENCODE (RFC 8017 §9.1.1) with emBits = modBits − 1, as RSASSA-PSS-SIGN uses and as
// every RFC 9474 implementation (and the test vector) does.
async function emsaPssEncode(message, emBits, salt) {
  const emLen = Math.ceil(emBits / 8);
  if (emLen < HASH_LEN + SALT_LEN + 2) throw new Error("blind-rsa: modulus too small");
  const mHash = await sha384(message);
  const h = await sha384(concat(new Uint8Array(8), mHash, salt)); // M' = 0x00×8 ‖ mHash ‖ salt
  const db = new Uint8Array(emLen - HASH_LEN - 1); // DB = PS ‖ 0x01 ‖ salt, PS all zero
  db[db.length - SALT_LEN - 1] = 0x01;
  db.set(salt, db.length - SALT_LEN);
  const mask = await mgf1(h, db.length);
  for (let i = 0; i < db.length; i++) db[i] ^= mask[i];
  db[0] &= 0xff >> (8 * emLen - emBits); // clear the bits above emBits
  return concat(db, h, Uint8Array.of(0xbc));
}

// --- RFC 9474 -----------------------------------------------------------------------------

/**
 * Reads an RSA public key from SubjectPublicKeyInfo DER (rsaEncryption, as Python's
 * `cryptography` exports it) and imports it into WebCrypto for RSA-PSS / SHA-384 verification.
 * Resolves to {n, e, modulusBits, modulusBytes, cryptoKey}.
 */
export async function importPublicKey(spkiDer) {
  checkBytes(spkiDer, "spkiDer");
  const { n, e } = parseSpki(spkiDer);
  const modulusBits = bitLength(n);
  if (modulusBits < MIN_MODULUS_BITS) {
    throw new Error(`blind-rsa: ${modulusBits}-bit modulus is too small`);
  }
  if (n % 2n === 0n || e < 3n || e % 2n === 0n || e >= n) {
    throw new Error("blind-rsa: not a valid RSA public key");
  }
  const cryptoKey = await subtle().importKey(
    "spki",
    spkiDer,
    { name: "RSA-PSS", hash: HASH },
    false,
    ["verify"]
  );
  // Our parser and the browser's must agree on the key the signature will be checked with.
  const { modulusLength, publicExponent } = cryptoKey.algorithm;
  if (modulusLength !== modulusBits || bytesToInt(publicExponent) !== e) {
    throw new Error("blind-rsa: WebCrypto read a different key");
  }
  return Object.freeze({ n, e, modulusBits, modulusBytes: Math.ceil(modulusBits / 8), cryptoKey });
}

/** RFC 9474 §4.1, randomized variant: 32 fresh random bytes ‖ msg. */
export function prepare(msg) {
  checkBytes(msg, "msg");
  return concat(crypto.getRandomValues(new Uint8Array(PREFIX_LEN)), msg);
}

/**
 * RFC 9474 §4.2 Blind. Resolves to {blindedMsg, inv}, both modulusBytes long. `inv` (r⁻¹ mod n)
 * is what links the blinded message to the final signature: keep it on this device only, and
 * drop it after finalize. `salt` (48 bytes) and `r` (a bigint) are only for test vectors.
 */
export async function blind(publicKey, prepared, { salt, r } = {}) {
  const { n, e, modulusBits, modulusBytes } = checkKey(publicKey);
  checkBytes(prepared, "prepared");
  if (salt === undefined) salt = crypto.getRandomValues(new Uint8Array(SALT_LEN));
  checkBytes(salt, "salt", SALT_LEN);
  if (r !== undefined && (typeof r !== "bigint" || r < 1n || r >= n)) {
    throw new RangeError("blind-rsa: r must be a bigint in [1, n)");
  }

  const m = bytesToInt(await emsaPssEncode(prepared, modulusBits - 1, salt));
  if (gcd(m, n) !== 1n) throw new Error("blind-rsa: invalid input (message not coprime to n)");
  if (r === undefined) r = randomUnit(n, modulusBytes);
  const inv = inverseMod(r, n); // throws if an injected r shares a factor with n

  const blinded = (m * modPow(r, e, n)) % n;
  return { blindedMsg: intToBytes(blinded, modulusBytes), inv: intToBytes(inv, modulusBytes) };
}

/**
 * RFC 9474 §4.4 Finalize: unblinds the issuer's blind signature and checks it with WebCrypto.
 * Resolves to the signature (modulusBytes long); throws if it does not verify, which is what a
 * wrong key, a wrong `inv` or a tampered response all look like.
 */
export async function finalize(publicKey, prepared, blindSig, inv) {
  const { n, modulusBytes } = checkKey(publicKey);
  checkBytes(prepared, "prepared");
  checkBytes(blindSig, "blindSig", modulusBytes);
  checkBytes(inv, "inv", modulusBytes);
  const z = bytesToInt(blindSig);
  const rInverse = bytesToInt(inv);
  if (z >= n) throw new RangeError("blind-rsa: blind signature out of range");
  if (rInverse === 0n || rInverse >= n) throw new RangeError("blind-rsa: inv out of range");

  const sig = intToBytes((z * rInverse) % n, modulusBytes);
  if (!(await verify(publicKey, prepared, sig))) {
    throw new Error("blind-rsa: invalid signature");
  }
  return sig;
}

/** RSASSA-PSS verification (SHA-384, MGF1-SHA-384, 48-byte salt) of a finalized signature. */
export async function verify(publicKey, prepared, sig) {
  const { modulusBytes, cryptoKey } = checkKey(publicKey);
  checkBytes(prepared, "prepared");
  checkBytes(sig, "sig");
  if (sig.length !== modulusBytes) return false;
  return subtle().verify({ name: "RSA-PSS", saltLength: SALT_LEN }, cryptoKey, sig, prepared);
}
