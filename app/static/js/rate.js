// Pingyi rating pages. Progressive enhancement only: every step also works without JavaScript.
//
// 1. A QR code on a slip opens /r#CODE. Browsers never send the fragment to the server, so the
//    code stays out of access logs and Referer headers; this script moves it into the form,
//    removes it from the address bar and history, and posts the form.
//
// 2. With WebCrypto and BigInt, the code is not used to rate directly: it is a voucher for an
//    anonymous credential (docs/privacy.md). The script asks what the code admits to
//    (POST /api/v1/admission, which names the campaign's public key), prepares a random message,
//    blinds it, and exchanges code and blinded message for a blind signature
//    (POST /api/v1/credentials). Unblinded, that signature is the credential: the server saw
//    who asked for it, but cannot recognise it when the ballot spends it. The rating steps then
//    carry the credential instead of the code, and the ballot is submitted with it.
//
// 3. The rater has one chance, so nothing may lose it. The blinding state is kept in
//    localStorage (one key per campaign) BEFORE the issuance request: if its response never
//    arrives, the same blinded message can be sent again, and the server signs it again (and
//    signs no other). The finished credential stays there until the receipt page says the
//    ballot was accepted, so a closed tab or a dropped connection is recovered from /r.
//    While issuance is unfinished the stored state includes the code; it is dropped as soon as
//    the credential is complete.
//
// 4. Anything that fails before the blinding state is stored falls back to the direct code
//    path, which the next page says in a short notice. Refusals of the code itself (unknown,
//    used, mistyped) are shown by the server, exactly as without JavaScript.
//
// 5. Roster members (cadres, enterprises on the office's list) sign in on /r/roster/{slug} with
//    their number and one-time password (POST /api/v1/roster/login, which sets a cookie only
//    the issuance request receives), then fetch the credential the same way without a voucher.
//    A link may carry the number in its fragment (#id=…), which is moved into the form.
//
// No inline scripts (CSP script-src 'self'); every text shown comes from the page, translated.

const BLIND_RSA_URL = "/static/js/blind-rsa.js";
const STORAGE_PREFIX = "pingyi:credentials:";
const NONCE_BYTES = 32; // RFC 9474 adds a 32-byte random prefix: the message is 64 bytes
const ISSUANCE_ATTEMPTS = 3;
const RETRY_DELAY_MS = 800;

// --- small helpers ---------------------------------------------------------------------------

