"""What the fault tests share: a real ``pingyi serve --workers 2`` on a throwaway PostgreSQL
database, an open campaign with codes and voucher-issued credentials and a tally key, a load
generator that records every response, and the exactly-once checks on what was stored.

Every ballot is sealed into the campaign's ballot box as one ciphertext. Every submission
carries a marker in its comments (one per ballot, the same on each of its evaluations); the
checks open the box in memory with the trustees' shares, as a tally would, so they can tell,
ballot by ballot, whether it was stored whole, not at all, or twice, and that its receipt is
its tracker. Then they run the tally itself (rolled back) and check that it counts every
stored ballot, whole.
"""

import contextlib
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app.admission import codes as code_format
from app.admission import service as admission_service
from app.admission.models import AdmissionCode, CodeStatus
from app.ballot_box import contents as ballot_contents
from app.ballot_box import service as box_service
from app.ballot_box import shares, tally_key
from app.ballot_box.models import SealedBallot
from app.ballots import models as ballot_models
from app.ballots import receipts
from app.ballots.models import Evaluation
from app.campaigns import lifecycle
from app.campaigns import service as campaign_service
from app.campaigns.models import RaterGroup
from app.campaigns.schemas import CampaignSpec
from app.config import PROJECT_ROOT
from app.credentials import blind_rsa, spending
from app.credentials import keys as credential_keys
from app.credentials import models as credential_models
from app.db import committing
from app.departments import service as department_service
from app.surveys import service as survey_service

SECRET_KEY = "faults-test-secret-key"
CODE_GROUP = "citizens"  # rates with admission codes
CREDENTIAL_GROUP = "enterprises"  # its codes are vouchers, exchanged for credentials
TARGETS = ("FA1", "FA2")  # every ballot rates both, so a whole ballot is two evaluations
DEPARTMENTS_CSV = "单位代码,单位名称,类别\nFA1,区甲局,综合类\nFA2,区乙局,综合类\n"
STARTED_WORKER = re.compile(r"Started server process \[(\d+)\]")
POLL_SECONDS = 0.05
REQUEST_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def pingyi_command() -> Path:
    """The ``pingyi`` script of the interpreter running the tests (the project's venv)."""
    return Path(sys.executable).parent / "pingyi"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for(
    condition: Callable[[], Any], *, timeout: float, what: str, interval: float = POLL_SECONDS
) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


# --- the server ----------------------------------------------------------------------------


class Server:
    """``pingyi serve --workers N`` in its own session, its output in ``log_path``."""

    def __init__(self, database_url: str, var_dir: Path, *, workers: int = 2) -> None:
        self.database_url = database_url
        self.var_dir = var_dir
        self.workers = workers
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = var_dir / "server.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, *options: str) -> None:
        """Start ``pingyi serve`` with ``options`` added to its command line."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PINGYI_")}
        env |= {
            "PINGYI_DATABASE_URL": self.database_url,
            "PINGYI_SECRET_KEY": SECRET_KEY,
            "PINGYI_VAR_DIR": str(self.var_dir),
            # Every request comes from 127.0.0.1: no per-address admission limit.
            "PINGYI_RATE_LIMIT_PER_MINUTE": "0",
            "PYTHONUNBUFFERED": "1",
        }
        command = [
            str(pingyi_command()),
            *("serve", "--host", "127.0.0.1", "--port", str(self.port)),
            *("--workers", str(self.workers)),
            *options,
        ]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    @property
    def pid(self) -> int:
        assert self.process is not None, "server not started"
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def worker_pids(self) -> list[int]:
        """Live worker processes: the supervisor's children started by multiprocessing's
        spawn (its resource tracker is a child too, and is left out)."""
        workers = []
        for child in _children(self.pid):
            try:
                cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
                state = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue  # exited meanwhile
            if b"--multiprocessing-fork" in cmdline and state != "Z":  # not the tracker
                workers.append(child)
        return sorted(workers)

    def started_workers(self) -> set[int]:
        """Workers that have loaded the app (uvicorn logs this just before serving)."""
        return {int(pid) for pid in STARTED_WORKER.findall(self.log())}

    def serving_workers(self) -> list[int] | None:
        """The worker PIDs once there are ``workers`` of them and each has loaded the app."""
        pids = self.worker_pids()
        if len(pids) == self.workers and set(pids) <= self.started_workers():
            return pids
        return None

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.base_url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_until_serving(self, timeout: float = 60) -> list[int]:
        pids: list[int] = wait_for(
            lambda: self._check_running() and self.serving_workers(),
            timeout=timeout,
            what=f"{self.workers} workers to serve",
        )
        wait_for(self.healthy, timeout=timeout, what="/healthz to answer 200")
        return pids

    def _check_running(self) -> bool:
        assert self.process is not None
        code = self.process.poll()
        assert code is None, f"server exited with {code}:\n{self.log()[-3000:]}"
        return True

    def kill_group(self) -> None:
        """SIGKILL the server's whole session (supervisor and workers): cleanup only."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


