"""People working through both nodes at once, and the ledger of what the nodes acknowledged.

Each lane is a QC analyst who writes OOS notifications, a QA reviewer and a QA approver. A lane writes a
record on one node, attaches its raw data on the next, submits, and has it signed step by step, every
request going to the next node that is up (a load balancer without sticky sessions: a record created on
one node is signed on another). Every third record the approver refuses to sign, with a reason. An
inspector exports approved records meanwhile. A request whose node dies under it has an unknown outcome:
the lane starts a new record. Only a 2xx answer is written in the ledger; a 5xx is kept as a failure,
except while the database itself is being switched over (`Ledger.failover`).
"""
from __future__ import annotations

import hashlib
import itertools
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from edms.db import transaction
from edms.users.models import User
from tests.cluster.harness import Deployment, Node
from tests.support import people as signing_rights
from tests.support.examples import TITLES, VALUES
from tests.support.people import PASSWORD, new_account

OOS = "oos_notification"
ADMIN = ("mariko.hayashi", "Mariko Hayashi")
INSPECTOR = ("john.carter", "John Carter")
LANE_PEOPLE = (("kenji.sato", "akiko.tanaka", "hiroshi.yamamoto"), ("takeshi.inoue", "naomi.kimura", "ryo.hayashi"),
               ("emi.shimizu", "kaito.fujita", "yuki.mori"))
REFUSE_EVERY = 3


@dataclass
class Lane:
    author: str
    reviewer: str
    approver: str


@dataclass
class Ledger:
    """What the nodes acknowledged (2xx), and the server errors they must never have answered."""

    budget: int
    documents: set[int] = field(default_factory=set)
    attachments: dict[int, tuple[int, str]] = field(default_factory=dict)  # attachment id -> (document, sha256)
    submitted: set[int] = field(default_factory=set)
    signatures: dict[str, tuple[int, str, str]] = field(default_factory=dict)  # id -> (document, step, kind)
    refused: set[int] = field(default_factory=set)  # documents whose refusal was acknowledged
    exports: Counter[int] = field(default_factory=Counter)  # document -> packages received
    export_jobs: dict[int, int] = field(default_factory=dict)  # job id -> document (an export queued: 202)
    server_errors: list[str] = field(default_factory=list)
    client_errors: Counter[str] = field(default_factory=Counter)  # 4xx answers, by request and error: the report
    unknown_outcomes: int = 0
    latencies: list[float] = field(default_factory=list)  # seconds of each answered request (benches/bench_cluster.py)
    requests: int = 0
    answered: int = 0
    failover: bool = False  # the database is being switched: a 5xx then is the honest answer
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def acknowledged(self) -> int:
        return (len(self.documents) + len(self.attachments) + len(self.submitted) + len(self.signatures)
                + sum(self.exports.values()))

    def approved(self) -> list[int]:
        with self.lock:
            approvals = Counter(document for document, _step, kind in self.signatures.values() if kind == "signature")
        return [document for document, count in approvals.items() if count == 3]


