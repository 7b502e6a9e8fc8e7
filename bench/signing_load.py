"""Load generator for ``bench/signing.py``, run in its own process.

A small HTTP/1.1 client on asyncio (uvloop when available) over keep-alive connections:
``concurrency`` connections each POST their next request as soon as the previous answer
arrived, until every request was sent once. Requests are built before the clock starts.
Reads one JSON job on stdin (host, port, path, bodies_file with one JSON body per line,
concurrency, warmup: how many first answers are not counted) and writes one JSON result on
stdout: counts by status, latencies in seconds of the counted 200s, and the wall time from
the first counted answer to the last.
"""

import asyncio
import json
import sys
import time
from collections import Counter
from typing import Any


async def run(job: dict[str, Any]) -> dict[str, Any]:
    head = (
        f"POST {job['path']} HTTP/1.1\r\nHost: {job['host']}:{job['port']}\r\n"
        "Content-Type: application/json\r\nContent-Length: "
    ).encode()
    with open(job["bodies_file"], "rb") as bodies:
        requests = [
            head + str(len(body)).encode() + b"\r\n\r\n" + body
            for body in (line.rstrip(b"\n") for line in bodies)
            if body
        ]
    pending = iter(requests)
    statuses: Counter[str] = Counter()
    latencies: list[float] = []
    answered = 0
    counted_from: float | None = None
    warmup = job["warmup"]

    async def connection_worker() -> None:
        nonlocal answered, counted_from
        reader, writer = await asyncio.open_connection(job["host"], job["port"])
        try:
            for payload in pending:
                started = time.perf_counter()
                writer.write(payload)
                header = await reader.readuntil(b"\r\n\r\n")
                status = header[9:12].decode()
                lowered = header.lower()
                at = lowered.index(b"\r\ncontent-length:") + 17
                length = int(lowered[at : lowered.index(b"\r\n", at)])
                await reader.readexactly(length)
                finished = time.perf_counter()
                answered += 1
                if answered <= warmup:
                    statuses[f"warm-up {status}"] += 1
                    continue
                if counted_from is None:
                    counted_from = started
                statuses[status] += 1
                if status == "200":
                    latencies.append(finished - started)
        finally:
            writer.close()

    await asyncio.gather(*(connection_worker() for _ in range(job["concurrency"])))
    ended = time.perf_counter()
    return {
        "statuses": dict(statuses),
        "latencies": latencies,
        "elapsed": ended - (counted_from if counted_from is not None else ended),
    }


def main() -> None:
    job = json.load(sys.stdin)
    try:
        import uvloop

        outcome = uvloop.run(run(job))
    except ImportError:
        outcome = asyncio.run(run(job))
    json.dump(outcome, sys.stdout)


if __name__ == "__main__":
    main()