def _children(pid: int) -> list[int]:
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children.extend(int(child) for child in (task / "children").read_text().split())
        except OSError:
            continue
    return children


# --- the campaign --------------------------------------------------------------------------


@dataclass
class Campaign:
    slug: str
    codes: list[str]  # for code ballots, one each
    vouchers: list[str]  # exchanged for credentials before the load starts
    items: dict[str, list[str]]  # item ids per rater group
    trustee_shares: list[shares.Share]  # of its 2-of-3 tally key, kept in memory only


def hashing_key() -> bytes:
    return code_format.hashing_key(SECRET_KEY.encode())


def set_up_campaign(engine: Engine, *, codes: int, vouchers: int) -> Campaign:
    """An open campaign of two departments and two rater groups, with its credential keys
    (made with the server's secret) and its tally key."""
    slug = f"faults-{uuid.uuid4().hex[:8]}"
    spec = CampaignSpec.model_validate(
        {
            "slug": slug,
            "title": {"zh": "故障测试", "en": "Fault test"},
            "questionnaire": "service_rating",
            "rater_groups": [
                {"key": CODE_GROUP, "weight": 1},
                {"key": CREDENTIAL_GROUP, "weight": 1},
            ],
            "targets": list(TARGETS),
        }
    )
    questionnaire = survey_service.find_template(PROJECT_ROOT / "surveys", "service_rating")
    with Session(engine, expire_on_commit=False) as session, committing(session):
        department_service.import_csv(session, DEPARTMENTS_CSV.encode())
        campaign = campaign_service.create_campaign(
            session, spec, questionnaire, default_threshold=5
        )
        made = box_service.create_tally_key(session, campaign, count=3, threshold=2)
        trustee_shares = [
            shares.parse_share(share.dump(), share.file_name()) for share in made.share_files
        ]
        # The server's keys first: opening keeps keys that exist (it would make them with
        # this process's secret, which the server does not have).
        credential_keys.open_campaign_keys(session, campaign, SECRET_KEY.encode())
        lifecycle.open_campaign(session, campaign, actor="faults")
        issued_codes = admission_service.issue_codes(
            session, campaign, hashing_key=hashing_key(), group_key=CODE_GROUP, count=codes
        ).codes
        issued_vouchers = admission_service.issue_codes(
            session, campaign, hashing_key=hashing_key(), group_key=CREDENTIAL_GROUP, count=vouchers
        ).codes
    items = {
        group: [item.id for item in questionnaire.items_for(group)]
        for group in (CODE_GROUP, CREDENTIAL_GROUP)
    }
    return Campaign(
        slug=slug,
        codes=issued_codes,
        vouchers=issued_vouchers,
        items=items,
        trustee_shares=trustee_shares,
    )


def b64url(data: bytes) -> str:
    return credential_keys.encode_b64url(data)


def issue_credentials(base_url: str, campaign: Campaign) -> list[dict[str, str]]:
    """Exchange every voucher for a credential as a rater's browser does: fetch the public
    key, blind a random message, have the server sign it blind, unblind."""
    with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT) as client:
        keys = client.get(f"/api/v1/campaigns/{campaign.slug}/keys").raise_for_status().json()
        (key,) = [
            key
            for key in keys["keys"]
            if key["rater_group"] == CREDENTIAL_GROUP and key["target"] is None
        ]
        public_key = blind_rsa.load_public_key(
            credential_keys.decode_b64url(key["public_key"], field="public_key")
        )
        credentials = []
        for voucher in campaign.vouchers:
            prepared = blind_rsa.prepare(os.urandom(32))
            blinded = blind_rsa.blind(public_key, prepared)
            response = client.post(
                "/api/v1/credentials",
                json={"voucher": voucher, "blinded_message": b64url(blinded.blinded_msg)},
            )
            assert response.status_code == 200, response.text
            blind_signature = credential_keys.decode_b64url(
                response.json()["blind_signature"], field="blind_signature"
            )
            signature = blind_rsa.finalize(public_key, prepared, blind_signature, blinded.inv)
            credentials.append(
                {
                    "campaign": campaign.slug,
                    "rater_group": CREDENTIAL_GROUP,
                    "message": b64url(prepared),
                    "signature": b64url(signature),
                }
            )
    return credentials


