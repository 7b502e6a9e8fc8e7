// The verification page (/verify/{slug}). Progressive enhancement: without JavaScript the form
// posts and the answer is shown at the top of the reloaded page.
//
// 1. The receipt's QR code opens /verify/{slug}#TRACKER. Browsers never send the fragment to
//    the server: this script puts it into the receipt field (and takes it out of the address bar
//    and history), so the tracker reaches the server only if the rater presses "Check".
// 2. The check answers in place, above the form, without reloading the page: the form is posted
//    the same way (no cookies, no referrer) and the answer is taken from the returned page.
//
// No inline scripts (CSP script-src 'self'); every text shown comes from the server's page.

const TRACKER = /^[0-9A-Fa-f]{4}([- ]?[0-9A-Fa-f]{4}){7,15}$/;

function trackerFromFragment() {
  let fragment;
  try {
    fragment = decodeURIComponent(window.location.hash.slice(1)).trim();
  } catch {
    return "";
  }
  return TRACKER.test(fragment) ? fragment : "";
}

function fillFromFragment(input, button) {
  const tracker = trackerFromFragment();
  if (!tracker) return;
  history.replaceState(null, "", window.location.pathname + window.location.search);
  if (!input.value) input.value = tracker;
  button.focus();
}

async function checkInPlace(form, input, result) {
  let response;
  try {
    response = await fetch(form.action, {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      credentials: "omit",
      cache: "no-store",
      referrerPolicy: "no-referrer",
    });
  } catch {
    return false; // offline or refused: let the form post normally
  }
  if (response.status >= 500) return false;
  const page = new DOMParser().parseFromString(await response.text(), "text/html");
  const answer = page.getElementById("check-result");
  const answered = page.getElementById("receipt");
  if (!answer) return false;
  result.replaceChildren(...Array.from(answer.childNodes, (node) => document.importNode(node, true)));
  if (answered && answered.getAttribute("aria-invalid") === "true") {
    input.setAttribute("aria-invalid", "true");
  } else {
    input.removeAttribute("aria-invalid");
  }
  result.scrollIntoView({ block: "nearest" });
  return true;
}

function start() {
  const form = document.querySelector("#receipts form");
  const input = document.getElementById("receipt");
  const result = document.getElementById("check-result");
  if (!form || !input || !result) return;
  const button = form.querySelector("button[type=submit]");
  fillFromFragment(input, button);
  let busy = false;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (busy) return;
    busy = true;
    button.disabled = true;
    const done = await checkInPlace(form, input, result);
    button.disabled = false;
    busy = false;
    if (!done) HTMLFormElement.prototype.submit.call(form);
  });
}

start();
