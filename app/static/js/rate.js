// Pingyi rating page. Progressive enhancement only: every step also works without JavaScript.
//
// A QR code on a slip opens /r#CODE. Browsers never send the fragment to the server, so the
// code stays out of access logs and Referer headers; this script moves it into the form, removes
// it from the address bar and history, and posts the form.

const form = document.getElementById("code-form");
const input = document.getElementById("code");

function codeFromFragment() {
  let fragment;
  try {
    fragment = decodeURIComponent(window.location.hash.slice(1)).trim();
  } catch {
    return ""; // a malformed escape (a stray "%") cannot be a code
  }
  return /^[0-9A-Za-z\- ]{16,40}$/.test(fragment) ? fragment : "";
}

if (form && input) {
  const code = codeFromFragment();
  if (window.location.hash) {
    history.replaceState(null, "", window.location.pathname + window.location.search);
  }
  if (code && !document.getElementById("code-error")) {
    input.value = code;
    form.classList.add("submitting");
    form.requestSubmit();
  }
}
