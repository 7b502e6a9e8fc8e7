"""Subresource Integrity hashes for the scripts a rater's browser runs.

The blind-signature client decides whether a rater stays anonymous, so pages load it with an
``integrity`` attribute and docs/guide.md publishes the same value: anyone can check that the
script served is the one reviewed. The value is ``sha384-`` and the base64 (standard alphabet,
padded) of the SHA-384 digest of the file's bytes exactly as served (W3C SRI §3.1).
"""

import base64
import hashlib
import os
from functools import cache
from pathlib import Path

from app.config import PROJECT_ROOT

STATIC_DIR = PROJECT_ROOT / "app" / "static"
BLIND_RSA_MODULE = STATIC_DIR / "js" / "blind-rsa.js"


def integrity(path: str | os.PathLike[str]) -> str:
    """The SRI value of the file at ``path``, such as ``sha384-…``.

    Read once per process and cached: static files do not change while the app runs, and a
    page render should not re-hash them. Restart after editing a script.
    """
    return _integrity(Path(path).resolve())


@cache
def _integrity(path: Path) -> str:
    digest = hashlib.sha384(path.read_bytes()).digest()
    return "sha384-" + base64.b64encode(digest).decode("ascii")
