"""The pinned dependencies: the lock files cover what pyproject.toml asks for, every pin has
hashes, and none has a known vulnerability (where a vulnerability database can be reached)."""

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from app.config import PROJECT_ROOT

DEV_LOCK = PROJECT_ROOT / "requirements" / "dev.lock"
APP_LOCK = PROJECT_ROOT / "requirements" / "app.lock"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+) \\$", re.MULTILINE)


def normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lock: Path) -> dict[str, str]:
    return {normalised(name): version for name, version in PIN.findall(lock.read_text())}


def requirement_names(requirements: list[str]) -> set[str]:
    return {normalised(re.split(r"[\[<>=!~; ]", line, maxsplit=1)[0]) for line in requirements}


def project() -> dict[str, object]:
    with (PROJECT_ROOT / "pyproject.toml").open("rb") as stream:
        return tomllib.load(stream)["project"]  # type: ignore[no-any-return]


def test_the_lock_files_pin_every_dependency_the_project_names() -> None:
    spec = project()
    runtime = requirement_names(spec["dependencies"])  # type: ignore[arg-type]
    dev = requirement_names(spec["optional-dependencies"]["dev"])  # type: ignore[index]

    assert runtime <= set(pins(APP_LOCK)), runtime - set(pins(APP_LOCK))
    assert runtime | dev <= set(pins(DEV_LOCK)), (runtime | dev) - set(pins(DEV_LOCK))


def test_the_image_runs_the_same_versions_as_development() -> None:
    development = pins(DEV_LOCK)

    for name, version in pins(APP_LOCK).items():
        assert development.get(name) == version, name


def test_every_pin_carries_hashes() -> None:
    for lock in (DEV_LOCK, APP_LOCK):
        blocks = re.split(r"\n(?=[A-Za-z0-9])", lock.read_text())
        for block in blocks:
            if PIN.match(block):
                assert "--hash=sha256:" in block, (lock.name, block.splitlines()[0])


@pytest.mark.slow
def test_no_pinned_dependency_has_a_known_vulnerability() -> None:
    audit = shutil.which("pip-audit", path=str(Path(sys.executable).parent))
    if audit is None:
        pytest.skip("pip-audit is not installed")
    try:
        finished = subprocess.run(
            [audit, "--disable-pip", "--require-hashes", "-r", str(DEV_LOCK), "-f", "json"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.skip("no vulnerability database answered within 120 s")
    try:
        report = json.loads(finished.stdout)
    except json.JSONDecodeError:
        pytest.skip(f"no vulnerability database could be reached: {finished.stderr[-300:]}")
    audited = [
        dependency for dependency in report["dependencies"] if "skip_reason" not in dependency
    ]
    if not audited:
        pytest.skip(
            "the package index answering here has no vulnerability data for any pinned "
            "release (pip-audit skipped all of them)"
        )
    vulnerable = {
        dependency["name"]: [vuln["id"] for vuln in dependency["vulns"]]
        for dependency in audited
        if dependency.get("vulns")
    }
    assert not vulnerable, vulnerable
