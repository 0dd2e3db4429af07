"""The signatures the audit trail records, kept out of memory during a verification run (issue #15): what
a run takes out is what was recorded, what is left was recorded and is no longer stored, and the scratch
file goes with the run."""
from __future__ import annotations

from pathlib import Path

from edms.signatures.recorded import RecordedSignatures


def test_a_stored_signature_is_found_once_and_what_is_left_was_removed_in_event_order():
    with RecordedSignatures() as recorded:
        recorded.add((f"sig-{n:04d}", 10 + n) for n in range(1_200))
        assert recorded.take([f"sig-{n:04d}" for n in range(0, 1_200, 2)] + ["never-recorded"]) == {
            f"sig-{n:04d}" for n in range(0, 1_200, 2)}
        assert recorded.take(["sig-0000"]) == set()  # taken already: a second row with the same id is not recorded
        assert list(recorded.remaining()) == [(f"sig-{n:04d}", 10 + n) for n in range(1, 1_200, 2)]


def test_a_later_event_recording_the_same_signature_is_the_one_reported():
    with RecordedSignatures() as recorded:
        recorded.add([("sig-a", 5), ("sig-b", 6), ("sig-a", 9)])
        assert list(recorded.remaining()) == [("sig-b", 6), ("sig-a", 9)]


def test_the_scratch_file_is_removed_with_the_run():
    recorded = RecordedSignatures()
    directory = Path(recorded._directory.name)
    assert directory.is_dir()
    recorded.close()
    assert not directory.exists()
