"""Which steps of a version are open and who may sign them: the routing rules of the document types.

Pure (no database): it takes a type's steps, the signatures already made and facts about the would-be
signer. Everything about the order of signing (21 CFR 11.10(f) sequence) and who may sign (11.10(g)
authority, segregation of duties, named people and their delegates) lives here, so that the ceremony,
the inbox and the pages can never disagree about it.

A step is open when every step it follows (`after`) is complete; steps that follow the same steps are
parallel. A step is complete when `approvals` different people signed it. The version is complete when
every step is.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from edms.documents.types import SignatureStep
from edms.errors import N_
from edms.users.roles import ADMIN, INSPECTOR
from edms.workflow.refusals import AuthorityRefused, SequenceRefused, SigningRefused

# The meaning whose signature makes a record effective: never given by its own author.
APPROVAL_MEANING = "approved"


@dataclass(frozen=True)
class StepSignature:
    """An existing signature, as far as routing is concerned."""

    step: str
    signer_id: int


@dataclass(frozen=True)
class StepProgress:
    step: SignatureStep
    signer_ids: tuple[int, ...]
    open: bool = False  # every step it follows is complete

    @property
    def complete(self) -> bool:
        return len(self.signer_ids) >= self.step.approvals

    @property
    def remaining(self) -> int:
        return max(0, self.step.approvals - len(self.signer_ids))

    @property
    def due(self) -> bool:
        return self.open and not self.complete


@dataclass(frozen=True)
class NamedPerson:
    user_id: int
    printed_name: str


@dataclass(frozen=True)
class Signer:
    user_id: int
    roles: frozenset[str]
    is_author: bool  # created the version or owns the document
    # Who delegated to this person now, and for which roles: {delegator user id: roles}.
    acting_for: Mapping[int, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Authority:
    """The grounds on which a signer may sign a step: the role they sign in, and whom they act for."""

    role: str
    on_behalf_of: NamedPerson | None = None


def progress(steps: Sequence[SignatureStep], signed: Iterable[StepSignature]) -> list[StepProgress]:
    signed = list(signed)
    signers = {step.name: tuple(s.signer_id for s in signed if s.step == step.name) for step in steps}
    complete = {step.name for step in steps if len(signers[step.name]) >= step.approvals}
    return [StepProgress(step, signers[step.name], all(name in complete for name in step.after)) for step in steps]


def due_steps(steps: Sequence[SignatureStep], signed: Iterable[StepSignature]) -> list[StepProgress]:
    """The steps that may be signed now, in definition order."""
    return [item for item in progress(steps, signed) if item.due]


def is_complete(steps: Sequence[SignatureStep], signed: Iterable[StepSignature]) -> bool:
    return all(item.complete for item in progress(steps, signed))


def resolve(steps: Sequence[SignatureStep], signed: Iterable[StepSignature], *, step_name: str | None = None,
            meaning: str | None = None, signer: Signer | None = None,
            named: Mapping[str, NamedPerson | None] | None = None) -> StepProgress:
    """The step the signer asks for (by name or by meaning), which must be open now; without either,
    the first open step `signer` may sign (or simply the first open step)."""
    states = progress(steps, signed)
    open_now = [item for item in states if item.due]
    if step_name:
        wanted = [item for item in states if item.step.name == step_name]
        if not wanted:
            raise SequenceRefused(N_("This document type has no signing step %(step)s."), step=step_name)
    elif meaning:
        wanted = [item for item in states if item.step.meaning == meaning]
        if not wanted:
            raise SequenceRefused(N_("No step of this document type is signed with the meaning %(meaning)s."),
                                  meaning=meaning)
    else:
        mine = [item for item in open_now
                if signer is not None and authority_problem(states, item, signer, named or {}) is None]
        wanted = (mine or open_now)[:1]
    if not open_now:
        raise SequenceRefused(N_("Every signing step of this version is complete: there is nothing left to sign."))
    target = next((item for item in wanted if item.due), None)
    if target is not None:
        return target
    target = next((item for item in wanted if not item.complete), wanted[0])
    if target.complete:
        raise SequenceRefused(N_("The step %(step)s is already complete."), step=target.step.label.en)
    waiting = [item.step.label.en for item in states if item.step.name in target.step.after and not item.complete]
    raise SequenceRefused(N_("The step %(step)s is not due yet: %(due)s must be signed first."),
                          step=target.step.label.en, due=", ".join(waiting))


def authority(states: Sequence[StepProgress], target: StepProgress, signer: Signer,
              named: Mapping[str, NamedPerson | None]) -> Authority:
    """The grounds on which `signer` may sign `target`, or the refusal (raised).

    `named` maps the step's named signer (e.g. the case's physician) to that person; a key that is
    absent means the record has no such person to name (a document outside any case), so the role
    alone decides; a key mapped to None means the person should exist but is not recorded yet.
    """
    step = target.step
    if signer.roles & {ADMIN, INSPECTOR}:
        raise AuthorityRefused(N_("Administrator and inspector accounts can never sign."))
    role = next((role for role in step.roles if role in signer.roles), None)
    if role is None:
        raise AuthorityRefused(N_("Only holders of the role %(role)s may sign the step %(step)s."),
                               role=" / ".join(step.roles), step=step.label.en)
    on_behalf_of = None
    if step.signer is not None and step.signer in named:
        person = named[step.signer]
        if person is None:
            raise AuthorityRefused(N_("The step %(step)s is signed by a named person, and none is recorded yet: "
                                      "record the case's treating physician first."), step=step.label.en)
        if person.user_id != signer.user_id:
            if role not in signer.acting_for.get(person.user_id, frozenset()):
                raise AuthorityRefused(N_("Only %(person)s, or someone they delegated to, may sign the step %(step)s."),
                                       person=person.printed_name, step=step.label.en)
            on_behalf_of = person
    if signer.user_id in target.signer_ids:
        raise AuthorityRefused(N_("You have already signed the step %(step)s of this version."), step=step.label.en)
    if signer.is_author and step.meaning == APPROVAL_MEANING:
        raise AuthorityRefused(N_("The author of a document cannot approve it."))
    if not step.allow_same_signer:
        for other in states:
            if other is not target and signer.user_id in other.signer_ids:
                raise AuthorityRefused(
                    N_("You signed the step %(other)s of this version: one person may not sign two of its steps."),
                    other=other.step.label.en)
    return Authority(role, on_behalf_of)


def authority_problem(states: Sequence[StepProgress], target: StepProgress, signer: Signer,
                      named: Mapping[str, NamedPerson | None]) -> SigningRefused | None:
    """Why `signer` may not sign `target` (None if they may)."""
    try:
        authority(states, target, signer, named)
    except SigningRefused as refusal:
        return refusal
    return None
