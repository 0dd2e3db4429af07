"""Carry a whole OOS case through the service layer, as the pages and the API would, and probe every step.

`CaseDriver` opens a case under one regime, writes each record as the person of the role that writes
it, submits it and signs every step with real keys, certificates and RFC 3161 time-stamps, always by a
person the routing rules allow: each step by a holder of one of its roles, physician steps by the case's
treating physician, an approval never by the record's author, and no one twice on one version unless
the type allows it. Before each signature it tries the attempts that must fail (a step not open yet, a
person without the role, another physician, the author approving, the same person on two steps) and
checks that each was refused with its reason and left a `signature.refused` event in the audit trail,
and nothing else. Steps are taken in definition order, which stays a valid order when steps run in
parallel (`after`), and signed by name, so the driver does not depend on which step is "the one due".
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from edms.application.unit_of_work import command, use_case
from edms.audit.models import AuditEvent
from edms.cases import deadlines as dl
from edms.cases import models as cm
from edms.cases import operations as case_ops
from edms.cases.facts import CaseFacts
from edms.cases.queries import CaseStatus, case_documents, case_records, case_status
from edms.cases.regimes import resolve_anchors, resolve_conditions
from edms.db import transaction
from edms.documents import models as dm
from edms.documents import operations as doc_ops
from edms.documents.types import DocumentType
from edms.signatures import operations as sig_ops
from edms.signatures.ceremony import Credentials, SigningEnvironment
from edms.signatures.errors import InvalidRequest
from edms.signatures.models import Signature
from edms.users.models import User
from edms.workflow.refusals import AuthorityRefused, SequenceRefused, SigningRefused
from tests.support.documents import realistic_values
from tests.support.people import PASSWORD, acting, make_ready, new_account

APPROVED_MEANING = "approved"
CASE_PHYSICIAN = "case_physician"

# Everyone who works on the cases: more than one person per role, so that no one needs to sign two steps
# of a version, plus an inspector and the administrator who verified identities and recorded training.
CAST: dict[str, list[tuple[str, str, str]]] = {
    "author": [("kenji.sato", "Kenji Sato", "Asia/Tokyo")],
    "qa": [("akiko.tanaka", "Akiko Tanaka", "Asia/Tokyo"), ("hiroshi.yamamoto", "Hiroshi Yamamoto", "Asia/Tokyo"),
           ("emi.nakamura", "Emi Nakamura", "Asia/Tokyo")],
    "regulatory": [("naoko.ito", "Naoko Ito", "Asia/Tokyo"), ("ren.kobayashi", "Ren Kobayashi", "Asia/Tokyo")],
    "physician": [("yuki.mori", "Yuki Mori, MD, PhD", "Asia/Tokyo"),
                  ("emily.chen", "Emily Chen, MD", "America/Chicago"),
                  ("lukas.weber", "Dr. med. Lukas Weber", "Europe/Berlin")],
    "inspector": [("john.carter", "John Carter", "America/New_York")],
}
ADMINISTRATOR = ("mariko.hayashi", "Mariko Hayashi")


def step_roles(step) -> tuple[str, ...]:
    """The roles that may sign a step: `roles` where a step may name several, else its one `role`."""
    roles = getattr(step, "roles", None)
    return tuple(roles) if roles else (step.role,)


def names_case_physician(step) -> bool:
    return getattr(step, "signer", None) == CASE_PHYSICIAN




def cast_ready(services) -> dict[str, int]:
    """Create the cast with full signing rights (identity verified, policy acknowledged, trained for
    their role on every type); returns {username: user id}."""
    ids: dict[str, int] = {}
    with transaction(services.sessions) as session:
        admin = new_account(session, services.settings, ADMINISTRATOR[0], {"admin"}, printed_name=ADMINISTRATOR[1])
        for role, people in CAST.items():
            for username, printed_name, zone in people:
                person = new_account(session, services.settings, username, {role}, printed_name=printed_name,
                                     timezone=zone)
                ids[username] = person.id
                if role != "inspector":
                    make_ready(session, admin, person, role, known_types=services.document_types)
    return ids


@dataclass
class Refusal:
    """A refused attempt as the audit trail holds it."""

    error: SigningRefused
    event: AuditEvent


@dataclass
class CaseDriver:
    services: object
    ids: dict[str, int]
    case_id: int | None = None
    physician: str | None = None
    refusals: list[Refusal] = field(default_factory=list)

    # --- plumbing -----------------------------------------------------------------------------------

    def environment(self) -> SigningEnvironment:
        """The signing environment the pages and the API use, with the case gate (21 CFR 11.10(f))."""
        return SigningEnvironment.from_settings(self.services.settings, self.services.record_gates)

    def run(self, action: Callable[[Session], object]) -> object:
        """One unit of work. A signing refusal is committed (its audit event stays) and re-raised."""
        with command(self.services.sessions) as session, use_case(session):
            return action(session)

    def user(self, session: Session, username: str) -> User:
        return session.get(User, self.ids[username])

    def people(self, role: str) -> list[str]:
        return [username for username, _name, _zone in CAST[role]]

    def doc_type(self, type_key: str) -> DocumentType:
        return self.services.document_types[type_key]

    @property
    def regime(self):
        return self.services.regimes[self.case().regime_key]

    def case(self, session: Session | None = None) -> cm.Case:
        if session is not None:
            return session.get(cm.Case, self.case_id)
        with self.services.sessions() as own:
            return own.get(cm.Case, self.case_id)

    def document(self, document_id: int) -> dm.Document:
        with self.services.sessions() as session:
            document = session.get(dm.Document, document_id)
            _ = document.versions  # loaded while the session is open
            return document

    def version_status(self, document_id: int, version: int | None = None) -> str:
        document = self.document(document_id)
        return (document.version(version) if version else document.latest).status

    def signature_count(self) -> int:
        with self.services.sessions() as session:
            return session.scalar(select(func.count()).select_from(Signature))

    def last_event_seq(self) -> int:
        with self.services.sessions() as session:
            return session.scalar(select(func.max(AuditEvent.seq))) or 0

    def events(self, action: str, *, document_id: int | None = None, after: int = 0) -> list[AuditEvent]:
        with self.services.sessions() as session:
            query = select(AuditEvent).where(AuditEvent.action == action, AuditEvent.seq > after)
            if document_id is not None:
                query = query.where(AuditEvent.object_type == "document", AuditEvent.object_id == str(document_id))
            return list(session.scalars(query.order_by(AuditEvent.seq)))

    # --- the case -----------------------------------------------------------------------------------

    def open_case(self, regime_key: str, *, product: str, lot: str, patient_ref: str, site: str, zone: str,
                  physician: str, oos_detected_at: datetime, opener: str = "akiko.tanaka") -> int:
        def act(session):
            user = self.user(session, opener)
            return case_ops.create_case(session, acting(user), user, self.services.regimes, CaseFacts(
                regime_key=regime_key, product=product, lot=lot, patient_ref=patient_ref, treating_site=site,
                site_timezone=zone, physician_id=self.ids[physician], oos_detected_at=oos_detected_at)).id
        self.case_id = self.run(act)
        self.physician = physician
        return self.case_id

    def record_date(self, key: str, value: datetime, by: str, reason: str | None = None) -> None:
        def act(session):
            user = self.user(session, by)
            case_ops.record_date(session, acting(user), user, self.case(session), key, value, reason)
        self.run(act)

    def answer(self, key: str, answer: bool, by: str, reason: str | None = None) -> None:
        def act(session):
            user = self.user(session, by)
            case = self.case(session)
            case_ops.answer_question(session, acting(user), user, case, self.services.regimes[case.regime_key], key,
                                     answer, reason)
        self.run(act)

    def set_status(self, status: str, by: str, reason: str) -> None:
        def act(session):
            user = self.user(session, by)
            case_ops.set_status(session, acting(user), user, self.case(session), status, reason,
                                types=self.services.document_types, regimes=self.services.regimes)
        self.run(act)

    def status(self, now: datetime | None = None) -> CaseStatus:
        with self.services.sessions() as session:
            return case_status(session, self.case(session), self.services.document_types,
                                        self.services.regimes, now=now)

    def checklist(self, now: datetime | None = None) -> dict[str, object]:
        return {item.document.type_key: item for item in self.status(now).checklist}

    def record_deadlines(self, type_key: str, now: datetime | None = None) -> list[list[dl.DeadlineStatus]]:
        """The per-record clocks (e.g. each adverse event's report) of every record of `type_key`, each
        computed from that record alone, as compute_deadlines documents for `record_type`."""
        with self.services.sessions() as session:
            case = self.case(session)
            regime = self.services.regimes[case.regime_key]
            records = case_records(session, case, self.services.document_types)
        results = []
        for record in records:
            if record.type_key != type_key:
                continue
            anchors = resolve_anchors(regime, case_dates=case.current_dates(), records=[record])
            conditions = resolve_conditions(regime, answers=case.current_answers(), records=[record])
            results.append(dl.compute_deadlines(regime, anchors, site_zone=case.site_timezone,
                                                now=now or datetime.now().astimezone(), conditions=conditions,
                                                record_type=type_key))
        return results

    # --- records ------------------------------------------------------------------------------------

    def writer_of(self, type_key: str) -> str:
        """Who writes a record: the case's physician for a physician's record, else the first person of
        the role of its first step."""
        role = step_roles(self.doc_type(type_key).steps[0])[0]
        return self.physician if role == "physician" else self.people(role)[0]

    def numbers(self, type_keys: Iterable[str]) -> list[str]:
        wanted = set(type_keys)
        with self.services.sessions() as session:
            return [d.number for d in case_documents(session, self.case(session))
                    if d.type_key in wanted and d.status != dm.WITHDRAWN]

    def values_for(self, type_key: str, overrides: Mapping[str, object] | None = None) -> dict[str, object]:
        doc_type = self.doc_type(type_key)
        case = self.case()
        values = realistic_values(doc_type)
        for name, value in (("lot", case.lot), ("patient_ref", case.patient_ref), ("product", case.product)):
            if any(f.name == name for f in doc_type.fields):
                values[name] = value
        for f in doc_type.fields:
            if f.type == "document_refs" and f.ref_types:
                values[f.name] = self.numbers(f.ref_types)
        values.update(overrides or {})
        return values

    def create(self, type_key: str, overrides: Mapping[str, object] | None = None, *, by: str | None = None,
               submit: bool = True, title: str | None = None) -> int:
        by = by or self.writer_of(type_key)
        doc_type = self.doc_type(type_key)
        values = self.values_for(type_key, overrides)
        case = self.case()

        def act(session):
            user = self.user(session, by)
            document = doc_ops.create_document(
                session, acting(user), user, doc_type, title=title or f"{doc_type.name.en}, lot {case.lot} ({case.patient_ref})",
                raw_values=values, case_id=self.case_id)
            if submit:
                doc_ops.submit(session, acting(user), user, document)
            return document.id
        return self.run(act)

    def submit(self, document_id: int, by: str) -> None:
        def act(session):
            user = self.user(session, by)
            doc_ops.submit(session, acting(user), user, session.get(dm.Document, document_id))
        self.run(act)

    def revise(self, document_id: int, reason: str, by: str, overrides: Mapping[str, object] | None = None,
               *, submit: bool = True) -> int:
        """A new version (reason required), with changed values, submitted; returns its number."""
        def act(session):
            user = self.user(session, by)
            document = session.get(dm.Document, document_id)
            doc_type = self.doc_type(document.type_key)
            draft = doc_ops.revise(session, acting(user), user, doc_type, document, reason)
            if overrides:
                values = {**json.loads(draft.content), **overrides}
                doc_ops.save_draft(session, acting(user), user, doc_type, document, title=draft.title, raw_values=values)
            if submit:
                doc_ops.submit(session, acting(user), user, document)
            return draft.version
        return self.run(act)

    def withdraw(self, document_id: int, reason: str, by: str) -> None:
        def act(session):
            user = self.user(session, by)
            doc_ops.withdraw(session, acting(user), user, session.get(dm.Document, document_id), reason)
        self.run(act)

    # --- signing ------------------------------------------------------------------------------------

    def sign(self, document_id: int, step: str, who: str, *, version: int | None = None, kind: str = "sign",
             reason: str | None = None, comment: str | None = None) -> Signature:
        """Sign (or refuse, kind="reject") the named step as `who`, re-entering their credentials."""
        def act(session):
            user = self.user(session, who)
            document = session.get(dm.Document, document_id)
            target = document.version(version) if version else document.latest
            credentials = Credentials(password=PASSWORD, username=user.username)
            doc_type = self.doc_type(document.type_key)
            if kind == "reject":
                return sig_ops.reject(session, acting(user), self.environment(), doc_type, user, document, target,
                                      credentials, reason=reason or "", step=step)
            return sig_ops.sign(session, acting(user), self.environment(), doc_type, user, document, target,
                                credentials, step=step, comment=comment)
        return self.run(act)

    def refused(self, document_id: int, step: str, who: str, expected: type[SigningRefused] = SigningRefused,
                match: str | Iterable[str] = (), *, version: int | None = None, kind: str = "sign",
                reason: str | None = None) -> Refusal:
        """The attempt must be refused with `expected`, its message containing every `match`; nothing is
        signed, and the refusal is in the audit trail with its reason, against the document and the case."""
        before_signatures, before_seq = self.signature_count(), self.last_event_seq()
        try:
            self.sign(document_id, step, who, version=version, kind=kind, reason=reason)
        except SigningRefused as error:
            refusal_error = error
        else:
            raise AssertionError(f"{who} was allowed to sign {step} of document #{document_id}")
        assert isinstance(refusal_error, expected), (type(refusal_error).__name__, str(refusal_error))
        message = str(refusal_error)
        for text in [match] if isinstance(match, str) else match:
            assert text in message, (text, message)
        assert self.signature_count() == before_signatures, "a refused attempt left a signature"
        events = self.events("signature.refused", document_id=document_id, after=before_seq)
        assert len(events) == 1, [e.action for e in events]
        event = events[0]
        assert event.actor_id == self.ids[who] and message in (event.reason or ""), (event.reason, message)
        assert event.case_id == (str(self.case_id) if self.case_id is not None else None)
        attempt = json.loads(event.changes)["attempt"]["new"]
        assert attempt["step"] == step and attempt["kind"] == ("rejection" if kind == "reject" else "signature"), attempt
        refusal = Refusal(refusal_error, event)
        self.refusals.append(refusal)
        return refusal

    def signed(self, document_id: int, version: int | None = None) -> dict[str, list[int]]:
        """{step name: signer ids} of a version's signatures."""
        with self.services.sessions() as session:
            document = session.get(dm.Document, document_id)
            target = document.version(version) if version else document.latest
            rows = session.execute(select(Signature.step, Signature.signer_id).where(
                Signature.version_id == target.id, Signature.kind == "signature").order_by(Signature.id)).all()
        result: dict[str, list[int]] = {}
        for name, signer in rows:
            result.setdefault(name, []).append(signer)
        return result

    def signer_for(self, document_id: int, step) -> str:
        """A person the routing rules allow for `step` of the document's latest version."""
        document = self.document(document_id)
        roles = step_roles(step)
        signed = self.signed(document_id)
        others = {signer for name, signers in signed.items() if name != step.name for signer in signers}
        authors = {document.owner_id, document.latest.created_by}
        if "physician" in roles and self.physician is not None:
            return self.physician  # physician steps of a case: always its treating physician
        for role in roles:
            for username in self.people(role):
                uid = self.ids[username]
                if uid in signed.get(step.name, []):
                    continue
                if uid in others and not step.allow_same_signer:
                    continue
                if uid in authors and step.meaning == APPROVED_MEANING:
                    continue
                return username
        raise AssertionError(f"no one left to sign {step.name}")

    def sign_all(self, document_id: int, *, probe: bool = True) -> list[str]:
        """Every step of the latest version in definition order, each by an allowed person; with `probe`,
        first the attempts that must be refused at that point. Returns the signature ids."""
        document = self.document(document_id)
        doc_type = self.doc_type(document.type_key)
        made = []
        for index, step in enumerate(doc_type.steps):
            for _ in range(step.approvals):
                who = self.signer_for(document_id, step)
                if probe:
                    self.probe(document_id, doc_type, index)
                made.append(self.sign(document_id, step.name, who).signature_id)
        assert self.version_status(document_id) == dm.APPROVED
        return made

    def probe(self, document_id: int, doc_type: DocumentType, index: int) -> None:
        """The refusals due just before step `index` is signed (21 CFR 11.10(f) sequence, 11.10(g) authority)."""
        step = doc_type.steps[index]
        roles = step_roles(step)
        signed = self.signed(document_id)
        document = self.document(document_id)
        # Sequence: a later step that is not open yet (it follows a step still unsigned).
        complete = {s.name for s in doc_type.steps if len(signed.get(s.name, [])) >= s.approvals}
        for later in doc_type.steps[index + 1:]:
            after = getattr(later, "after", None)
            if after is None:  # serial steps (before `after` existed): every earlier step
                after = [s.name for s in doc_type.steps[:doc_type.steps.index(later)]]
            if not all(name in complete for name in after) and later.name not in complete:
                self.refused(document_id, later.name, self.signer_for(document_id, later), SequenceRefused,
                             "not due yet")
                break
        # Authority: a person without any of the step's roles.
        outsider = next(username for role in ("physician", "qa", "author", "regulatory")
                        if role not in roles for username in self.people(role))
        self.refused(document_id, step.name, outsider, AuthorityRefused, "Only holders of the role")
        # Named signer: another physician than the case's (when the step names the case's physician).
        if names_case_physician(step) and self.physician is not None:
            other = next(name for name in self.people("physician") if name != self.physician)
            self.refused(document_id, step.name, other, AuthorityRefused, "delegated")
        # Segregation of duties: the author never approves their own record.
        owner = next((name for name, uid in self.ids.items() if uid == document.owner_id), None)
        if step.meaning == APPROVED_MEANING and owner is not None and set(roles) & set(self._roles_of(owner)):
            self.refused(document_id, step.name, owner, AuthorityRefused, "cannot approve")
        # One person, one step of a version (unless the type allows the same signer).
        if not step.allow_same_signer:
            earlier = [uid for name, signers in signed.items() if name != step.name for uid in signers
                       if uid != document.owner_id]
            for uid in earlier:
                username = next(name for name, value in self.ids.items() if value == uid)
                if set(roles) & set(self._roles_of(username)):
                    self.refused(document_id, step.name, username, AuthorityRefused, "one person may not sign two")
                    break

    def _roles_of(self, username: str) -> tuple[str, ...]:
        return tuple(role for role, people in CAST.items() if any(p[0] == username for p in people))

    def gate_closed(self, document_id: int, *missing: str) -> Refusal:
        """Signing the record's first step, by its rightful signer, is refused by the case gate, naming
        each missing prerequisite (document type names)."""
        doc_type = self.doc_type(self.document(document_id).type_key)
        first = doc_type.steps[0]
        return self.refused(document_id, first.name, self.signer_for(document_id, first), SequenceRefused,
                            ["cannot be signed yet", *missing])

    def reject_without_reason(self, document_id: int, step: str, who: str) -> Refusal:
        return self.refused(document_id, step, who, InvalidRequest, "A reason is required", kind="reject", reason="  ")