# --- submissions and the load generator ----------------------------------------------------


@dataclass
class Submission:
    """One ballot, and what became of it."""

    marker: str
    body: dict[str, Any]
    status: int | None = None  # None: never sent
    error: str | None = None  # the exception of a request that got no response
    receipt: str | None = None
    retry_status: int | None = None
    retry_code: str | None = None  # the error code of a refused retry
    retry_receipt: str | None = None
    sent_at: float | None = None  # time.monotonic() when its first attempt began

    @property
    def kind(self) -> str:
        return "code" if "code" in self.body else "credential"

    @property
    def attempted(self) -> bool:
        return self.status is not None or self.error is not None

    @property
    def acknowledged(self) -> bool:
        return self.status == 201

    @property
    def response_lost(self) -> bool:
        """Sent, not acknowledged, yet stored: its retry found the code used (credential spent)."""
        return not self.acknowledged and self.retry_status == 409

    @property
    def stored(self) -> bool:
        return self.acknowledged or self.response_lost or self.retry_status == 201


def make_submissions(
    campaign: Campaign, credentials: list[dict[str, str]], *, seed: int
) -> list[Submission]:
    """Code and credential ballots interleaved (credentials spread evenly), each rating both
    targets with a comment that carries the ballot's marker."""
    generator = random.Random(seed)
    total = len(campaign.codes) + len(credentials)
    credential_slots = {
        round(index * total / len(credentials)) for index in range(len(credentials))
    }
    code_queue = list(campaign.codes)
    credential_queue = list(credentials)
    submissions = []
    for index in range(total):
        use_credential = credential_queue and (index in credential_slots or not code_queue)
        group = CREDENTIAL_GROUP if use_credential else CODE_GROUP
        marker = f"fault ballot {campaign.slug} {index:05d}"
        evaluations = [
            {
                "target": target,
                "answers": {
                    item: generator.choice([1, 2, 3, 4, 5, None]) for item in campaign.items[group]
                },
                "comment": marker,
            }
            for target in TARGETS
        ]
        admission: dict[str, Any] = (
            {"credential": credential_queue.pop()} if use_credential else {"code": code_queue.pop()}
        )
        submissions.append(
            Submission(marker=marker, body={**admission, "evaluations": evaluations})
        )
    return submissions


def submit(client: httpx.Client, submission: Submission) -> None:
    """Send a ballot once; a connection error or 5xx is "not acknowledged", nothing more."""
    submission.sent_at = time.monotonic()
    try:
        response = client.post("/api/v1/ballots", json=submission.body)
    except httpx.HTTPError as error:
        submission.error = type(error).__name__
        return
    submission.status = response.status_code
    if response.status_code == 201:
        submission.receipt = response.json()["receipt"]


