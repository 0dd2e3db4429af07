"""The integrity run's fast path computes exactly the reference hashes; its report and its checks behave as promised."""
import random
import string

import pytest
from sqlalchemy import text

from edms.application.integrity import CHECKS, check_integrity
from edms.audit.chain import HASHED_FIELDS, event_hash
from edms.audit.integrity import MAX_PROBLEMS_KEPT, Check, batch_hashes, canonical_time, run_checks
from edms.db import make_engine
from edms.migrate import upgrade

SORTED = tuple(sorted(HASHED_FIELDS))
NASTY = "日本語\u2028\u00e9\x00\x1f\x7f\"\\\n\t,}{\"action\":%s%%\ud7ff\U0001f600"


def random_value(rng):
    kind = rng.randrange(4)
    if kind == 0:
        return None
    if kind == 1:
        return rng.randint(-(2**53) + 1, 2**53 - 1)
    alphabet = string.printable + NASTY
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))


def as_row(fields, stored_hash):
    return tuple(fields[name] for name in SORTED) + (stored_hash,)


@pytest.mark.req("11.10(a)")
def test_batch_hashing_equals_the_reference_event_hash_for_every_kind_of_value():
    rng = random.Random(20261125)
    rows, expected, times = [], [], []
    for _ in range(2000):
        fields = {name: random_value(rng) for name in HASHED_FIELDS}
        fields["occurred_at"] = f"2026-11-25T{rng.randrange(24):02d}:00:00.{rng.randrange(10**6):06d}Z"
        expected.append(event_hash(fields))
        rows.append(as_row(fields, "stored hash is not hashed"))
        times.append(fields["occurred_at"])
    assert batch_hashes(rows, times) == expected


@pytest.mark.req("11.10(a)")
def test_batch_hashing_of_plain_columns_equals_the_reference_and_one_hostile_value_changes_nothing():
    """Columns of plain text or integers skip JSON encoding; a single value needing it switches its column."""
    def plain(number):
        return {"seq": number, "occurred_at": f"2026-11-25T10:00:00.{number:06d}Z", "actor_id": 7,
                "actor_name": "田中 明子", "action": "document.updated", "object_type": "document",
                "object_id": f"DOC-{number}", "document_version": 2, "case_id": "OOS-2026-0007",
                "changes": '{"title":{"new":"b","old":"a"}}', "reason": "Lot number, added 100%",
                "request_id": "f" * 32, "client_addr": "10.0.0.9", "app_version": "0.1.0", "prev_hash": "a" * 64}

    batches = [[plain(number) for number in range(1, 50)]]
    for name, hostile in (("reason", 'said "no"\n'), ("actor_id", None), ("object_id", 5), ("seq", True),
                          ("actor_name", "back\\slash"), ("document_version", "2")):
        batch = [plain(number) for number in range(1, 50)]
        batch[17][name] = hostile
        batches.append(batch)
    for batch in batches:
        rows = [as_row(fields, "h") for fields in batch]
        assert batch_hashes(rows, [fields["occurred_at"] for fields in batch]) == [event_hash(f) for f in batch]


def test_binary_data_cannot_be_hashed_as_an_event():
    fields = {name: "x" for name in HASHED_FIELDS}
    fields["reason"] = b"binary"
    with pytest.raises(TypeError):
        batch_hashes([as_row(fields, "h")], ["2026-01-01T00:00:00.000000Z"])


@pytest.mark.req("ALCOA+")
def test_only_times_in_the_exact_stored_form_are_accepted_on_sqlite():
    assert canonical_time("sqlite", "2026-11-25 20:16:00.123456") == "2026-11-25T20:16:00.123456Z"
    for forged in ("2026-11-25T20:16:00.123456", "2026-11-25 20:16:00", "2026-11-25 20:16:00.123456+00:00",
                   "２０２６-11-25 20:16:00.123456", "2026-11-25 20:16:00.123456 ", None, 20261125, b"2026"):
        assert canonical_time("sqlite", forged) is None, forged
    assert canonical_time("postgresql", "2026-11-25T20:16:00.123456Z") == "2026-11-25T20:16:00.123456Z"


@pytest.fixture
def empty_database(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'verify.sqlite3'}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def extra_check():
    """A check added after the real ones for one test only, as a later domain would add its own; the test's
    `verify(engine)` runs them all."""
    added: list[Check] = []

    def add(name, function):
        assert name not in {check.name for check in CHECKS}
        added.append(Check(name, function, "test check"))

    def verify(engine, **options):
        return run_checks(engine, (*CHECKS, *added), **options)

    add.verify = verify
    return add


def test_an_empty_trail_verifies_and_the_audit_chain_is_checked_first(empty_database):
    report = check_integrity(empty_database)
    assert report.ok and report.checks[:2] == ["audit_chain", "audit_checkpoints"]
    assert report.chain_head is None and report.first_problem is None
    assert report.to_dict()["ok"] is True


@pytest.mark.req("11.10(a)")
def test_a_registered_check_runs_on_the_same_snapshot_and_its_problems_fail_the_run(empty_database, extra_check):
    seen = {}

    def test_files(run):
        seen["one"] = run.connection.execute(text("SELECT 1")).scalar()
        run.examined("document_file", 3)
        run.problem("document_file", "id 2", "stored hash %(stored)s differs from the file's %(actual)s",
                    stored="ab", actual="cd")

    extra_check("test_files", test_files)
    report = extra_check.verify(empty_database)
    assert seen == {"one": 1}
    assert report.checks[-1] == "test_files" and report.counts["document_file"] == 3
    assert not report.ok
    assert report.first_problem.describe() == "document_file id 2: stored hash ab differs from the file's cd"
    assert "FAILED: 1 problem(s)" in report.summary()


def test_a_check_that_crashes_is_a_failure_never_a_pass(empty_database, extra_check):
    def broken(run):
        raise RuntimeError("disk unreadable")

    extra_check("test_broken", broken)
    report = extra_check.verify(empty_database)
    assert not report.ok
    assert report.first_problem.describe() == "check test_broken: the check could not run: RuntimeError: disk unreadable"


def test_only_a_bounded_number_of_problems_is_kept_but_all_are_counted(empty_database, extra_check):
    def everything_broken(run):
        for number in range(5 * MAX_PROBLEMS_KEPT):
            run.problem("document_file", f"id {number}", "damaged")

    extra_check("test_everything_broken", everything_broken)
    report = extra_check.verify(empty_database, only={"test_everything_broken"})
    assert report.problem_count == 5 * MAX_PROBLEMS_KEPT
    assert len(report.problems) == MAX_PROBLEMS_KEPT
    assert report.first_problem.key == "id 0"
