// Pingyi, split deployment: the issuer's /r forwards raters to the collector's rating page.
// The code travels in the URL fragment (/r#CODE), which browsers never send to a server; it is
// carried over to the collector's address here, in the browser, and never reaches the issuer.
// No inline script (CSP script-src 'self'): the collector's address comes from the page.
(function () {
  const marker = document.getElementById("split-forward");
  const collector = marker && marker.dataset.collectorUrl;
  if (!collector || document.getElementById("code-error")) return;
  window.location.replace(collector + "/r" + window.location.search + window.location.hash);
})();