class Load:
    """Paced load: ``threads`` clients, each with its own keep-alive connection, each
    sending the next unsent submission every ``threads / rate`` seconds (``rate`` a second in
    all), until stopped or none are left. A client held up by a fault sends its next one at
    once and then keeps its pace again: there is no burst to catch up.

    The pace leaves CPU for the supervisor to start replacement workers on a small machine.
    """

    def __init__(
        self, base_url: str, submissions: list[Submission], *, rate: float = 30, threads: int = 4
    ) -> None:
        self.base_url = base_url
        self.submissions = submissions
        self.interval = threads / rate
        self.threads = threads
        self._next = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._workers: list[threading.Thread] = []
        self.acknowledged = 0

    def _take(self) -> Submission | None:
        with self._lock:
            if self._stop.is_set() or self._next >= len(self.submissions):
                return None
            submission = self.submissions[self._next]
            self._next += 1
            return submission

    def _run(self, offset: float) -> None:
        due = time.monotonic() + offset
        with httpx.Client(base_url=self.base_url, timeout=REQUEST_TIMEOUT) as client:
            while not self._stop.wait(max(0.0, due - time.monotonic())):
                submission = self._take()
                if submission is None:
                    return
                submit(client, submission)
                if submission.acknowledged:
                    with self._lock:
                        self.acknowledged += 1
                due = max(due + self.interval, time.monotonic())

    def take_one(self) -> Submission:
        """A submission for a probe, from the same pool (so the checks cover it too)."""
        submission = self._take()
        assert submission is not None, "the load generator ran out of codes"
        return submission

    def start(self) -> None:
        for index in range(self.threads):
            offset = index * self.interval / self.threads
            worker = threading.Thread(target=self._run, args=(offset,), daemon=True)
            worker.start()
            self._workers.append(worker)

    def stop(self) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=30)
            assert not worker.is_alive(), "a load thread did not finish"

    def wait_for_acknowledged(self, count: int, *, timeout: float) -> None:
        wait_for(
            lambda: self.acknowledged >= count,
            timeout=timeout,
            what=f"{count} acknowledged submissions (have {self.acknowledged}; "
            f"{self._next} of {len(self.submissions)} ballots taken)",
        )

    @property
    def sent(self) -> list[Submission]:
        return [submission for submission in self.submissions if submission.attempted]


def probe_until_accepted(server: Server, load: Load, *, timeout: float) -> float:
    """Poll /healthz and then a real submission until one is acknowledged; return the
    seconds it took. Probes are submissions like any other and are checked like them."""
    started = time.monotonic()
    wait_for(server.healthy, timeout=timeout, what="/healthz to answer 200")

    def accepted() -> bool:
        submission = load.take_one()
        with httpx.Client(base_url=server.base_url, timeout=REQUEST_TIMEOUT) as client:
            submit(client, submission)
        return submission.acknowledged

    wait_for(accepted, timeout=timeout - (time.monotonic() - started), what="a submission")
    return time.monotonic() - started


def retry_unacknowledged(base_url: str, submissions: list[Submission]) -> None:
    """Send each sent-but-unacknowledged ballot once more, as a rater would: 409 (code used,
    credential spent) means the first attempt was stored and only its response was lost;
    201 means it was not stored."""
    with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT) as client:
        for submission in submissions:
            if not submission.attempted or submission.acknowledged:
                continue
            response = client.post("/api/v1/ballots", json=submission.body)
            submission.retry_status = response.status_code
            if response.status_code == 201:
                submission.retry_receipt = response.json()["receipt"]
            elif response.status_code == 409:
                submission.retry_code = response.json()["error"]["code"]


# --- the checks ----------------------------------------------------------------------------


@dataclass
class Tally:
    sent: int = 0
    acknowledged: int = 0
    unacknowledged: int = 0
    response_lost: int = 0
    stored_by_retry: int = 0
    credential_ballots_sent: int = 0
    server_errors: int = 0  # 5xx answers to first attempts
    first_statuses: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        statuses = ", ".join(
            f"{key}: {count}" for key, count in sorted(self.first_statuses.items())
        )
        return (
            f"sent {self.sent} ({self.credential_ballots_sent} with credentials), "
            f"acknowledged {self.acknowledged}, not acknowledged {self.unacknowledged} "
            f"(stored with the response lost {self.response_lost}, stored on retry "
            f"{self.stored_by_retry}); first responses: {statuses}"
        )


def tally(submissions: list[Submission]) -> Tally:
    result = Tally()
    for submission in submissions:
        if not submission.attempted:
            continue
        result.sent += 1
        result.credential_ballots_sent += submission.kind == "credential"
        result.acknowledged += submission.acknowledged
        result.unacknowledged += not submission.acknowledged
        result.response_lost += submission.response_lost
        result.stored_by_retry += submission.retry_status == 201
        result.server_errors += (submission.status or 0) >= 500
        result.first_statuses[str(submission.status or submission.error)] += 1
    return result


@dataclass(frozen=True)
class OpenedBallot:
    """A ballot of the box, decrypted in memory by the checks."""

    tracker: bytes
    rater_group: str
    targets: list[str]
    markers: set[str | None]


