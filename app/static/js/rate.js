// Pingyi rating pages. Progressive enhancement only: every step also works without JavaScript.
//
// 1. A QR code on a slip opens /r#CODE. Browsers never send the fragment to the server, so the
//    code stays out of access logs and Referer headers; this script moves it into the form,
//    removes it from the address bar and history, and posts the form.
//
// 2. With WebCrypto and BigInt, the code is not used to rate directly: it is a voucher for an
//    anonymous credential (DESIGN.md, "Admission"). The script asks what the code admits to
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

/** POSTs JSON without cookies or referrer; resolves to the parsed body of a 2xx answer. */
async function postJson(path, body) {
  let response;
  try {
    response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
      credentials: "omit",
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
    const blindRsa = await import(BLIND_RSA_URL);
    const admission = await postJson("/api/v1/admission", { code });
    const signingKey = admission.credential_key;
    if (!signingKey || !signingKey.public_key) throw new Error("no credential key");
    const publicKey = await blindRsa.importPublicKey(blindRsa.fromBase64Url(signingKey.public_key));
    const prepared = blindRsa.prepare(crypto.getRandomValues(new Uint8Array(NONCE_BYTES)));
    const { blindedMsg, inv } = await blindRsa.blind(publicKey, prepared);
    const entry = {
      id: randomId(),
      state: "pending",
      campaign: admission.campaign.slug,
      title: admission.campaign.title,
      rater_group: admission.rater_group.key,
      voucher: code,
      public_key: signingKey.public_key,
      prepared: blindRsa.toBase64Url(prepared),
      blinded: blindRsa.toBase64Url(blindedMsg),
      inv: blindRsa.toBase64Url(inv),
    };
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

  async finishIssuance(entry) {
    const blindRsa = await import(BLIND_RSA_URL);
    let answer;
    for (let attempt = 1; ; attempt++) {
      try {
        answer = await postJson("/api/v1/credentials", {
          voucher: entry.voucher,
          blinded_message: entry.blinded,
        });
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
    putEntry(this.store, ready); // replaces the pending state: code and blinding factor gone
    return ready;
  }

  continueWith(entry) {
    if (this.busy) return;
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
offerCredentialDownload();
