"""Load generator for ``bench/submissions.py``, run in its own process.

A deliberately small HTTP/1.1 client on asyncio (uvloop when available) over keep-alive
connections: every request is built before the clock starts, a response is read by its
Content-Length and only its status is kept, so the generator's own CPU cost per request
stays low on a 2-core machine that also runs the server and the database. Reads one JSON
job on stdin and writes one JSON result on stdout.

Job fields:
    host, port, path        where to POST
    bodies_file             one request body (JSON) per line; each is sent at most once
    mode                    "closed": ``concurrency`` connections, each sending its next
                            request as soon as the previous answer arrived, for ``duration``
                            seconds (after ``warmup`` seconds that are not counted);
                            "open": ``rate`` requests per second for ``duration`` seconds at
                            fixed intended send times, latency measured from the intended
                            time (no coordinated omission), over a pool of ``concurrency``
                            connections.
    method, count           optional, for comparisons: "GET" sends ``count`` bodiless GETs
    timeline                optional, open loop: also return (intended send time, latency)
                            of every answered request, to see when slow ones happened

Result: counts by status (warm-up apart), latencies (seconds, of counted 201s), elapsed
wall time and the generator's own CPU seconds over the counted phase.
"""

import asyncio
import json
import resource
import sys
import time
from collections import Counter, deque
from typing import Any


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class ConnectionFailed(Exception):
    """The connection closed or failed before a whole response arrived."""


class Connection(asyncio.Protocol):
    """One keep-alive connection that carries one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[int] | None = None
        self.header_end = -1
        self.expected = -1
        self.status = 0
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionFailed(str(exc or "closed by server")))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.header_end < 0:
            self.header_end = self.buffer.find(b"\r\n\r\n")
            if self.header_end < 0:
                return
            head = bytes(self.buffer[: self.header_end]).lower()
            self.status = int(head[9:12])
            at = head.find(b"\r\ncontent-length:")
            if at < 0:  # every answer of this API has a length; treat anything else as broken
                self._fail("response without Content-Length")
                return
            end = head.find(b"\r\n", at + 2)
            self.expected = self.header_end + 4 + int(head[at + 17 : end if end > 0 else None])
        if len(self.buffer) >= self.expected:
            del self.buffer[: self.expected]
            self.header_end = -1
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_result(self.status)

    def _fail(self, reason: str) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionFailed(reason))
        if self.transport is not None:
            self.transport.close()

    async def request(self, payload: bytes) -> int:
        """Send one whole request and wait for its status."""
        if self.closed or self.transport is None:
            raise ConnectionFailed("connection already closed")
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(payload)
        return await self.waiter


def load_requests(job: dict[str, Any]) -> list[bytes]:
    if job.get("method", "POST") == "GET":  # for comparing with a request that does nothing
        get = f"GET {job['path']} HTTP/1.1\r\nHost: {job['host']}:{job['port']}\r\n\r\n"
        return [get.encode()] * job["count"]
    head = (
        f"POST {job['path']} HTTP/1.1\r\nHost: {job['host']}:{job['port']}\r\n"
        "Content-Type: application/json\r\nAccept-Language: en\r\nContent-Length: "
    ).encode()
    with open(job["bodies_file"], "rb") as bodies:
        return [
            head + str(len(body)).encode() + b"\r\n\r\n" + body
            for body in (line.rstrip(b"\n") for line in bodies)
            if body
        ]


async def connect(job: dict[str, Any]) -> Connection:
    loop = asyncio.get_running_loop()
    _transport, protocol = await loop.create_connection(Connection, job["host"], job["port"])
    return protocol


class Recorder:
    def __init__(self) -> None:
        self.counting = False
        self.statuses: Counter[str] = Counter()
        self.warmup_statuses: Counter[str] = Counter()
        self.latencies: list[float] = []

    def record(self, status: str, latency: float) -> None:
        if not self.counting:
            self.warmup_statuses[status] += 1
            return
        self.statuses[status] += 1
        if status == "201":
            self.latencies.append(latency)


async def closed_loop(job: dict[str, Any], requests: list[bytes]) -> dict[str, Any]:
    """``concurrency`` connections, each sending its next request as soon as it can."""
    recorder = Recorder()
    pending = iter(requests)
    stop_at = time.perf_counter() + job["warmup"] + job["duration"]
    connections = [await connect(job) for _ in range(job["concurrency"])]

    async def worker(connection: Connection) -> None:
        for payload in pending:
            started = time.perf_counter()
            if started >= stop_at:
                return
            try:
                status = str(await connection.request(payload))
            except ConnectionFailed:
                recorder.record("connection error", 0.0)
                connection = await connect(job)
                continue
            recorder.record(status, time.perf_counter() - started)

    tasks = [asyncio.ensure_future(worker(connection)) for connection in connections]
    await asyncio.sleep(job["warmup"])
    recorder.counting = True
    counted_from = time.perf_counter()
    cpu_from = cpu_seconds()
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - counted_from
    cpu = cpu_seconds() - cpu_from
    exhausted = next(pending, None) is None
    return result(recorder, elapsed, cpu, codes_ran_out=exhausted)


async def open_loop(job: dict[str, Any], requests: list[bytes]) -> dict[str, Any]:
    """``rate`` requests per second at fixed intended times, over a pool of connections.

    A request whose intended time has come waits for a free connection if there is none;
    that wait is part of its latency. Connections are used round robin, so none sits idle
    long enough for the server's keep-alive timeout to close it.
    """
    recorder = Recorder()
    recorder.counting = True
    rate = job["rate"]
    count = min(len(requests), int(rate * job["duration"]))
    idle: deque[Connection] = deque([await connect(job) for _ in range(job["concurrency"])])
    available = asyncio.Condition()
    loop = asyncio.get_running_loop()

    async def send(payload: bytes, intended: float) -> None:
        async with available:
            await available.wait_for(lambda: bool(idle))
            connection = idle.popleft()
        try:
            status = str(await connection.request(payload))
        except ConnectionFailed:
            recorder.record("connection error", 0.0)
            connection = await connect(job)
        else:
            recorder.record(status, time.perf_counter() - intended)
            if job.get("timeline"):
                timeline.append(
                    (round(intended - start, 4), round(time.perf_counter() - intended, 4))
                )
        async with available:
            idle.append(connection)
            available.notify()

    tasks: list[asyncio.Future[None]] = []
    timeline: list[tuple[float, float]] = []
    start = time.perf_counter() + 0.05
    cpu_from = cpu_seconds()
    for index in range(count):
        intended = start + index / rate
        delay = intended - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(loop.create_task(send(requests[index], intended)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    cpu = cpu_seconds() - cpu_from
    outcome = result(recorder, elapsed, cpu, codes_ran_out=count < int(rate * job["duration"]))
    if job.get("timeline"):
        outcome["timeline"] = timeline
    return outcome


def result(
    recorder: Recorder, elapsed: float, cpu: float, *, codes_ran_out: bool
) -> dict[str, Any]:
    return {
        "statuses": dict(recorder.statuses),
        "warmup_statuses": dict(recorder.warmup_statuses),
        "latencies": recorder.latencies,
        "elapsed": elapsed,
        "cpu_seconds": cpu,
        "codes_ran_out": codes_ran_out,
    }


def main() -> None:
    job = json.load(sys.stdin)
    requests = load_requests(job)
    run = closed_loop if job["mode"] == "closed" else open_loop
    try:
        import uvloop

        outcome = uvloop.run(run(job, requests))
    except ImportError:
        outcome = asyncio.run(run(job, requests))
    json.dump(outcome, sys.stdout)


if __name__ == "__main__":
    main()