def open_ballots(session: Session, campaign: Campaign) -> list[OpenedBallot]:
    """Every ballot in the campaign's box, decrypted with two trustees' shares (in memory;
    the box is left as it is). Fails on a ballot whose tracker is not its ciphertext's hash
    or that does not open."""
    stored = campaign_service.get_campaign(session, campaign.slug)
    key = box_service.tally_key_of(session, stored)
    assert key is not None
    fingerprint = bytes(key.fingerprint)
    key_pair = shares.rebuild_key(
        campaign.trustee_shares[:2],
        campaign_slug=campaign.slug,
        key_fingerprint=fingerprint,
        threshold=key.threshold,
    )
    info = tally_key.info_for(campaign.slug, fingerprint)
    opened = []
    for tracker, ciphertext in box_service.sealed_ballots(session, stored):
        assert tally_key.tracker(ciphertext) == tracker, f"ballot {tracker.hex()} was altered"
        ballot = ballot_contents.decode(tally_key.open_sealed(ciphertext, key_pair, info))
        opened.append(
            OpenedBallot(
                tracker=tracker,
                rater_group=ballot.rater_group,
                targets=[item.target for item in ballot.evaluations],
                markers={item.comment for item in ballot.evaluations},
            )
        )
    return opened


def check_exactly_once(
    engine: Engine, campaign: Campaign, submissions: list[Submission]
) -> list[Submission]:
    """Every acknowledged ballot is in the box exactly once and whole, under its receipt (its
    tracker); every other ballot is stored whole or not at all; a code is used (a credential
    spent) exactly when its ballot is stored; nothing else is stored; and the tally counts
    every ballot in the box. Returns the ballots stored without an acknowledgement (whose
    response was lost).

    A retried ballot must have been answered 201 or refused as already used (409).
    """
    with Session(engine) as session:
        campaign_id = campaign_service.get_campaign(session, campaign.slug).id
        ballots = open_ballots(session, campaign)
        box_rows = session.scalar(
            select(func.count())
            .select_from(SealedBallot)
            .where(SealedBallot.campaign_id == campaign_id)
        )
        unsealed = session.scalar(
            select(func.count())
            .select_from(Evaluation)
            .where(Evaluation.campaign_id == campaign_id)
        )
        legacy_receipts = session.scalar(
            select(func.count())
            .select_from(ballot_models.Receipt)
            .where(ballot_models.Receipt.campaign_id == campaign_id)
        )
        used_codes = {
            bytes(code_hash)
            for code_hash in session.scalars(
                select(AdmissionCode.code_hash).where(AdmissionCode.status == CodeStatus.USED)
            )
        }
        spent = {
            bytes(message_hash)
            for message_hash in session.scalars(
                select(credential_models.SpentCredential.message_hash)
            )
        }

    problems = []
    by_marker: dict[str, list[OpenedBallot]] = {}
    by_tracker = {ballot.tracker: ballot for ballot in ballots}
    for ballot in ballots:
        if len(ballot.markers) != 1 or None in ballot.markers:
            problems.append(f"ballot {ballot.tracker.hex()} mixes markers {ballot.markers}")
            continue
        (marker,) = ballot.markers
        assert marker is not None
        by_marker.setdefault(marker, []).append(ballot)
        if sorted(ballot.targets) != sorted(TARGETS):
            problems.append(f"{marker}: its ballot rates {ballot.targets}, not {list(TARGETS)}")
    known = {submission.marker for submission in submissions}
    problems += [f"a ballot of an unknown submission: {m!r}" for m in by_marker if m not in known]
    stored_ballots = []
    lost = []
    for submission in submissions:
        name = (
            f"{submission.marker} ({submission.kind}; "
            f"first {submission.status or submission.error}, retry {submission.retry_status})"
        )
        copies = by_marker.get(submission.marker, [])
        if len(copies) > 1:
            problems.append(f"{name}: {len(copies)} ballots in the box")
        stored = bool(copies)
        if submission.kind == "code":
            admission = submission.body["code"]
            used = (
                code_format.keyed_hash(hashing_key(), code_format.normalize(admission))
                in used_codes
            )
        else:
            message = submission.body["credential"]["message"]
            used = (
                spending.message_hash(credential_keys.decode_b64url(message, field="message"))
                in spent
            )
        if used != stored:
            problems.append(
                f"{name}: code used / credential spent: {used}, ballot stored: {stored}"
            )
        group = CODE_GROUP if submission.kind == "code" else CREDENTIAL_GROUP
        if stored and {ballot.rater_group for ballot in copies} != {group}:
            problems.append(f"{name}: stored under {[ballot.rater_group for ballot in copies]}")
        if not submission.attempted and stored:
            problems.append(f"{name}: never sent, yet stored")
        if submission.status is not None and 400 <= submission.status < 500:
            problems.append(f"{name}: refused on its first attempt")
        if (submission.acknowledged or submission.retry_status == 201) and not stored:
            problems.append(f"{name}: acknowledged, yet not stored")
        for receipt in (submission.receipt, submission.retry_receipt):
            if receipt is not None:
                under_receipt = by_tracker.get(receipts.receipt_hash(receipt))
                if under_receipt is None or under_receipt.markers != {submission.marker}:
                    problems.append(f"{name}: its receipt is not the tracker of its ballot")
        if submission.retry_status is not None:
            expected = "code_used" if submission.kind == "code" else "credential_spent"
            if submission.retry_status not in (201, 409) or (
                submission.retry_status == 409 and submission.retry_code != expected
            ):
                problems.append(
                    f"{name}: retry answered {submission.retry_status} {submission.retry_code}"
                )
        if stored:
            stored_ballots.append(submission)
            if not submission.acknowledged and submission.retry_status != 201:
                lost.append(submission)

    if box_rows != len(stored_ballots):
        problems.append(f"{box_rows} ballots in the box for {len(stored_ballots)} stored")
    if unsealed or legacy_receipts:
        problems.append(f"{unsealed} evaluations and {legacy_receipts} receipts stored unsealed")
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:40])
    check_tally(engine, campaign, stored_ballots)
    return lost


