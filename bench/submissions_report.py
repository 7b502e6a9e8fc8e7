"""The figures of ``bench/submissions.py``: what one load phase, one campaign and one engine
measured, and how they are printed (each round, the median, and sealed / unsealed)."""

import argparse
import os
from collections import Counter
from dataclasses import dataclass, field

from _ballot_box import CryptoCost, Stored, TallyTiming, median, spread
from submissions_database import ITEMS_PER_EVALUATION, SEALED, UNSEALED, VARIANT_NAMES, VARIANTS

BUDGET = 0.10  # the sealed box may cost at most this share of the unsealed accepted/s


@dataclass
class Phase:
    """What the load generator reported for one phase, with the CPU it and others used."""

    statuses: Counter[str]
    warmup_statuses: Counter[str]
    latencies: list[float]
    elapsed: float
    generator_cpu: float
    server_cpu: float
    machine_busy: float  # share of all cores busy over the phase, 0..1
    others_cores: float  # cores' worth of CPU used by processes not in this benchmark
    codes_ran_out: bool
    server_cpu_per_request: float  # seconds
    database_cpu_per_request: float  # seconds, PostgreSQL's backends (SQLite runs in-process)

    @property
    def generator_cpu_per_request(self) -> float:
        return self.generator_cpu / max(1, sum(self.statuses.values()))

    @property
    def cpu_per_request(self) -> float:
        """Server, database and generator CPU seconds per request, all together."""
        return (
            self.server_cpu_per_request
            + self.database_cpu_per_request
            + self.generator_cpu_per_request
        )

    @property
    def accepted(self) -> int:
        return self.statuses.get("201", 0)

    @property
    def all_accepted(self) -> int:
        """201s including the warm-up's: every ballot this phase stored."""
        return self.accepted + self.warmup_statuses.get("201", 0)

    @property
    def throughput(self) -> float:
        return self.accepted / self.elapsed

    @property
    def refused(self) -> dict[str, int]:
        return {status: n for status, n in self.statuses.items() if status != "201"}

    def percentile(self, share: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


@dataclass
class VariantResult:
    """One campaign's figures, one entry per round."""

    variant: str
    db_only_service: list[float] = field(default_factory=list)  # submissions per second
    db_only_service_cpu: list[float] = field(default_factory=list)  # seconds per submission
    db_only_statements: list[float] = field(default_factory=list)
    statements: list[str] = field(default_factory=list)
    closed: list[Phase] = field(default_factory=list)
    opened: list[Phase] = field(default_factory=list)
    db_only_count: int = 0  # database-only submissions, all stored
    stored: Stored = field(default_factory=Stored)
    table_bytes: int = 0  # of the tables that hold its ballots

    @property
    def expected(self) -> int:
        return self.db_only_count + sum(
            phase.all_accepted for phase in (*self.closed, *self.opened)
        )

    @property
    def consistent(self) -> bool:
        held = self.stored
        if self.variant == SEALED:
            return (
                held.ballots_in_box == held.used_codes == self.expected
                and held.evaluations == held.receipts == 0
            )
        return (
            held.evaluations == held.used_codes == held.receipts == self.expected
            and held.ballots_in_box == 0
        )


@dataclass
class EngineResult:
    engine: str
    workers: int
    variants: dict[str, VariantResult] = field(
        default_factory=lambda: {variant: VariantResult(variant) for variant in VARIANTS}
    )
    tally: TallyTiming | None = None
    tallied_evaluations: int = 0
    server_problems: list[str] = field(default_factory=list)

    @property
    def consistent(self) -> bool:
        sealed = self.variants[SEALED]
        return (
            all(result.consistent for result in self.variants.values())
            and self.tally is not None
            and self.tally.counted == sealed.expected
            and self.tally.rejected == 0
            and self.tallied_evaluations == sealed.expected
        )


# --- output ---------------------------------------------------------------------------------


def ms(seconds: float, digits: int = 1) -> str:
    return f"{seconds * 1000:.{digits}f}"


def ratios(sealed: list[float], unsealed: list[float]) -> list[float]:
    """Sealed / unsealed of each round: the two ran next to each other."""
    return [a / b for a, b in zip(sealed, unsealed, strict=True) if b]


def ratio_text(sealed: list[float], unsealed: list[float]) -> str:
    each = ratios(sealed, unsealed)
    if not each:
        return "n/a"
    return f"{median(each):.3f} ({min(each):.3f}–{max(each):.3f})"


def print_results(
    results: list[EngineResult], crypto: CryptoCost, args: argparse.Namespace
) -> None:
    cores = len(os.sched_getaffinity(0))
    print(
        f"# one submission = POST /api/v1/ballots with a fresh code, rating one department on "
        f"{ITEMS_PER_EVALUATION} items with a comment; pingyi serve --workers {args.workers}; "
        f"closed loop: {args.concurrency} connections for {args.duration:g} s after "
        f"{args.warmup:g} s warm-up; open loop: {args.rate:g}/s for {args.rate_duration:g} s; "
        f"database only: {args.db_only} submissions each way"
    )
    print(
        f"# {args.rounds} rounds; each measurement runs on both campaigns back to back, the "
        "order alternating (A B, B A, …). Figures: median of the rounds (lowest–highest)."
    )
    print(
        "# sealed box: the campaign has a tally key, each ballot is sealed (HPKE "
        "ML-KEM-768+X25519) into ballot_box;\n# unsealed (previous path): a campaign without "
        "tally key, evaluations and a receipt stored at once."
    )
    print()
    print(
        f"{'engine':<9} {'path':<25} {'accepted/s':>18} {'p50 ms':>6} {'p99 ms':>7} "
        f"{'service-only/s':>18} {'SQL-only/s':>18} {'CPU ms/req':>10} {'server':>6} "
        f"{'service':>7} {'busy':>5} {'others':>6}  stored"
    )
    for result in results:
        for variant in VARIANTS:
            outcome = result.variants[variant]
            print(
                f"{result.engine:<9} {VARIANT_NAMES[variant]:<25} "
                f"{spread(_rates(outcome)):>18} "
                f"{ms(median([phase.percentile(0.5) for phase in outcome.opened])):>6} "
                f"{ms(median([phase.percentile(0.99) for phase in outcome.opened])):>7} "
                f"{spread(outcome.db_only_service):>18} "
                f"{spread(outcome.db_only_statements):>18} "
                f"{ms(median(_cpu(outcome)), 2):>10} "
                f"{ms(median(_server_cpu(outcome)), 2):>6} "
                f"{ms(median(outcome.db_only_service_cpu), 2):>7} "
                f"{median([phase.machine_busy for phase in outcome.closed]) * 100:>4.0f}% "
                f"{median([phase.others_cores for phase in outcome.closed]):>6.2f}  "
                f"{'ok' if outcome.consistent else 'MISMATCH'}"
            )
        sealed, unsealed = result.variants[SEALED], result.variants[UNSEALED]
        print(
            f"{result.engine:<9} {'sealed / unsealed':<25} "
            f"{ratio_text(_rates(sealed), _rates(unsealed)):>18} "
            f"{'':>6} {'':>7} "
            f"{ratio_text(sealed.db_only_service, unsealed.db_only_service):>18} "
            f"{ratio_text(sealed.db_only_statements, unsealed.db_only_statements):>18} "
            f"{median(ratios(_cpu(sealed), _cpu(unsealed))):>10.2f} "
            f"{median(ratios(_server_cpu(sealed), _server_cpu(unsealed))):>6.2f} "
            f"{median(ratios(sealed.db_only_service_cpu, unsealed.db_only_service_cpu)):>7.2f}"
        )
    print(
        "# accepted/s: 201s per second, closed loop; p50/p99: open loop, from each request's "
        "intended send time (median of the rounds).\n"
        "# service-only/s: the API's service function and a commit, no HTTP, one process; "
        "SQL-only/s: its bare statements,\n#   ciphertexts made beforehand. sealed / unsealed: "
        "the ratio within each round (the two ran back to back), median (range).\n"
        "# CPU ms/req: server + PostgreSQL backends + load generator per request, closed loop; "
        "server: the server's part;\n#   service: this process's CPU per service-only "
        f"submission. busy: all {cores} cores, closed loop; others: cores' worth used by "
        "processes\n#   outside this benchmark meanwhile. PostgreSQL backends count only if "
        "alive at both ends of a phase: those the\n#   server's pool opens and closes during it "
        "fall under others.\n"
    )
    print("Budget: the sealed box may cost at most 10% of the unsealed path's accepted/s.")
    for result in results:
        sealed, unsealed = result.variants[SEALED], result.variants[UNSEALED]
        for name, a, b in (
            ("HTTP accepted/s", _rates(sealed), _rates(unsealed)),
            ("service only", sealed.db_only_service, unsealed.db_only_service),
        ):
            each = ratios(a, b)
            if not each:
                continue
            cost = 1 - median(each)
            print(
                f"  {result.engine}, {name}: sealed costs {cost:.1%} (per round "
                f"{', '.join(f'{1 - r:.1%}' for r in each)}): "
                + ("within" if cost <= BUDGET else "OVER")
                + " the budget"
            )
        for name, a, b in (
            ("CPU per request (capacity)", _cpu(sealed), _cpu(unsealed)),
            (
                "service CPU per submission",
                sealed.db_only_service_cpu,
                unsealed.db_only_service_cpu,
            ),
        ):
            each = ratios(b, a)  # unsealed / sealed CPU: the throughput ratio CPU allows
            if each:
                print(
                    f"  {result.engine}, {name}: sealed needs {1 / median(each) - 1:+.1%} CPU, "
                    f"i.e. {1 - median(each):.1%} fewer ballots per CPU-second"
                )
    print()
    print_crypto(results, crypto)
    for result in results:
        print_details(result, args)


def _rates(outcome: VariantResult) -> list[float]:
    return [phase.throughput for phase in outcome.closed]


def _cpu(outcome: VariantResult) -> list[float]:
    return [phase.cpu_per_request for phase in outcome.closed]


def _server_cpu(outcome: VariantResult) -> list[float]:
    return [phase.server_cpu_per_request for phase in outcome.closed]


def print_crypto(results: list[EngineResult], crypto: CryptoCost) -> None:
    print(
        f"crypto alone, one ballot ({crypto.plaintext_bytes} bytes of plaintext, padded to "
        f"{crypto.ciphertext_bytes - 1120 - 16} bytes): seal {spread(crypto.seal_us)} µs, "
        f"open {spread(crypto.open_us)} µs (median of {len(crypto.seal_us)} × 1000, "
        "lowest–highest)"
    )
    print(
        f"stored per ballot: ciphertext {crypto.ciphertext_bytes} bytes + 32-byte tracker "
        f"= {crypto.stored_bytes} bytes of values"
    )
    for result in results:
        sealed, unsealed = result.variants[SEALED], result.variants[UNSEALED]
        in_box = max(1, sealed.stored.ballots_in_box)
        direct = max(1, unsealed.stored.evaluations)
        print(
            f"  {result.engine}: on disk, ballot_box {sealed.table_bytes / in_box:,.0f} "
            f"bytes per sealed ballot ({sealed.table_bytes / 2**20:.1f} MiB for {in_box}); "
            f"evaluations + receipts {unsealed.table_bytes / direct:,.0f} bytes per unsealed "
            f"ballot ({unsealed.table_bytes / 2**20:.1f} MiB for {direct})"
        )
    print()


def print_details(result: EngineResult, args: argparse.Namespace) -> None:
    print(f"{result.engine}:")
    for variant in VARIANTS:
        outcome = result.variants[variant]
        print(f"  {VARIANT_NAMES[variant]}:")
        for index, (closed, opened) in enumerate(zip(outcome.closed, outcome.opened, strict=True)):
            print(
                f"    round {index + 1}: closed loop {closed.throughput:.0f}/s "
                f"({closed.accepted} in {closed.elapsed:.1f} s), p50 "
                f"{ms(closed.percentile(0.5))} ms, p99 {ms(closed.percentile(0.99))} ms; CPU "
                f"per request server {ms(closed.server_cpu_per_request, 2)} ms, database "
                f"{ms(closed.database_cpu_per_request, 2)} ms, generator "
                f"{ms(closed.generator_cpu_per_request, 2)} ms; machine busy "
                f"{closed.machine_busy:.0%}, others {closed.others_cores:.2f} cores"
                + ("; RAN OUT OF CODES, raise --max-rate" if closed.codes_ran_out else "")
            )
            print(
                f"             open loop at {args.rate:g}/s: {opened.accepted} accepted, p50 "
                f"{ms(opened.percentile(0.5))} ms, p90 {ms(opened.percentile(0.9))} ms, p99 "
                f"{ms(opened.percentile(0.99))} ms, max "
                f"{ms(max(opened.latencies, default=float('nan')))} ms; machine busy "
                f"{opened.machine_busy:.0%}, others {opened.others_cores:.2f} cores"
            )
            for name, phase in (("closed", closed), ("open", opened)):
                if phase.refused:
                    print(f"    NOT ACCEPTED in the {name} loop: {phase.refused}")
        print(
            f"    database only, per round: service {_each(outcome.db_only_service)}/s; "
            f"bare SQL {_each(outcome.db_only_statements)}/s; service CPU per submission "
            + " ".join(ms(cpu, 2) for cpu in outcome.db_only_service_cpu)
            + " ms"
        )
        print(f"    one submission: {' | '.join(outcome.statements)}")
        held = outcome.stored
        if variant == SEALED:
            found = f"{held.ballots_in_box} sealed ballots in the box, {held.used_codes} used codes"
        else:
            found = (
                f"{held.evaluations} evaluations, {held.used_codes} used codes, "
                f"{held.receipts} receipts"
            )
        print(
            f"    stored: {found}; 201s plus database-only submissions: {outcome.expected}: "
            + ("ok" if outcome.consistent else "MISMATCH")
        )
    tally = result.tally
    if tally is not None:
        per_ballot = tally.tally / max(1, tally.ballots) * 1e6
        print(
            f"  tally of the sealed box, {tally.ballots} ballots: {tally.tally:.2f} s "
            f"({per_ballot:.0f} µs per ballot): reading, decrypting and checking "
            f"(opening.open_box) {tally.open_box:.2f} s; all of tally_campaign "
            f"{tally.in_transaction:.2f} s; commit {tally.commit:.2f} s; vacuum "
            f"{tally.vacuum:.2f} s. Closing first took {tally.close:.2f} s."
        )
        print(
            f"    counted {tally.counted}, rejected {tally.rejected}; evaluations stored "
            f"{result.tallied_evaluations}, 201s plus database-only "
            f"{result.variants[SEALED].expected}: " + ("ok" if result.consistent else "MISMATCH")
        )
    if result.server_problems:
        print(f"  the server logged {len(result.server_problems)} problem lines, e.g.:")
        for line in result.server_problems[:5]:
            print(f"    {line[:200]}")
    print()


def _each(values: list[float]) -> str:
    return " ".join(f"{value:.0f}" for value in values)
