"""Whether every remaining step of a version can still be signed by the people active and ready now.

Pure (no database): it takes a type's steps, the signatures so far, the case's named people and, for each
person who holds a role of the steps (or acts for a named person), what stops them signing in that role
now (deactivated, locked, untrained, certificate revoked...). Who may sign what is decided by
`edms.workflow.routing.authority` itself, so this analysis and the signing ceremony never disagree about
separation of duties (the author never approves; one person signs one step unless the type allows more;
named-physician steps).

The answer is a search: is there an order of signatures, each by a person allowed and ready, that
completes every step? If not, the first step that cannot be completed is named, with each role holder
and why they cannot sign it, and what would unblock it (delegate, train or grant another signer,
unlock, withdraw and revise).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from edms.definitions import LocalizedText
from edms.documents.types import SIGNING_ROLES, SignatureStep
from edms.workflow import routing
from edms.workflow.refusals import SigningRefused

# Why a person cannot sign (codes, shown through their messages).
INACTIVE = "inactive"
LOCKED = "locked"
IDENTITY = "identity"
TRAINING = "training"
CERTIFICATE = "certificate"
ROLE = "role"
AUTHOR = "author"
SIGNED_OTHER = "signed_other"
ALREADY_SIGNED = "already_signed"
NOT_NAMED = "not_named"
NOBODY_NAMED = "nobody_named"
NEEDED_ELSEWHERE = "needed_elsewhere"

# What would unblock a step.
DELEGATE = "delegate"
TRAIN = "train"
GRANT = "grant"
UNLOCK = "unlock"
NEW_PASSWORD = "new_password"
VERIFY_IDENTITY = "verify_identity"
REVISE = "revise"
NAME_PHYSICIAN = "name_physician"


@dataclass(frozen=True)
class Reason:
    """One sentence (or phrase) for people, in both languages, with a code for machines."""

    code: str
    text: LocalizedText

    def __str__(self) -> str:
        return self.text.en


def _t(en: str, ja: str) -> LocalizedText:
    return LocalizedText(en, ja)


@dataclass(frozen=True)
class Person:
    """Someone who might sign: their roles, whom they act for now, and what stops them signing in each role
    (`unready[role]`, empty when ready)."""

    user_id: int
    printed_name: str
    roles: frozenset[str]
    acting_for: Mapping[int, frozenset[str]] = field(default_factory=dict)
    unready: Mapping[str, tuple[Reason, ...]] = field(default_factory=dict)

    def problems(self, role: str) -> tuple[Reason, ...]:
        return self.unready.get(role, ())


@dataclass(frozen=True)
class Obstacle:
    """Why one person cannot sign the blocked step."""

    user_id: int
    printed_name: str
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class BlockedStep:
    step: SignatureStep
    remaining: int  # signatures the step still needs
    obstacles: tuple[Obstacle, ...]  # every role holder (or named person) and why they cannot sign
    missing: Reason  # who is missing, in one sentence
    advice: tuple[Reason, ...]  # what would unblock it


@dataclass(frozen=True)
class Completability:
    completable: bool
    blocked: BlockedStep | None = None  # the first step that cannot be completed (None when completable)

    @property
    def stuck(self) -> bool:
        return not self.completable


COMPLETE = Completability(True)


def analyse(steps: Sequence[SignatureStep], signed: Sequence[routing.StepSignature], people: Sequence[Person], *,
            author_ids: frozenset[int], named: Mapping[str, routing.NamedPerson | None]) -> Completability:
    """Can every remaining step be completed by `people` as they are now?"""
    signed = tuple(signed)
    if routing.is_complete(steps, signed):
        return COMPLETE
    search = _Search(steps, people, author_ids, named)
    if search.completable(frozenset((s.step, s.signer_id) for s in signed)):
        return COMPLETE
    return Completability(False, _explain(steps, signed, people, author_ids, named))


def signer_of(person: Person, author_ids: frozenset[int]) -> routing.Signer:
    return routing.Signer(person.user_id, person.roles, person.user_id in author_ids, person.acting_for)


def may_sign_now(states: Sequence[routing.StepProgress], target: routing.StepProgress, person: Person,
                 author_ids: frozenset[int], named: Mapping[str, routing.NamedPerson | None]) -> bool:
    """Allowed by the routing rules and ready in the role they would sign in."""
    try:
        grounds = routing.authority(states, target, signer_of(person, author_ids), named)
    except SigningRefused:
        return False
    return not person.problems(grounds.role)


class _Search:
    """Depth-first search over signatures, one at a time, memoised on the set of (step, signer)."""

    def __init__(self, steps: Sequence[SignatureStep], people: Sequence[Person], author_ids: frozenset[int],
                 named: Mapping[str, routing.NamedPerson | None]) -> None:
        self.steps, self.people, self.author_ids, self.named = steps, people, author_ids, named
        self.seen: dict[frozenset[tuple[str, int]], bool] = {}

    def completable(self, signed: frozenset[tuple[str, int]]) -> bool:
        if signed in self.seen:
            return self.seen[signed]
        self.seen[signed] = False  # no cycles: each move adds a signature
        signatures = [routing.StepSignature(step, uid) for step, uid in sorted(signed)]
        states = routing.progress(self.steps, signatures)
        if all(item.complete for item in states):
            self.seen[signed] = True
            return True
        involved = {uid for _step, uid in signed}
        for target in (item for item in states if item.due):
            tried: set[object] = set()
            for person in self.people:
                # People alike in everything routing looks at, and not yet signing, are interchangeable.
                profile = None if person.user_id in involved else (
                    person.roles, tuple(sorted((k, tuple(sorted(v))) for k, v in person.acting_for.items())),
                    person.user_id in self.author_ids, tuple(sorted((r, bool(p)) for r, p in person.unready.items())),
                    any(n is not None and n.user_id == person.user_id for n in self.named.values()))
                if profile is not None and profile in tried:
                    continue
                if profile is not None:
                    tried.add(profile)
                if not may_sign_now(states, target, person, self.author_ids, self.named):
                    continue
                if self.completable(signed | {(target.step.name, person.user_id)}):
                    self.seen[signed] = True
                    return True
        return False


def _explain(steps: Sequence[SignatureStep], signed: tuple[routing.StepSignature, ...], people: Sequence[Person],
             author_ids: frozenset[int], named: Mapping[str, routing.NamedPerson | None]) -> BlockedStep:
    """The first incomplete step too few people may sign now; else (every step has someone, but not enough
    different people for all of them) the last incomplete one."""
    states = routing.progress(steps, signed)
    incomplete = [item for item in states if not item.complete]
    for target in incomplete:
        able = [p for p in people if may_sign_now(states, target, p, author_ids, named)]
        if len(able) < target.remaining:
            return _blocked(states, target, people, author_ids, named)
    return _blocked(states, incomplete[-1], people, author_ids, named, joint=True)


def _blocked(states: Sequence[routing.StepProgress], target: routing.StepProgress, people: Sequence[Person],
             author_ids: frozenset[int], named: Mapping[str, routing.NamedPerson | None], *,
             joint: bool = False) -> BlockedStep:
    """`joint`: each step alone has someone who may sign it, but not enough different people for all of them;
    those who could sign this step are then needed for another."""
    step = target.step
    obstacles: list[Obstacle] = []
    advice: list[Reason] = []
    is_named = step.signer is not None and step.signer in named
    person_named = named.get(step.signer) if step.signer is not None else None
    if is_named and person_named is None:
        obstacles.append(Obstacle(0, "", (Reason(NOBODY_NAMED, _t(
            "no treating physician is recorded on the case", "症例に担当医師が記録されていません")),)))
        advice.append(Reason(NAME_PHYSICIAN, _t("Record the case's treating physician.", "症例の担当医師を記録してください。")))
    elsewhere = Reason(NEEDED_ELSEWHERE, _t(
        "needed for another step of this version, and one person may not sign two of its steps",
        "この版の他のステップに必要であり、同一人が二つのステップに署名することはできません"))
    for person in people:
        if joint and may_sign_now(states, target, person, author_ids, named):
            obstacles.append(Obstacle(person.user_id, person.printed_name, (elsewhere,)))
            continue
        reasons = _why_not(states, target, person, author_ids, named)
        if not reasons:
            continue
        obstacles.append(Obstacle(person.user_id, person.printed_name, reasons))
        advice.extend(_readiness_advice(step, person, {r.code for r in reasons}))
    if person_named is not None and any(
            o.user_id == person_named.user_id and {r.code for r in o.reasons} & READINESS for o in obstacles):
        name = person_named.printed_name
        advice.append(Reason(DELEGATE, _t(
            f"{name} (or an administrator, if they are absent) delegates the step to another physician who is ready "
            "to sign.",
            f"{name}（不在の場合は管理者）が、署名の準備が整った他の医師にこのステップを委任してください。")))
    if not is_named:
        advice.append(_grant(step))
    if any(r.code in (SIGNED_OTHER, ALREADY_SIGNED) for o in obstacles for r in o.reasons):
        advice.append(_revise())
    return BlockedStep(step, target.remaining, tuple(obstacles), _missing(step, person_named), tuple(advice))


# Obstacles that someone else can remove without changing the record.
READINESS = frozenset({INACTIVE, LOCKED, TRAINING, CERTIFICATE, IDENTITY})


def _readiness_advice(step: SignatureStep, person: Person, codes: set[str]) -> list[Reason]:
    """What would make this person able to sign, where only their readiness stands in the way."""
    if not codes <= READINESS - {INACTIVE}:
        return []
    name, role = person.printed_name, roles_text((_role_of(step, person),))
    advice = []
    if TRAINING in codes:
        advice.append(Reason(TRAIN, _t(f"Record current training for {name} as {role.en} on this type of record.",
                                       f"{name}について、この種類の記録の{role.ja}としての有効な教育訓練を記録してください。")))
    if LOCKED in codes:
        advice.append(Reason(UNLOCK, _t(f"An administrator unlocks the account of {name}.",
                                        f"管理者が{name}のアカウントのロックを解除してください。")))
    if CERTIFICATE in codes:
        advice.append(Reason(NEW_PASSWORD, _t(
            f"{name} signs in and chooses a new password: a new signing certificate is issued at their next signature.",
            f"{name}がサインインして新しいパスワードを設定してください。次回の署名時に新しい署名用証明書が発行されます。")))
    if IDENTITY in codes:
        advice.append(Reason(VERIFY_IDENTITY, _t(
            f"A second administrator records the identity check of {name}.",
            f"別の管理者が{name}の本人確認を記録してください。")))
    return advice


def _why_not(states: Sequence[routing.StepProgress], target: routing.StepProgress, person: Person,
             author_ids: frozenset[int], named: Mapping[str, routing.NamedPerson | None]) -> tuple[Reason, ...]:
    """Why `person` cannot sign `target` now (empty if they can); people without any role of the step, and
    other physicians than the named one and those acting for them, are left out (empty)."""
    step = target.step
    role = next((r for r in step.roles if r in person.roles), None)
    if role is None:
        return ()
    if step.signer is not None and step.signer in named:
        named_person = named[step.signer]
        if named_person is None:
            return ()
        if named_person.user_id != person.user_id and role not in person.acting_for.get(named_person.user_id, frozenset()):
            return ()
    reasons: list[Reason] = []
    signer = signer_of(person, author_ids)
    problem = routing.authority_problem(states, target, signer, named)
    if problem is not None:
        other = next((o for o in states if o is not target and person.user_id in o.signer_ids), None)
        if person.user_id in target.signer_ids:
            reasons.append(Reason(ALREADY_SIGNED, _t("already signed this step", "このステップに署名済みです")))
        elif signer.is_author and step.meaning == routing.APPROVAL_MEANING:
            reasons.append(Reason(AUTHOR, _t("wrote this record, and the author may not approve it",
                                             "この記録の作成者であり、作成者は承認できません")))
        elif other is not None and not step.allow_same_signer:
            label = other.step.label
            reasons.append(Reason(SIGNED_OTHER, _t(f"signed the step {label.en}, and one person may not sign two steps",
                                                   f"ステップ「{label.ja}」に署名しており、同一人が二つのステップに署名することはできません")))
        else:
            reasons.append(Reason(ROLE, _t(str(problem), str(problem))))
    reasons.extend(person.problems(role))
    return tuple(reasons)


def roles_text(roles: Sequence[str]) -> LocalizedText:
    labels = [SIGNING_ROLES.get(role, LocalizedText(role, role)) for role in roles]
    return LocalizedText(" / ".join(t.en for t in labels), " / ".join(t.ja for t in labels))


def _role_of(step: SignatureStep, person: Person) -> str:
    return next((r for r in step.roles if r in person.roles), step.roles[0])


def _missing(step: SignatureStep, person: routing.NamedPerson | None = None) -> Reason:
    label = step.label
    if person is not None:
        return Reason("missing", _t(f"{person.printed_name}, or a physician they delegated to, ready to sign the step "
                                    f"{label.en}.",
                                    f"ステップ「{label.ja}」に署名できる{person.printed_name}、又はその委任を受けた医師。"))
    role = roles_text(step.roles)
    return Reason("missing", _t(f"Another holder of the role {role.en}, active and trained, who has neither written nor "
                                f"signed this version, to sign the step {label.en}.",
                                f"ステップ「{label.ja}」に署名する、この版を作成も署名もしていない、有効な教育訓練を受けた"
                                f"{role.ja}の担当者。"))


def _grant(step: SignatureStep) -> Reason:
    role = roles_text(step.roles)
    return Reason(GRANT, _t(f"Grant the role {role.en} to another person and record their training.",
                            f"他の者に{role.ja}の役割を付与し、その教育訓練を記録してください。"))


def _revise() -> Reason:
    return Reason(REVISE, _t("Withdraw this version and revise it: a new version starts without signatures.",
                             "この版を取り下げて改訂してください。新しい版は署名のない状態から始まります。"))


def summary(blocked: BlockedStep) -> LocalizedText:
    """The whole explanation as one text per language: the step, who is missing, who cannot sign and why,
    and what would unblock it."""
    label = blocked.step.label
    people_en = "; ".join(f"{o.printed_name}: {', '.join(r.text.en for r in o.reasons)}" if o.printed_name
                          else ", ".join(r.text.en for r in o.reasons) for o in blocked.obstacles)
    people_ja = "。".join(f"{o.printed_name}：{'、'.join(r.text.ja for r in o.reasons)}" if o.printed_name
                          else "、".join(r.text.ja for r in o.reasons) for o in blocked.obstacles)
    advice_en = " ".join(a.text.en for a in blocked.advice)
    advice_ja = "".join(a.text.ja for a in blocked.advice)
    return _t(f"Nobody active and ready now can sign the step {label.en}. Missing: {blocked.missing.text.en} "
              f"Who cannot sign: {people_en or 'nobody holds the role'}. To unblock: {advice_en}",
              f"現在有効で署名の準備が整った者の中に、ステップ「{label.ja}」に署名できる者がいません。"
              f"不足：{blocked.missing.text.ja}署名できない者：{people_ja or 'この役割の担当者がいません'}。"
              f"解消するには：{advice_ja}")
