"""The PDF renditions of a record: the frozen PDF made at submission and the printable copy, from fonts cut down
to what they print (edms.documents.renditions.font_subset) against the whole fonts, in the same run.

    .venv/bin/python benches/bench_renditions.py --repeat 10

An OOS notification in Japanese (the Japanese font and the symbols' fallback font embedded). Each figure is the
median CPU time of `--repeat` renderings in this process, after one warm-up (fonts' code points read once per
process). The ratio is the whole fonts' time over the cut-down fonts': how much faster a submission's PDF is.

Prints one JSON line per figure: {"bench": "renditions", "figure": ..., "value": ..., "unit": ...}.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

ROOT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT_DIR))

from edms.config import FORMS_DIR  # noqa: E402
from edms.documents.renditions import Rendition, render_pdf  # noqa: E402
from edms.documents.renditions.frozen import render_frozen_pdf  # noqa: E402
from edms.documents.types import load_document_types  # noqa: E402
from tests.support.examples import VALUES  # noqa: E402


def emit(figure: str, value: float, unit: str) -> None:
    print(json.dumps({"bench": "renditions", "figure": figure, "value": value, "unit": unit}))


def cpu(action, repeat: int) -> float:
    """The median CPU seconds of `repeat` runs of `action`, after one run not counted."""
    action()
    durations = []
    for _ in range(repeat):
        start = time.process_time()
        action()
        durations.append(time.process_time() - start)
    return statistics.median(durations)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10, help="renderings timed of each kind")
    args = parser.parse_args()
    now = datetime.now(UTC)
    doc_type = load_document_types(FORMS_DIR)["oos_notification"]
    rendition = Rendition(doc_type=doc_type, number="OOS-2026-0001", title="OOS notification, lot L2026-0412",
                          version=1, status="in_review", content_sha256="0" * 64,
                          values=VALUES["oos_notification"], generated_at=now, language="ja",
                          display_tz="Asia/Tokyo")
    for name, make in (("frozen_pdf", lambda whole: render_frozen_pdf(rendition, doc_type.steps, now,
                                                                       whole_font=whole)),
                       ("rendition_pdf", lambda whole: render_pdf(rendition, whole_font=whole))):
        whole = cpu(partial(make, True), args.repeat)
        cut = cpu(partial(make, False), args.repeat)
        emit(f"{name}_whole_fonts", round(whole * 1000, 1), "ms CPU")
        emit(f"{name}_cut_down_fonts", round(cut * 1000, 1), "ms CPU")
        emit(f"{name}_speedup", round(whole / cut, 2), "x")


if __name__ == "__main__":
    main()
