"""What a benchmark ran on, printed at the top of every benchmark's output."""

import os
import platform
import sys
from pathlib import Path


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _memory_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    except OSError:
        pass
    return "unknown memory"


def describe() -> str:
    """One line: cores, CPU, memory, OS and Python, e.g. for the head of a benchmark's output."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"machine: {cores} cores ({_cpu_model()}), {_memory_gib()}, "
        f"{platform.system()} {platform.release()}, Python {sys.version.split()[0]}"
    )


def print_header(title: str) -> None:
    print(f"# {title}")
    print(f"# {describe()}")


if __name__ == "__main__":
    print(describe())
