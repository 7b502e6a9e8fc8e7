"""Split deployments (docs/privacy.md, "Two organisations, two halves"): what connects the
issuer and the collector for raters: links, the issuer's forwarding and no-JavaScript
handover page, and the browser rules (CORS, CSP) that let the rating page use both."""
