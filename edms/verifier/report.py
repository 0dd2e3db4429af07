"""What the offline verifier prints: one PASS or FAIL line per item, then the result."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from edms.verifier.errors import Invalid

_Result = TypeVar("_Result")


@dataclass(frozen=True)
class Item:
    ok: bool
    name: str
    detail: str

    def line(self) -> str:
        return f"{'PASS' if self.ok else 'FAIL'}  {self.name}: {self.detail}"


@dataclass
class Report:
    items: list[Item] = field(default_factory=list)

    def add(self, ok: bool, name: str, detail: str) -> Item:
        item = Item(ok, name, detail)
        self.items.append(item)
        return item

    @property
    def ok(self) -> bool:
        return bool(self.items) and all(item.ok for item in self.items)

    @property
    def failures(self) -> list[Item]:
        return [item for item in self.items if not item.ok]

    def check(self, name: str, check: Callable[[], _Result], success: Callable[[_Result], str]) -> _Result | None:
        """Run one check; a pass reports `success(result)`, any failure its reason. The result, or None.

        Whatever the input, a check ends as a line: a malformed package is a FAIL naming what is wrong,
        never a crash of the verifier."""
        try:
            result = check()
            detail = success(result)
        except Invalid as exc:
            self.add(False, name, str(exc))
            return None
        except Exception as exc:  # noqa: BLE001 (any surprise in a hostile package is that item's failure)
            self.add(False, name, f"malformed ({type(exc).__name__}: {exc})")
            return None
        self.add(True, name, detail)
        return result


def render(report: Report, *, verbose: bool = False) -> Iterable[str]:
    for item in report.items:
        if verbose or not item.ok or not item.name.startswith("file "):
            yield item.line()
    if report.ok:
        yield f"RESULT: PASS: all {len(report.items)} items verified"
    else:
        yield f"RESULT: FAIL: {len(report.failures)} of {len(report.items)} items failed"
