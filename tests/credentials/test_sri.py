"""The Subresource Integrity value of the blind-signature client, checked independently.

The browser itself also checks it: tests/credentials/test_blind_rsa_browser.py loads the module
through ``<link rel="modulepreload" integrity=...>``.
"""

import base64
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from app.credentials import sri

SRI_VALUE = re.compile(r"^sha384-[A-Za-z0-9+/]{64}$")  # 48 bytes: 64 base64 chars, no padding


def openssl_integrity(path: Path) -> str:
    """The SRI value as the W3C spec's own example computes it, with the openssl CLI."""
    if shutil.which("openssl") is None:
        pytest.skip("no `openssl` executable on PATH")
    digest = subprocess.run(
        ["openssl", "dgst", "-sha384", "-binary", str(path)],
        check=True,
        capture_output=True,
    ).stdout
    encoded = subprocess.run(
        ["openssl", "base64", "-A"], input=digest, check=True, capture_output=True
    ).stdout
    return "sha384-" + encoded.decode("ascii").strip()


def test_blind_rsa_module_matches_openssl() -> None:
    value = sri.integrity(sri.BLIND_RSA_MODULE)

    assert SRI_VALUE.match(value)
    assert value == openssl_integrity(sri.BLIND_RSA_MODULE)


def test_known_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.js"
    path.write_bytes(b"")

    # SHA-384 of the empty string (FIPS 180-4 example), base64-encoded.
    empty_sha384 = bytes.fromhex(
        "38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da"
        "274edebfe76f65fbd51ad2f14898b95b"
    )
    assert sri.integrity(path) == "sha384-" + base64.b64encode(empty_sha384).decode()
    assert sri.integrity(path) == openssl_integrity(path)


def test_value_is_cached_per_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "script.js"
    path.write_text("export const a = 1;\n")
    first = sri.integrity(path)

    path.write_text("export const a = 2;\n")
    monkeypatch.chdir(tmp_path)

    assert sri.integrity(path) == first
    assert sri.integrity("script.js") == first  # the same file by a relative path
    assert sri.integrity(os.fspath(path)) == first
    other = tmp_path / "other.js"
    other.write_text("export const a = 2;\n")
    assert sri.integrity(other) != first


def test_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        sri.integrity(tmp_path / "missing.js")


class TestPublishedHash:
    def test_the_guide_publishes_the_current_hash(self) -> None:
        from app.config import PROJECT_ROOT

        readme = (PROJECT_ROOT / "docs" / "guide.md").read_text(encoding="utf-8")

        assert sri.integrity(sri.BLIND_RSA_MODULE) in readme