def check_tally(engine: Engine, campaign: Campaign, stored: list[Submission]) -> None:
    """Close and tally the campaign in a transaction that is rolled back: every ballot in the
    box is counted, none rejected, and it becomes exactly its evaluations."""
    with Session(engine) as session:
        counted_campaign = campaign_service.get_campaign(session, campaign.slug)
        lifecycle.close_campaign(session, counted_campaign, actor="faults")
        counted = lifecycle.tally_campaign(
            session, counted_campaign, campaign.trustee_shares[:2], actor="faults"
        )
        groups = dict(
            session.execute(
                select(RaterGroup.id, RaterGroup.key).where(
                    RaterGroup.campaign_id == counted_campaign.id
                )
            ).all()
        )
        evaluations = Counter(
            groups[group_id]
            for group_id in session.scalars(
                select(Evaluation.rater_group_id).where(
                    Evaluation.campaign_id == counted_campaign.id
                )
            )
        )
        rejected, in_box, counted_ballots = (
            list(counted.rejected),
            counted.ballots_in_box,
            counted.ballots_counted,
        )
        session.rollback()
    assert rejected == [], rejected
    assert counted_ballots == in_box == len(stored)
    expected = Counter(
        CODE_GROUP if submission.kind == "code" else CREDENTIAL_GROUP for submission in stored
    )
    assert evaluations == Counter({group: n * len(TARGETS) for group, n in expected.items()})


class HeldRequest:
    """A ballot sent in two parts from its own connection: the headers and half the body
    at once, the rest only when released, so the request is in flight for as long as the
    test wants."""

    def __init__(self, base_url: str, submission: Submission) -> None:
        self.submission = submission
        self.base_url = base_url
        self.first_part_sent = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=self._send, daemon=True)

    def _content(self) -> Iterator[bytes]:
        body = json.dumps(self.submission.body).encode()
        middle = len(body) // 2
        yield body[:middle]
        self.first_part_sent.set()  # httpx asks for the next part once this one is written
        self.release.wait(timeout=120)
        yield body[middle:]

    def _send(self) -> None:
        headers = {"content-type": "application/json"}
        with httpx.Client(base_url=self.base_url, timeout=REQUEST_TIMEOUT) as client:
            try:
                response = client.post("/api/v1/ballots", content=self._content(), headers=headers)
            except httpx.HTTPError as error:
                self.submission.error = type(error).__name__
                return
        self.submission.status = response.status_code
        if response.status_code == 201:
            self.submission.receipt = response.json()["receipt"]

    def start(self) -> None:
        self.thread.start()
        assert self.first_part_sent.wait(timeout=30), "the first part was never sent"

    def finish(self) -> Submission:
        self.release.set()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "the held request did not finish"
        return self.submission