class Balancer:
    """Round robin over the nodes that are up, as a load balancer's health check sees them."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self._turn = itertools.count()
        self._lock = threading.Lock()

    def next(self) -> Node | None:
        with self._lock:
            up = self.deployment.up()
            return up[next(self._turn) % len(up)] if up else None


def cast(deployment: Deployment) -> tuple[list[Lane], str]:
    """The lanes' people, ready to sign (identity verified by an administrator, policy acknowledged,
    trained), and an inspector: made once at the console, as an administrator would."""
    from edms.application.services import build_services

    services = build_services(deployment.settings())
    try:
        lanes = [Lane(*people) for people in LANE_PEOPLE]
        with transaction(services.sessions) as session:
            admin = new_account(session, services.settings, ADMIN[0], {"admin"}, printed_name=ADMIN[1])
            new_account(session, services.settings, INSPECTOR[0], {"inspector"}, printed_name=INSPECTOR[1],
                        timezone="America/New_York")
            for lane in lanes:
                for username, role in ((lane.author, "author"), (lane.reviewer, "qa"), (lane.approver, "qa")):
                    _ready(session, services, admin, new_account(session, services.settings, username, {role}), role)
    finally:
        services.engine.dispose()
    return lanes, INSPECTOR[0]


def _ready(session: Session, services, admin: User, person: User, role: str) -> None:
    signing_rights.make_ready(session, admin, person, role, known_types=services.document_types, document_type=OOS)


class Tokens:
    """Each person's API token, issued once by whichever node answers first: every node accepts a token another
    node issued (tokens live in the database), including a node restarted after it was issued."""

    def __init__(self, balancer: Balancer) -> None:
        self.balancer = balancer
        self._tokens: dict[str, str] = {}
        self._lock = threading.Lock()

    def __call__(self, username: str) -> str:
        with self._lock:
            if username not in self._tokens:
                node = self.balancer.next()
                assert node is not None, "no node up to issue a token"
                self._tokens[username] = node.token(username, PASSWORD)
            return self._tokens[username]


class Stopped(Exception):
    """The budget is spent or the test said stop."""


@dataclass
class Worker:
    """One thread of load: a lane, or the inspector."""

    ledger: Ledger
    balancer: Balancer
    tokens: Tokens
    stop: threading.Event

    def call(self, method: str, path: str, username: str, body: dict | None = None, *, upload: bytes | None = None):
        """One request to the next node up: its answer, or None when the node died under it (outcome unknown)."""
        with self.ledger.lock:
            if self.stop.is_set() or self.ledger.requests >= self.ledger.budget:
                raise Stopped
            self.ledger.requests += 1
        node = self.balancer.next()
        if node is None:  # every node is down: nothing was sent
            with self.ledger.lock:
                self.ledger.requests -= 1
            self.stop.wait(0.2)
            return None
        started = time.monotonic()
        try:
            if upload is not None:
                status, answer = node.upload(path, "viability-raw-data.csv", upload, token=self.tokens(username))
            else:
                reply = node.request(method, path, body, token=self.tokens(username), timeout=60)
                status, answer = reply.status, reply.body
        except OSError as exc:
            with self.ledger.lock:
                if _refused(exc):  # the node was gone before the request: nothing was sent
                    self.ledger.requests -= 1
                else:  # the node died under the request: its outcome is unknown
                    self.ledger.unknown_outcomes += 1
            self.stop.wait(0.05)
            return None
        with self.ledger.lock:
            self.ledger.answered += 1
            self.ledger.latencies.append(time.monotonic() - started)
            if status >= 500 and not self.ledger.failover:
                self.ledger.server_errors.append(f"{node.name} {method} {path}: {status} {str(answer)[:300]}")
            elif status >= 400:
                error = answer.get("error") if isinstance(answer, dict) else None
                self.ledger.client_errors[f"{method} {path.split('/')[4] if path.count('/') > 4 else path} "
                                          f"{status} {error} {str(answer)[:160]}"] += 1
        return status, answer


def _refused(error: OSError) -> bool:
    return isinstance(error, ConnectionRefusedError) or isinstance(getattr(error, "reason", None), ConnectionRefusedError)


def drive_lane(worker: Worker, lane: Lane) -> None:
    ledger = worker.ledger
    try:
        for round_number in itertools.count(1):
            document_id = _write(worker, lane)
            if document_id is None:
                continue
            refuse = round_number % REFUSE_EVERY == 0
            for signer in (lane.author, lane.reviewer, lane.approver):
                path = f"/api/v1/documents/{document_id}/versions/1/"
                if refuse and signer == lane.approver:
                    answer = worker.call("POST", path + "reject", signer, {
                        "username": signer, "password": PASSWORD,
                        "reason": "Viability data incomplete: the 48-hour post-thaw count is missing."})
                else:
                    answer = worker.call("POST", path + "signatures", signer, {"username": signer, "password": PASSWORD})
                if answer is None or answer[0] != 201:
                    break
                signature = answer[1]["signature"]
                with ledger.lock:
                    kind = "rejection" if refuse and signer == lane.approver else "signature"
                    ledger.signatures[signature["signature_id"]] = (document_id, signature["step"], kind)
                    if kind == "rejection":
                        ledger.refused.add(document_id)
    except Stopped:
        return


def _write(worker: Worker, lane: Lane) -> int | None:
    """Create, attach and submit one record; its id once submitted, else None (the next round starts anew)."""
    ledger = worker.ledger
    created = worker.call("POST", "/api/v1/documents", lane.author,
                          {"type": OOS, "title": TITLES[OOS], "values": VALUES[OOS]})
    if created is None or created[0] != 201:
        return None
    document_id = created[1]["id"]
    with ledger.lock:
        ledger.documents.add(document_id)
    data = f"sample,timepoint,viable_cells_per_ml,viability_pct\nL2026-0412,{document_id},1.2e6,72.0\n".encode()
    attached = worker.call("POST", f"/api/v1/documents/{document_id}/attachments", lane.author, upload=data)
    if attached is None or attached[0] != 201:
        return None
    assert attached[1]["sha256"] == hashlib.sha256(data).hexdigest()
    with ledger.lock:
        ledger.attachments[attached[1]["id"]] = (document_id, attached[1]["sha256"])
    submitted = worker.call("POST", f"/api/v1/documents/{document_id}/submit", lane.author, {})
    if submitted is None or submitted[0] != 200:
        return None
    with ledger.lock:
        ledger.submitted.add(document_id)
    return document_id


def drive_inspector(worker: Worker, inspector: str) -> None:
    """Export an approved record now and then: an inspection package, made by whichever node answers."""
    chooser = random.Random(16)
    try:
        while not worker.stop.is_set():
            approved = worker.ledger.approved()
            if not approved:
                worker.stop.wait(0.5)
                continue
            document_id = chooser.choice(approved)
            answer = worker.call("POST", f"/api/v1/documents/{document_id}/export", inspector, {})
            if answer is not None and answer[0] == 200 and str(answer[1]).startswith("PK"):
                with worker.ledger.lock:
                    worker.ledger.exports[document_id] += 1
            elif answer is not None and answer[0] == 202:  # with a worker: the export is a job, acknowledged queued
                with worker.ledger.lock:
                    worker.ledger.export_jobs[answer[1]["id"]] = document_id
            worker.stop.wait(1.0)
    except Stopped:
        return


def start_load(deployment: Deployment, lanes: list[Lane], inspector: str, ledger: Ledger,
               stop: threading.Event) -> list[threading.Thread]:
    balancer = Balancer(deployment)
    tokens = Tokens(balancer)
    for username in [inspector, *(name for lane in lanes for name in (lane.author, lane.reviewer, lane.approver))]:
        tokens(username)  # before the load: a token is never asked for in the middle of a failover
    worker = Worker(ledger, balancer, tokens, stop)
    threads = [threading.Thread(target=drive_lane, args=(worker, lane), daemon=True, name=f"lane-{lane.author}")
               for lane in lanes]
    threads.append(threading.Thread(target=drive_inspector, args=(worker, inspector), daemon=True, name="inspector"))
    for thread in threads:
        thread.start()
    return threads


def wait_until(ledger: Ledger, acknowledged: int, threads: list[threading.Thread], *, limit: float) -> None:
    """Until the nodes have acknowledged this many changes in all, the load ends, or `limit` seconds."""
    deadline = time.monotonic() + limit
    while ledger.acknowledged < acknowledged and time.monotonic() < deadline and any(t.is_alive() for t in threads):
        time.sleep(0.05)


def finish_export_jobs(deployment: Deployment, ledger: Ledger, inspector: str, *, limit: float = 180) -> None:
    """Every export queued with a 2xx answer ends as a package the inspector downloads, the worker's SIGKILL
    notwithstanding (retried, never half a package); counted in `ledger.exports` like an export made at once."""
    node = deployment.up()[0]
    token = node.token(inspector, PASSWORD)
    deadline = time.monotonic() + limit
    for job_id, document_id in ledger.export_jobs.items():
        while True:
            job = node.request("GET", f"/api/v1/jobs/{job_id}", token=token)
            assert job.status == 200, job.body
            if job.body["finished"]:
                break
            assert time.monotonic() < deadline, f"export job {job_id} not finished after {limit} s: {job.body}"
            time.sleep(0.5)
        assert job.body["status"] == "succeeded", job.body
        package = node.request("GET", f"/api/v1/jobs/{job_id}/result", token=token)
        assert package.status == 200 and str(package.body).startswith("PK"), (job_id, package.status)
        ledger.exports[document_id] += 1


def in_flight(ledger: Ledger) -> int:
    with ledger.lock:
        return ledger.requests - ledger.answered - ledger.unknown_outcomes