function base64UrlOfText(text) {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The text a rater copies, saves and pastes; app/ballots/flow.py reads and writes the same. */
export function credentialText(entry) {
  return base64UrlOfText(
    JSON.stringify({
      rater_group: entry.rater_group,
      message: entry.message,
      signature: entry.signature,
      campaign: entry.campaign,
    })
  );
}

function randomId() {
  const bytes = crypto.getRandomValues(new Uint8Array(9));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

function sleep(milliseconds) {
  return new Promise((resolve) => setTimeout(resolve, milliseconds));
}

function postNatively(form) {
  // HTMLFormElement.submit() fires no submit event, so our own handler does not intercept it.
  HTMLFormElement.prototype.submit.call(form);
}

// --- stored credentials ----------------------------------------------------------------------

function storage() {
  try {
    const store = window.localStorage;
    const probe = STORAGE_PREFIX + "probe";
    store.setItem(probe, "1");
    store.removeItem(probe);
    return store;
  } catch {
    return null; // disabled, full, or a private mode that refuses writes
  }
}

function readEntries(store, campaign) {
  try {
    const entries = JSON.parse(store.getItem(STORAGE_PREFIX + campaign) || "[]");
    return Array.isArray(entries) ? entries.filter((entry) => entry && entry.id) : [];
  } catch {
    return [];
  }
}

function writeEntries(store, campaign, entries) {
  if (entries.length) store.setItem(STORAGE_PREFIX + campaign, JSON.stringify(entries));
  else store.removeItem(STORAGE_PREFIX + campaign);
}

function putEntry(store, entry) {
  const others = readEntries(store, entry.campaign).filter((kept) => kept.id !== entry.id);
  writeEntries(store, entry.campaign, [...others, entry]); // throws when storage is full
}

function dropEntry(store, entry) {
  const kept = readEntries(store, entry.campaign).filter((other) => other.id !== entry.id);
  writeEntries(store, entry.campaign, kept);
}

function allEntries(store) {
  const entries = [];
  for (let index = 0; index < store.length; index++) {
    const key = store.key(index);
    if (key && key.startsWith(STORAGE_PREFIX)) {
      entries.push(...readEntries(store, key.slice(STORAGE_PREFIX.length)));
    }
  }
  return entries;
}

/** Forgets the credential whose message the page names: spent, so of no further use. */
function forgetSpentCredential(store) {
  const marker = document.getElementById("spent-credential");
  const message = marker && marker.dataset.message;
  if (!store || !message) return;
  for (const entry of allEntries(store)) {
    if (entry.message === message) dropEntry(store, entry);
  }
}

// --- talking to the API ----------------------------------------------------------------------

class Refused extends Error {
  constructor(status, code, message) {
    super(message || `refused with ${status}`);
    this.status = status;
    this.code = code;
  }
}

// Refusals that are about the evaluation, not the code: the code still works directly.
const CREDENTIALS_UNAVAILABLE = "credentials_unavailable";

class Unreachable extends Error {}

/** POSTs JSON without cookies or referrer; resolves to the parsed body of a 2xx answer.
 * On a split deployment, admission and issuance are the issuer's: the page names its address
 * (data-issuer-url; empty: this origin). */
// A roster sign-in's requests (`withSignIn`) carry its cookie: it is set by the sign-in and
// received only by the issuance request (its path).
async function postJson(path, body, { withSignIn = false } = {}) {
  const strings = document.getElementById("rate-strings");
  const base = (strings && strings.dataset.issuerUrl) || "";
  let response;
  try {
    response = await fetch(base + path, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
      credentials: withSignIn ? "include" : "omit",
      cache: "no-store",
      referrerPolicy: "no-referrer",
    });
  } catch (error) {
    throw new Unreachable(String(error));
  }
  let answer = null;
  try {
    answer = await response.json();
  } catch {
    answer = null;
  }
  if (response.ok && answer) return answer;
  if (response.status >= 500 || !answer) throw new Unreachable(`status ${response.status}`);
  const error = answer.error || {};
  throw new Refused(response.status, error.code, error.message);
}

/** The credential issuance request (POST /api/v1/credentials): the blinded message, with the
 * voucher, or, for a roster member, with the sign-in's cookie instead. */
function requestBlindSignature(entry) {
  const body = { blinded_message: entry.blinded };
  if (entry.voucher) body.voucher = entry.voucher;
  return postJson("/api/v1/credentials", body, { withSignIn: !entry.voucher });
}

/** The roster sign-in request (POST /api/v1/roster/login); its cookie goes to issuance only. */
function signInToRoster(campaign, identifier, password) {
  return postJson("/api/v1/roster/login", { campaign, identifier, password }, { withSignIn: true });
}

/** Exchanges a stored blinded message for the credential and keeps the finished credential. */
async function finishIssuance(store, entry) {
  const blindRsa = await import(BLIND_RSA_URL);
  let answer;
  for (let attempt = 1; ; attempt++) {
    try {
      answer = await requestBlindSignature(entry);
      break;
    } catch (error) {
      if (!(error instanceof Unreachable) || attempt >= ISSUANCE_ATTEMPTS) throw error;
      await sleep(RETRY_DELAY_MS * attempt);
    }
  }
  const publicKey = await blindRsa.importPublicKey(blindRsa.fromBase64Url(entry.public_key));
  const prepared = blindRsa.fromBase64Url(entry.prepared);
  const signature = await blindRsa.finalize(
    publicKey,
    prepared,
    blindRsa.fromBase64Url(answer.blind_signature),
    blindRsa.fromBase64Url(entry.inv)
  );
  const ready = {
    id: entry.id,
    state: "ready",
    campaign: entry.campaign,
    title: entry.title,
    rater_group: answer.rater_group || entry.rater_group,
    message: entry.prepared,
    signature: blindRsa.toBase64Url(signature),
  };
  putEntry(store, ready); // replaces the pending state: code and blinding factor gone
  return ready;
}

/** A random message blinded under `signingKey`: the state to store before issuance. */
async function blindedEntry(signingKey, fields) {
  const blindRsa = await import(BLIND_RSA_URL);
  const publicKey = await blindRsa.importPublicKey(blindRsa.fromBase64Url(signingKey.public_key));
  const prepared = blindRsa.prepare(crypto.getRandomValues(new Uint8Array(NONCE_BYTES)));
  const { blindedMsg, inv } = await blindRsa.blind(publicKey, prepared);
  return {
    id: randomId(),
    state: "pending",
    ...fields,
    public_key: signingKey.public_key,
    prepared: blindRsa.toBase64Url(prepared),
    blinded: blindRsa.toBase64Url(blindedMsg),
    inv: blindRsa.toBase64Url(inv),
  };
}

// --- the entry page --------------------------------------------------------------------------

function codeFromFragment() {
  let fragment;
  try {
    fragment = decodeURIComponent(window.location.hash.slice(1)).trim();
  } catch {
    return ""; // a malformed escape (a stray "%") cannot be a code
  }
  return /^[0-9A-Za-z\- ]{16,40}$/.test(fragment) ? fragment : "";
}

function credentialsSupported(store) {
  return Boolean(
    store &&
      typeof BigInt === "function" &&
      typeof TextEncoder === "function" &&
      typeof fetch === "function" &&
      window.isSecureContext &&
      window.crypto &&
      window.crypto.subtle &&
      // Only with the module preloaded under its integrity hash (see app/credentials/sri.py).
      document.querySelector(`link[rel="modulepreload"][href="${BLIND_RSA_URL}"][integrity]`)
  );
}

class EntryPage {
  constructor(store) {
    this.store = store;
    this.codeForm = document.getElementById("code-form");
    this.codeInput = document.getElementById("code");
    this.credentialForm = document.getElementById("credential-form");
    this.credentialInput = document.getElementById("credential");
    this.status = document.getElementById("credential-status");
    this.strings = document.getElementById("rate-strings").dataset;
    this.busy = false;
  }

  start() {
    if (credentialsSupported(this.store)) {
      this.codeForm.addEventListener("submit", (event) => this.onCodeSubmit(event));
      this.offerSavedCredentials();
    } else {
      // No WebCrypto, BigInt or storage here: the code is used directly, and the next page
      // says so.
      this.codeForm.addEventListener("submit", () => this.flagDirect());
    }
    const code = codeFromFragment();
    if (window.location.hash) {
      history.replaceState(null, "", window.location.pathname + window.location.search);
    }
    if (code && !document.getElementById("code-error")) {
      this.codeInput.value = code;
      this.codeForm.requestSubmit();
    }
  }

  showStatus(text, { error = false } = {}) {
    this.status.textContent = text;
    this.status.classList.toggle("error", error);
    this.status.classList.toggle("info", !error);
    this.status.setAttribute("role", error ? "alert" : "status");
    this.status.hidden = !text;
  }

  setBusy(busy) {
    this.busy = busy;
    this.codeForm.classList.toggle("submitting", busy);
    for (const button of document.querySelectorAll("main button")) button.disabled = busy;
  }

  offerSavedCredentials() {
    const section = document.getElementById("saved-credentials");
    const list = document.getElementById("saved-credential-list");
    const template = document.getElementById("saved-credential-item");
    const entries = allEntries(this.store);
    list.replaceChildren();
    for (const entry of entries) {
      const item = template.content.firstElementChild.cloneNode(true);
      item.querySelector(".saved-campaign").textContent = entry.title || entry.campaign;
      item.querySelector("button").addEventListener("click", () => this.continueWith(entry));
      list.append(item);
    }
    section.hidden = entries.length === 0;
  }

  async onCodeSubmit(event) {
    event.preventDefault();
    if (this.busy) return;
    this.setBusy(true);
    this.showStatus(this.strings.working);
    let entry;
    try {
      entry = await this.prepareCredential(this.codeInput.value);
    } catch (error) {
      // Nothing is stored yet: use the code directly. A refusal of the code is shown by the
      // server's own page; any other failure is announced there in a short notice.
      const aboutTheCode = error instanceof Refused && error.code !== CREDENTIALS_UNAVAILABLE;
      this.submitCodeDirectly({ notice: !aboutTheCode });
      return;
    }
    await this.issue(entry);
  }

  flagDirect() {
    if (this.codeForm.elements.namedItem("direct")) return;
    const flag = document.createElement("input");
    flag.type = "hidden";
    flag.name = "direct";
    flag.value = "1";
    this.codeForm.append(flag);
  }

  submitCodeDirectly({ notice }) {
    if (notice) this.flagDirect();
    postNatively(this.codeForm);
  }

  /** Everything up to storing the blinding state; nothing here has used the code. */
  async prepareCredential(code) {
    const admission = await postJson("/api/v1/admission", { code });
    const signingKey = admission.credential_key;
    if (!signingKey || !signingKey.public_key) throw new Error("no credential key");
    const entry = await blindedEntry(signingKey, {
      campaign: admission.campaign.slug,
      title: admission.campaign.title,
      rater_group: admission.rater_group.key,
      voucher: code,
    });
    putEntry(this.store, entry); // stored before the code is spent on issuance
    return entry;
  }

  /** Exchanges the stored blinded message for the credential, then starts rating with it. */
  async issue(entry) {
    let ready;
    try {
      ready = await this.finishIssuance(entry);
    } catch (error) {
      this.setBusy(false);
      if (error instanceof Refused) {
        // The code will not give a credential for this blinded message (used for another,
        // unknown, revoked): the stored state is useless. The server's page says why.
        dropEntry(this.store, entry);
        this.codeInput.value = entry.voucher;
        this.submitCodeDirectly({ notice: error.code === CREDENTIALS_UNAVAILABLE });
        return;
      }
      this.offerSavedCredentials();
      this.showStatus(
        error instanceof Unreachable ? this.strings.interrupted : this.strings.failed,
        { error: true }
      );
      return;
    }
    this.rateWith(ready);
  }

  finishIssuance(entry) {
    return finishIssuance(this.store, entry);
  }

  continueWith(entry) {
    if (this.busy) return;
    if (entry.state === "pending" && !entry.voucher) {
      // A roster member's unfinished issuance: the sign-in's cookie is needed again.
      window.location.assign(`/r/roster/${encodeURIComponent(entry.campaign)}`);
      return;
    }
    if (entry.state === "ready") {
      this.rateWith(entry);
      return;
    }
    this.setBusy(true);
    this.showStatus(this.strings.working);
    this.issue(entry);
  }

  /** Starts the rating steps with the credential: a form post, never a URL. */
  rateWith(entry) {
    this.setBusy(true);
    this.credentialInput.value = credentialText(entry);
    postNatively(this.credentialForm);
  }
}

// --- the roster sign-in page -----------------------------------------------------------------

function identifierFromFragment() {
  try {
    const value = new URLSearchParams(window.location.hash.slice(1)).get("id") || "";
    return value.trim().slice(0, 256);
  } catch {
    return "";
  }
}

class RosterPage {
  constructor(store) {
    this.store = store;
    this.form = document.getElementById("roster-form");
    this.identifier = document.getElementById("identifier");
    this.password = document.getElementById("password");
    this.credentialForm = document.getElementById("credential-form");
    this.credentialInput = document.getElementById("credential");
    this.status = document.getElementById("credential-status");
    this.strings = document.getElementById("rate-strings").dataset;
    this.busy = false;
  }

  start() {
    const identifier = identifierFromFragment();
    if (window.location.hash) {
      // The number never stays in the address bar or history; it goes only to the sign-in.
      history.replaceState(null, "", window.location.pathname + window.location.search);
    }
    if (identifier && !this.identifier.value) {
      this.identifier.value = identifier;
      this.password.focus();
    }
    if (credentialsSupported(this.store)) {
      this.form.addEventListener("submit", (event) => this.onSubmit(event));
    } else {
      // No WebCrypto, BigInt or storage: the server's sign-in, which says so on the next page.
      this.form.addEventListener("submit", () => this.flagDirect());
    }
  }

  showStatus(text, { error = false } = {}) {
    this.status.textContent = text;
    this.status.classList.toggle("error", error);
    this.status.classList.toggle("info", !error);
    this.status.setAttribute("role", error ? "alert" : "status");
    this.status.hidden = !text;
  }

  setBusy(busy) {
    this.busy = busy;
    this.form.classList.toggle("submitting", busy);
    for (const button of document.querySelectorAll("main button")) button.disabled = busy;
  }

  flagDirect() {
    if (this.form.elements.namedItem("direct")) return;
    const flag = document.createElement("input");
    flag.type = "hidden";
    flag.name = "direct";
    flag.value = "1";
    this.form.append(flag);
  }

  /** Rate without a credential: the server's own sign-in, which says so on the next page. */
  signInWithoutCredential() {
    this.flagDirect();
    postNatively(this.form);
  }

  refusalText(error) {
    const byCode = {
      roster_login_failed: this.strings.wrong,
      credential_issued: this.strings.issued,
      campaign_not_open: this.strings.notOpen,
    };
    return byCode[error.code] || error.message || this.strings.failed;
  }

  pendingEntry(campaign) {
    return readEntries(this.store, campaign).find(
      (entry) => entry.state === "pending" && !entry.voucher
    );
  }

  async onSubmit(event) {
    event.preventDefault();
    if (this.busy) return;
    this.setBusy(true);
    this.showStatus(this.strings.working);
    let login;
    try {
      login = await signInToRoster(
        this.form.dataset.campaign,
        this.identifier.value,
        this.password.value
      );
    } catch (error) {
      this.setBusy(false);
      if (error instanceof Refused) {
        this.showStatus(this.refusalText(error), { error: true });
        this.password.focus();
        return;
      }
      this.signInWithoutCredential();
      return;
    }
    // An issuance interrupted before: the same blinded message is signed again, no other.
    let entry = this.pendingEntry(login.campaign);
    if (!entry) {
      if (login.credential_issued) {
        this.setBusy(false);
        this.showStatus(this.strings.issued, { error: true });
        return;
      }
      try {
        if (!login.credential_key || !login.credential_key.public_key) {
          throw new Error("no credential key");
        }
        entry = await blindedEntry(login.credential_key, {
          campaign: login.campaign,
          title: this.form.dataset.title || login.campaign,
          rater_group: login.rater_group,
        });
        putEntry(this.store, entry); // stored before the member is served
      } catch {
        this.signInWithoutCredential(); // nothing was used: rate without a credential
        return;
      }
    }
    let ready;
    try {
      ready = await finishIssuance(this.store, entry);
    } catch (error) {
      this.setBusy(false);
      if (error instanceof Refused) {
        if (error.code !== "roster_session_missing") dropEntry(this.store, entry);
        this.showStatus(this.refusalText(error), { error: true });
        return;
      }
      this.showStatus(
        error instanceof Unreachable ? this.strings.interrupted : this.strings.failed,
        { error: true }
      );
      return;
    }
    this.credentialInput.value = credentialText(ready);
    postNatively(this.credentialForm);
  }
}

// --- a department's page: how many questions are answered ------------------------------------

function countAnswers() {
  const counter = document.getElementById("answered-count");
  const form = document.querySelector("form.rating-form");
  if (!counter || !form) return;
  const bar = document.getElementById("answered-bar");
  const total = Number(counter.dataset.total);
  const update = () => {
    const answered = form.querySelectorAll(".question input[type=radio]:checked").length;
    counter.textContent = counter.dataset.template
      .replace("{answered}", String(answered))
      .replace("{total}", String(total));
    if (bar) bar.value = answered;
  };
  form.addEventListener("change", update);
}

// --- a department's page: the first unanswered question, in view and focused ---------------

/** After the server named unanswered questions, the first of them is scrolled to the middle of
 * the screen (not under the sticky progress bar) and its first choice takes the focus, so a
 * rater at the top of a long page lands on question 10 instead of hunting for it. */
function focusFirstMissing() {
  const first = document.querySelector("form.rating-form .question.missing");
  if (!first) return;
  const input = first.querySelector("input");
  first.scrollIntoView({ block: "center" });
  if (input) input.focus({ preventScroll: true });
}

// --- the receipt: copy the tracker -----------------------------------------------------------

function selectText(element) {
  const range = document.createRange();
  range.selectNodeContents(element);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
}

function offerReceiptCopy() {
  const tracker = document.getElementById("receipt-code");
  const button = document.getElementById("receipt-copy");
  if (!tracker || !button) return;
  button.hidden = false;
  button.addEventListener("click", async () => {
    const text = tracker.textContent.trim();
    try {
      if (!navigator.clipboard || !window.isSecureContext) throw new Error("no clipboard");
      await navigator.clipboard.writeText(text);
      button.textContent = button.dataset.done || button.textContent;
    } catch {
      // WeChat and older browsers: select it, so that one press copies it.
      selectText(tracker);
      button.textContent = button.dataset.select || button.textContent;
    }
  });
}

// --- the rating steps: save the credential to rate later --------------------------------------

function offerCredentialDownload() {
  const text = document.getElementById("credential-text");
  const download = document.getElementById("credential-download");
  const copy = document.getElementById("credential-copy");
  if (!text) return;
  if (download && typeof Blob === "function" && window.URL && URL.createObjectURL) {
    download.href = URL.createObjectURL(new Blob([text.value + "\n"], { type: "text/plain" }));
    download.hidden = false;
  }
  if (copy && navigator.clipboard && window.isSecureContext) {
    copy.hidden = false;
    copy.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(text.value);
        copy.textContent = copy.dataset.done || copy.textContent;
      } catch {
        text.select();
      }
    });
  }
  text.addEventListener("focus", () => text.select());
}

// --- start -----------------------------------------------------------------------------------

const store = storage();
forgetSpentCredential(store);
if (document.getElementById("code-form")) {
  new EntryPage(store).start();
}
if (document.getElementById("roster-form")) {
  new RosterPage(store).start();
}
offerCredentialDownload();
countAnswers();
focusFirstMissing();
offerReceiptCopy();
