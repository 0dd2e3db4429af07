"""Which step of a version is due and who may sign it: serial steps as the document type defines them.

Pure (no database): it takes the type's steps and the signatures already made. Everything about the order
of signing lives here (21 CFR 11.10(f) sequence, 11.10(g) authority), so that a later, general workflow
engine replaces this module and nothing else.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from edms.documents.types import SignatureStep
from edms.errors import N_
from edms.signatures.errors import AuthorityRefused, SequenceRefused, SigningRefused
from edms.users.roles import ADMIN, INSPECTOR

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

    @property
    def complete(self) -> bool:
        return len(self.signer_ids) >= self.step.approvals

    @property
    def remaining(self) -> int:
        return max(0, self.step.approvals - len(self.signer_ids))


@dataclass(frozen=True)
class Signer:
    user_id: int
    roles: frozenset[str]
    is_author: bool  # created the version or owns the document


def progress(steps: Sequence[SignatureStep], signed: Iterable[StepSignature]) -> list[StepProgress]:
    signed = list(signed)
    return [
        StepProgress(step, tuple(s.signer_id for s in signed if s.step == step.name))
        for step in steps
    ]


def due(steps: Sequence[SignatureStep], signed: Iterable[StepSignature]) -> StepProgress | None:
    """The first incomplete step in definition order; None once every step is complete."""
    return next((item for item in progress(steps, signed) if not item.complete), None)


def resolve(steps: Sequence[SignatureStep], signed: Iterable[StepSignature], *,
            step_name: str | None = None, meaning: str | None = None) -> StepProgress:
    """The step the signer asks for (by name or by meaning), which must be the one due now."""
    states = progress(steps, signed)
    current = next((item for item in states if not item.complete), None)
    if step_name:
        wanted = [item for item in states if item.step.name == step_name]
        if not wanted:
            raise SequenceRefused(N_("This document type has no signing step %(step)s."), step=step_name)
    elif meaning:
        wanted = [item for item in states if item.step.meaning == meaning]
        if not wanted:
            raise SequenceRefused(N_("No step of this document type is signed with the meaning %(meaning)s."),
                                  meaning=meaning)
    elif current is not None:
        wanted = [current]
    else:
        wanted = []
    if current is None:
        raise SequenceRefused(N_("Every signing step of this version is complete: there is nothing left to sign."))
    if current in wanted:
        return current
    target = next((item for item in wanted if not item.complete), wanted[0])
    if target.complete:
        raise SequenceRefused(N_("The step %(step)s is already complete."), step=target.step.label.en)
    raise SequenceRefused(N_("The step %(step)s is not due yet: %(due)s must be signed first."),
                          step=target.step.label.en, due=current.step.label.en)


def authority_problem(states: Sequence[StepProgress], target: StepProgress, signer: Signer) -> SigningRefused | None:
    """Why `signer` may not sign `target` (None if they may)."""
    step = target.step
    if signer.roles & {ADMIN, INSPECTOR}:
        return AuthorityRefused(N_("Administrator and inspector accounts can never sign."))
    if step.role not in signer.roles:
        return AuthorityRefused(N_("Only holders of the role %(role)s may sign the step %(step)s."),
                                role=step.role, step=step.label.en)
    if signer.user_id in target.signer_ids:
        return AuthorityRefused(N_("You have already signed the step %(step)s of this version."), step=step.label.en)
    if signer.is_author and step.meaning == APPROVAL_MEANING:
        return AuthorityRefused(N_("The author of a document cannot approve it."))
    if not step.allow_same_signer:
        for other in states:
            if other is not target and signer.user_id in other.signer_ids:
                return AuthorityRefused(
                    N_("You signed the step %(other)s of this version: one person may not sign two of its steps."),
                    other=other.step.label.en)
    return None
